//! Where the workspace, its tools and its built binaries are.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The git-ignored tool folder `scripts/bootstrap.sh` fills.
pub fn tools_dir() -> PathBuf {
    workspace_root().join(".tools")
}

/// A tool from `.tools/`, or a panic that says how to install it.
pub fn tool(relative: &str) -> PathBuf {
    let path = tools_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run `make tools` (scripts/bootstrap.sh) first",
        path.display()
    );
    path
}

/// The Python of the tool venv (moto, aws-encryption-sdk, …).
pub fn python() -> PathBuf {
    tool("venv/bin/python")
}

/// The Node ≥ 22 that the ASL runner needs.
pub fn node() -> PathBuf {
    tool("node/node_modules/.bin/node")
}

/// The built binary of a workspace package (`cargo build --bins` puts it beside the test
/// binaries' `deps/` folder, whatever `CARGO_TARGET_DIR` is).
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(|deps| {
            if deps.ends_with("deps") {
                deps.parent()
            } else {
                Some(deps)
            }
        })
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target/debug"));
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "binary {} is missing: build it first with `cargo build --bin {name}` (make test does)",
        path.display()
    );
    path
}
