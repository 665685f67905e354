//! Helpers the template tests share: references between resources, conditions under the
//! parameters' defaults, the alarms.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sluice_testbed::template::{load, resources_of};

pub(crate) fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find('}') {
            out.insert(after[..end].to_owned());
            rest = &after[end..];
        } else {
            break;
        }
    }
    out
}

/// Logical ids a value refers to: `Ref`, `Fn::GetAtt` and `${Name}` / `${Name.Attr}` of `Fn::Sub`
/// (pseudo parameters excluded; parameters and SAM-generated ids included).
pub(crate) fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("Ref", Value::String(id)) if !id.starts_with("AWS::") => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        out.extend(parts.first().and_then(Value::as_str).map(str::to_owned));
                    }
                    ("Fn::Sub", _) => {
                        let text = child.as_str().or_else(|| child[0].as_str()).unwrap_or("");
                        for p in placeholders(text) {
                            let id = p.split('.').next().unwrap_or_default();
                            if !id.starts_with("AWS::") && !id.starts_with('!') {
                                out.insert(id.to_owned());
                            }
                        }
                        refs(&child[1], out);
                    }
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// The resources of the template a value refers to.
pub(crate) fn resource_ids(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    refs(v, &mut out);
    out.retain(|id| load()["Resources"].get(id).is_some());
    out
}

/// Whether `v` refers to exactly one resource, of type `kind`.
pub(crate) fn is_one(v: &Value, kind: &str) -> bool {
    let ids = resource_ids(v);
    ids.len() == 1 && ids.iter().all(|id| load()["Resources"][id]["Type"] == kind)
}

/// Every CloudWatch alarm of the template.
pub(crate) fn alarms() -> Vec<(&'static str, &'static Value)> {
    resources_of(load(), "AWS::CloudWatch::Alarm")
}

/// The alarm on `metric` of `namespace` whose dimension `dimension` is `value`, if any.
pub(crate) fn alarm_on(
    namespace: &str,
    metric: &str,
    dimension: &str,
    value: &Value,
) -> Option<&'static str> {
    alarms()
        .into_iter()
        .find(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == namespace
                && p["MetricName"] == metric
                && p["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|d| d["Name"] == dimension && d["Value"] == *value)
        })
        .map(|(id, _)| id)
}

/// Whether condition `a` implies condition `b`: the same, or `a` is an `Fn::And` holding `b`
/// (directly or through another such `Fn::And`).
pub(crate) fn implies(a: &str, b: &str) -> bool {
    a == b
        || load()["Conditions"][a]["Fn::And"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Condition"].as_str())
            .any(|c| implies(c, b))
}

/// A value under the parameters' defaults: enough of `Ref`, `Fn::Select`, `Fn::Split` and
/// `Fn::Join` for the template's Conditions.
pub(crate) fn resolve(v: &Value) -> Value {
    let template = load();
    let Some((k, arg)) = v
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return match v {
            Value::Array(items) => Value::Array(items.iter().map(resolve).collect()),
            other => other.clone(),
        };
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match k.as_str() {
        "Ref" => {
            let p = &template["Parameters"][arg.as_str().expect("a parameter name")];
            let default = match &p["Default"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if p["Type"] == "CommaDelimitedList" {
                json!(
                    default
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                )
            } else {
                Value::String(default)
            }
        }
        "Fn::Select" => resolve(&arg[1])[arg[0].as_u64().expect("an index") as usize].clone(),
        "Fn::Split" => json!(
            text(&resolve(&arg[1]))
                .split(arg[0].as_str().expect("a delimiter"))
                .collect::<Vec<_>>()
        ),
        "Fn::Join" => {
            let items = resolve(&arg[1]);
            let parts: Vec<String> = items.as_array().into_iter().flatten().map(text).collect();
            Value::String(parts.join(arg[0].as_str().expect("a delimiter")))
        }
        _ => v.clone(),
    }
}

/// Whether a Condition function holds under the parameters' defaults.
pub(crate) fn holds(v: &Value) -> bool {
    let conditions = &load()["Conditions"];
    let scalar = |v: &Value| match resolve(v) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let (k, arg) = v
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("a condition function");
    match k.as_str() {
        "Condition" => holds(&conditions[arg.as_str().expect("a condition name")]),
        "Fn::Equals" => scalar(&arg[0]) == scalar(&arg[1]),
        "Fn::Not" => !holds(&arg[0]),
        "Fn::And" => arg
            .as_array()
            .expect("a list of conditions")
            .iter()
            .all(holds),
        "Fn::Or" => arg
            .as_array()
            .expect("a list of conditions")
            .iter()
            .any(holds),
        other => panic!("condition function {other} is not understood here"),
    }
}

/// The `Fn::Sub` template strings anywhere in a value.
pub(crate) fn collect_subs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match child.as_str() {
                    Some(s) if k == "Fn::Sub" => out.push(s.to_owned()),
                    _ => collect_subs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_subs(i, out)),
        _ => {}
    }
}
