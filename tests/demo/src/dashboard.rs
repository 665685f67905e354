//! The dashboard's metrics as this demo's runs produced them: every metric name each function
//! wrote in its EMF lines, and whether the stack's dashboard (`OperationsDashboard`) graphs it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Stage;
use crate::report::Report;

/// The functions whose EMF lines the scenarios above left on the demo's Lambda host.
const FUNCTIONS: &[&str] = &[
    "das-transformer",
    "cloudwatch-processor",
    "log-subscriber",
    "log-syncer",
];

/// Metric names in the EMF lines of `logs`.
fn emitted(logs: &str) -> BTreeSet<String> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .flat_map(|v| {
            v["_aws"]["CloudWatchMetrics"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|d| d["Metrics"].as_array().cloned().unwrap_or_default())
                .filter_map(|m| m["Name"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every string in `v` (the dashboard body's pieces, inside its intrinsics), one per line.
fn strings(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Adds the section.
pub fn run(stage: &Stage, report: &mut Report) {
    let section =
        report.section("Dashboard: the metrics these runs emitted, as the dashboard graphs them");
    let template = sluice_testbed::template::load();
    let mut dashboard = String::new();
    strings(
        &template["Resources"]["OperationsDashboard"],
        &mut dashboard,
    );
    for function in FUNCTIONS {
        let names = emitted(&stage.host.logs(function));
        if names.is_empty() {
            continue;
        }
        let shown: Vec<String> = names
            .iter()
            .map(|n| {
                // A plain metric (`"Name"`), or one inside a SEARCH expression (`\"Name\"`).
                if dashboard.contains(&format!("\"{n}\""))
                    || dashboard.contains(&format!("\\\"{n}\\\""))
                {
                    n.clone()
                } else {
                    format!("{n} (not graphed)")
                }
            })
            .collect();
        section.line(format!("{function:<22} Sluice/{}", shown.join(", ")));
    }
}
