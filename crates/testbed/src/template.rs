//! The SAM template as JSON, for tests that hold the template, the ASL and the code to each
//! other. Parsed by cfn-lint's own decoder so short-form intrinsics (`!Ref`, `!Sub`) survive.

use serde_json::Value;

use crate::paths;

/// `template.yaml` as a JSON value (decoded once per test process).
pub fn load() -> &'static Value {
    static TEMPLATE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(decode)
}

fn decode() -> Value {
    let root = paths::workspace_root();
    let out = std::process::Command::new(paths::python())
        .arg(root.join("crates/testbed/template_json.py"))
        .arg(root.join("template.yaml"))
        .output()
        .expect("run the template decoder");
    assert!(
        out.status.success(),
        "template.yaml does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("template JSON")
}

/// The template's resources of one type, as (logical id, resource).
pub fn resources_of<'a>(template: &'a Value, kind: &'a str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_object()
        .map(|r| {
            r.iter()
                .filter(|(_, v)| v["Type"] == kind)
                .map(|(k, v)| (k.as_str(), v))
                .collect()
        })
        .unwrap_or_default()
}
