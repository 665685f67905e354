//! Issue 18, the dashboard: `OperationsDashboard` is one title plus one section per subsystem
//! condition (an `Fn::If` holding an `Fn::Sub` of widgets, each starting with ","). These tests
//! hold it to the code (the `Sluice` metrics are exactly what the functions' EMF lines declare)
//! and to the template (every alarm, function, state machine, delivery stream and queue shown in
//! the section of its own condition), and hold the alarms on `Sluice` metrics to the code too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use sluice_testbed::paths::workspace_root;
use sluice_testbed::template::{load, resources_of};

use crate::support::{alarms, implies, placeholders};

/// Metrics a function emits that the dashboard leaves out on purpose, as (Function, metric).
const NOT_ON_THE_DASHBOARD: &[(&str, &str)] = &[
    // KMS calls per invocation: a cost and data-key-cache signal, neither flow nor failure
    // (a KMS failure fails the invocation, which the Errors graph shows).
    ("das-transformer", "KmsCalls"),
];

/// What one EMF metric set declares: its namespace, dimension names and metric names.
#[derive(Debug)]
struct Emitted {
    namespace: String,
    dimensions: Vec<String>,
    metrics: BTreeSet<String>,
}

/// The files that build an EMF metric set (`Metrics::new`), and the metric set each builds,
/// by `Function` dimension value. A new emitter elsewhere fails
/// `every_metric_set_the_code_builds_is_listed_here`.
fn emitters() -> BTreeMap<String, Emitted> {
    let lines = [
        das_transformer::metrics_line(&Default::default(), 0),
        cloudwatch_processor::Stats::default().metrics().to_line(0),
        log_subscriber::Report::default().metrics().to_line(0),
        log_syncer::instance_metrics(&Default::default()).to_line(0),
    ];
    lines
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("an EMF line is JSON");
            let cw = &v["_aws"]["CloudWatchMetrics"][0];
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            };
            let function = v["Function"].as_str().expect("a Function dimension");
            let emitted = Emitted {
                namespace: cw["Namespace"].as_str().expect("a namespace").to_owned(),
                dimensions: strings(&cw["Dimensions"][0]),
                metrics: cw["Metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["Name"].as_str().map(str::to_owned))
                    .collect(),
            };
            (function.to_owned(), emitted)
        })
        .collect()
}

const EMITTER_FILES: &[&str] = &[
    "functions/das-transformer/src/lib.rs",
    "functions/cloudwatch-processor/src/stats.rs",
    "functions/log-subscriber/src/lib.rs",
    "functions/log-syncer/src/lib.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_metric_set_the_code_builds_is_listed_here() {
    let root = workspace_root();
    let mut files = Vec::new();
    for top in ["functions", "crates"] {
        for e in std::fs::read_dir(root.join(top))
            .expect("a crates folder")
            .flatten()
        {
            rust_files(&e.path().join("src"), &mut files);
        }
    }
    let building: BTreeSet<String> = files
        .iter()
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|text| text.contains("Metrics::new(")))
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|p| p != "crates/runtime/src/metrics.rs")
        .collect();
    let listed: BTreeSet<String> = EMITTER_FILES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        building, listed,
        "files building EMF metrics vs EMITTER_FILES: add the new emitter to emitters()"
    );
    assert_eq!(emitters().len(), EMITTER_FILES.len());
}

/// The dashboard's body: (the section's condition, the section's text). The title has none.
fn sections() -> Vec<(Option<String>, String)> {
    let template = load();
    let dashboards = resources_of(template, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let body = &dashboards[0].1["Properties"]["DashboardBody"]["Fn::Join"];
    assert_eq!(body[0], "", "DashboardBody is an Fn::Join on \"\"");
    let text = |v: &Value| -> String {
        v.as_str()
            .or_else(|| v["Fn::Sub"].as_str())
            .unwrap_or_else(|| panic!("a section is a string or an Fn::Sub string: {v}"))
            .to_owned()
    };
    body[1]
        .as_array()
        .expect("a list of sections")
        .iter()
        .map(|part| match part.get("Fn::If") {
            Some(arg) => {
                assert_eq!(arg[2], "", "a section is empty when its condition is false");
                let cond = arg[0].as_str().expect("a condition name").to_owned();
                (Some(cond), text(&arg[1]))
            }
            None => (None, text(part)),
        })
        .collect()
}

/// Parses `text` with the one unquoted placeholder (the period) replaced by its default.
fn parse(text: &str) -> Value {
    let period = load()["Parameters"]["AlarmPeriodSeconds"]["Default"].to_string();
    let text = text.replace("${AlarmPeriodSeconds}", period.trim_matches('"'));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("dashboard body: {e}\n{text}"))
}

/// Each section's widgets, by the section's condition.
fn widgets() -> Vec<(String, Value)> {
    sections()
        .into_iter()
        .filter_map(|(cond, text)| {
            let cond = cond?;
            let list = parse(&format!("[{}]", text.trim().trim_start_matches(',')));
            Some(
                list.as_array()
                    .expect("widgets")
                    .iter()
                    .map(|w| (cond.clone(), w.clone()))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect()
}

#[test]
fn given_any_set_of_subsystems_switched_on_when_the_body_is_joined_then_it_is_a_dashboard() {
    let sections = sections();
    let conditional: Vec<&String> = sections.iter().filter_map(|(c, _)| c.as_ref()).collect();
    assert!(conditional.len() >= 5, "a section per subsystem");
    for set in 0u32..(1 << conditional.len()) {
        let mut on = conditional
            .iter()
            .enumerate()
            .map(|(i, _)| set & (1 << i) != 0);
        let text: String = sections
            .iter()
            .map(|(c, t)| match c {
                Some(_) if on.next() == Some(true) => t.as_str(),
                Some(_) => "",
                None => t.as_str(),
            })
            .collect();
        let body = parse(&text);
        let widgets = body["widgets"].as_array().expect("a widgets list");
        assert!(!widgets.is_empty() && widgets.len() <= 500, "{set:b}");
    }
}

#[test]
fn given_a_section_when_its_subsystem_is_on_then_every_resource_it_names_exists() {
    let template = load();
    for (cond, text) in sections() {
        for p in placeholders(&text) {
            let id = p.split('.').next().unwrap_or_default();
            if id.starts_with("AWS::") || template["Parameters"].get(id).is_some() {
                continue;
            }
            let of_id = template["Resources"][id]["Condition"]
                .as_str()
                .unwrap_or_else(|| panic!("dashboard names {id}: not a conditional resource"));
            let cond = cond
                .as_deref()
                .unwrap_or_else(|| panic!("the title names {id}"));
            assert!(implies(cond, of_id), "section {cond} names {id} ({of_id})");
        }
    }
}

/// A metric a widget graphs: namespace, metric name, dimension names, and the values of the
/// dimensions it fixes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Graphed {
    namespace: String,
    metric: String,
    dimensions: BTreeSet<String>,
    fixed: BTreeMap<String, String>,
}

/// `SEARCH('{Namespace,Dim,...} Key="value" MetricName="X"', ...)` as a graphed metric.
fn search(expression: &str) -> Option<Graphed> {
    let rest = &expression[expression.find("SEARCH('{")? + 9..];
    let (schema, rest) = rest.split_once('}')?;
    let terms = &rest[..rest.find('\'')?];
    let mut schema = schema.split(',').map(|s| s.trim().to_owned());
    let namespace = schema.next()?;
    let mut fixed: BTreeMap<String, String> = terms
        .split_whitespace()
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect();
    let metric = fixed.remove("MetricName")?;
    Some(Graphed {
        namespace,
        metric,
        dimensions: schema.collect(),
        fixed,
    })
}

/// Every metric the dashboard graphs, with its section's condition.
fn graphed() -> Vec<(String, Graphed)> {
    let mut out = Vec::new();
    for (cond, w) in widgets() {
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let items = m.as_array().expect("a metric is an array");
            if let Some(e) = items[0]["expression"].as_str() {
                let g = search(e).unwrap_or_else(|| panic!("not a SEARCH expression: {e}"));
                out.push((cond.clone(), g));
                continue;
            }
            let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            assert!(
                strings.len() >= 2 && strings.len().is_multiple_of(2) && !strings.contains(&"."),
                "{cond}: write every metric in full: {m}"
            );
            let fixed: BTreeMap<String, String> = strings[2..]
                .chunks(2)
                .map(|kv| (kv[0].to_owned(), kv[1].to_owned()))
                .collect();
            out.push((
                cond.clone(),
                Graphed {
                    namespace: strings[0].to_owned(),
                    metric: strings[1].to_owned(),
                    dimensions: fixed.keys().cloned().collect(),
                    fixed,
                },
            ));
        }
    }
    out
}

/// The condition of the function resource that runs `binary`.
fn condition_of_binary(binary: &str) -> String {
    let template = load();
    let conds: BTreeSet<&str> = resources_of(template, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == binary)
        .filter_map(|(_, f)| f["Condition"].as_str())
        .collect();
    assert_eq!(conds.len(), 1, "{binary}: one function condition");
    conds.into_iter().next().unwrap_or_default().to_owned()
}

#[test]
fn given_a_sluice_metric_on_the_dashboard_when_it_is_drawn_then_its_function_emits_it_with_those_dimensions()
 {
    let emitted = emitters();
    let on_dashboard: Vec<(String, Graphed)> = graphed()
        .into_iter()
        .filter(|(_, g)| g.namespace == "Sluice")
        .collect();
    assert!(!on_dashboard.is_empty());
    for (cond, g) in on_dashboard {
        let function = g.fixed.get("Function").expect("a Function value");
        let e = emitted
            .get(function)
            .unwrap_or_else(|| panic!("{g:?}: no function {function} emits metrics"));
        assert!(e.metrics.contains(&g.metric), "{function} emits no {g:?}");
        let dims: BTreeSet<String> = e.dimensions.iter().cloned().collect();
        assert_eq!(g.dimensions, dims, "{function} {}: dimensions", g.metric);
        assert_eq!(
            cond,
            condition_of_binary(function),
            "{function} {} is in another subsystem's section",
            g.metric
        );
    }
}

#[test]
fn given_a_metric_a_function_emits_when_the_dashboard_is_read_then_it_is_there_or_excluded_on_purpose()
 {
    let on_dashboard: BTreeSet<(String, String)> = graphed()
        .into_iter()
        .filter(|(_, g)| g.namespace == "Sluice")
        .filter_map(|(_, g)| Some((g.fixed.get("Function")?.clone(), g.metric)))
        .collect();
    for (function, e) in emitters() {
        assert_eq!(e.namespace, "Sluice", "{function}");
        for metric in e.metrics {
            let excluded = NOT_ON_THE_DASHBOARD.contains(&(function.as_str(), metric.as_str()));
            let shown = on_dashboard.contains(&(function.clone(), metric.clone()));
            assert!(
                shown != excluded,
                "{function} {metric}: on the dashboard {shown}, excluded {excluded} (exactly one)"
            );
        }
    }
}

#[test]
fn given_an_alarm_when_it_fires_then_the_dashboard_shows_it_in_its_subsystems_section() {
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    for (cond, w) in widgets() {
        if w["type"] == "alarm" {
            for a in w["properties"]["alarms"].as_array().into_iter().flatten() {
                let id = a
                    .as_str()
                    .and_then(|s| s.strip_prefix("${"))
                    .and_then(|s| s.strip_suffix(".Arn}"))
                    .unwrap_or_else(|| panic!("an alarm is ${{Id.Arn}}: {a}"));
                assert!(
                    shown.insert(id.to_owned(), cond.clone()).is_none(),
                    "{id} twice"
                );
            }
        }
    }
    let all = alarms();
    assert_eq!(shown.len(), all.len(), "alarms shown vs alarms");
    for (id, a) in all {
        assert_eq!(
            shown.get(id).map(String::as_str),
            a["Condition"].as_str(),
            "{id}: its section"
        );
    }
}

#[test]
fn given_a_function_state_machine_stream_or_queue_when_it_fails_then_its_section_graphs_that() {
    let template = load();
    let watched = [
        (
            "AWS::Serverless::Function",
            "AWS/Lambda",
            "Errors",
            "FunctionName",
            "",
        ),
        (
            "AWS::Serverless::StateMachine",
            "AWS/States",
            "ExecutionsFailed",
            "StateMachineArn",
            "",
        ),
        (
            "AWS::KinesisFirehose::DeliveryStream",
            "AWS/Firehose",
            "DeliveryToS3.Success",
            "DeliveryStreamName",
            "",
        ),
        (
            "AWS::SQS::Queue",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            ".QueueName",
        ),
    ];
    let graphed = graphed();
    for (kind, namespace, metric, dimension, attr) in watched {
        let resources = resources_of(template, kind);
        assert!(!resources.is_empty(), "{kind}");
        for (id, r) in resources {
            let value = format!("${{{id}{attr}}}");
            let sections: Vec<&String> = graphed
                .iter()
                .filter(|(_, g)| {
                    g.namespace == namespace
                        && g.metric == metric
                        && g.fixed.get(dimension) == Some(&value)
                })
                .map(|(c, _)| c)
                .collect();
            assert!(!sections.is_empty(), "{id}: no {namespace} {metric} graph");
            for c in sections {
                assert_eq!(Some(c.as_str()), r["Condition"].as_str(), "{id}: {metric}");
            }
        }
    }
}

/// `SELECT FUNC(Metric) FROM SCHEMA("Namespace", "Dim", ...) WHERE "Key" = 'value'` as a metric.
fn metrics_insights(query: &str) -> Option<Graphed> {
    let metric = query[query.find('(')? + 1..query.find(')')?].to_owned();
    let schema = &query[query.find("SCHEMA(")? + 7..];
    let schema = &schema[..schema.find(')')?];
    let mut names = schema
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned());
    let namespace = names.next()?;
    let fixed = query
        .split_once(" WHERE ")
        .and_then(|(_, w)| w.split_once('='))
        .map(|(k, v)| {
            let k = k.trim().trim_matches('"').to_owned();
            (k, v.trim().trim_matches('\'').to_owned())
        })
        .into_iter()
        .collect();
    Some(Graphed {
        namespace,
        metric,
        dimensions: names.collect(),
        fixed,
    })
}

#[test]
fn given_an_alarm_on_a_sluice_metric_when_it_is_evaluated_then_a_function_emits_that_metric() {
    let emitted = emitters();
    let mut checked = 0;
    for (id, a) in alarms() {
        let p = &a["Properties"];
        let mut on = Vec::new();
        if p["Namespace"] == "Sluice" {
            let fixed: BTreeMap<String, String> = p["Dimensions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    let s = |v: &Value| v.as_str().expect("a literal dimension").to_owned();
                    (s(&d["Name"]), s(&d["Value"]))
                })
                .collect();
            on.push(Graphed {
                namespace: "Sluice".into(),
                metric: p["MetricName"].as_str().expect("a metric name").into(),
                dimensions: fixed.keys().cloned().collect(),
                fixed,
            });
        }
        for q in p["Metrics"].as_array().into_iter().flatten() {
            if let Some(query) = q["Expression"]
                .as_str()
                .filter(|e| e.contains("SCHEMA(\"Sluice\""))
            {
                on.push(metrics_insights(query).unwrap_or_else(|| panic!("{id}: {query}")));
            }
        }
        for g in on {
            let function = g.fixed.get("Function").expect("a Function value");
            let e = emitted
                .get(function)
                .unwrap_or_else(|| panic!("{id}: no function {function} emits metrics"));
            assert!(
                e.metrics.contains(&g.metric),
                "{id}: {function} emits no {}",
                g.metric
            );
            let dims: BTreeSet<String> = e.dimensions.iter().cloned().collect();
            assert_eq!(g.dimensions, dims, "{id}: dimensions of {}", g.metric);
            checked += 1;
        }
    }
    assert!(checked >= 3, "alarms on Sluice metrics: {checked}");
}
