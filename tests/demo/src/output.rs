//! What the delivery streams would have written to the stack's data bucket, left on disk for
//! `make query-check` (tests/queries/check.py) as `target/demo-output/data-bucket/<key>`.

use std::path::PathBuf;

use sluice_testbed::paths;

/// The data bucket's stand-in directory (check.py maps the template's `DataBucket` to it).
fn bucket_dir() -> PathBuf {
    paths::workspace_root().join("target/demo-output/data-bucket")
}

/// Removes what an earlier demo left under `prefix`.
pub fn clear(prefix: &str) {
    let _ = std::fs::remove_dir_all(bucket_dir().join(prefix));
}

/// Records a value the expected query results depend on (such as when the demo's log events
/// were written) in `target/demo-output/manifest.json`.
pub fn note(name: &str, value: &str) -> anyhow::Result<()> {
    let path = paths::workspace_root().join("target/demo-output/manifest.json");
    let mut manifest: serde_json::Map<String, serde_json::Value> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    manifest.insert(name.to_owned(), value.into());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(&manifest)?)?;
    Ok(())
}

/// Writes one object.
pub fn write(key: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = bucket_dir().join(key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)?;
    Ok(())
}
