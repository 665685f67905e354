//! CloudWatch Embedded Metric Format lines for counters and durations.
//!
//! One JSON line on stdout per flush; CloudWatch Logs turns it into metrics without any API
//! call. Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The unit of one metric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count of things.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
    /// A size in bytes.
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Bytes => "Bytes",
        }
    }
}

/// A set of metrics sharing one namespace and dimension set, emitted as one EMF line.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    dimensions: Vec<(String, String)>,
    values: Vec<(String, Unit, f64)>,
}

impl Metrics {
    /// Starts a metric set in `namespace` (e.g. `Sluice`).
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            dimensions: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Adds a dimension (e.g. `Function`, `Instance`).
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push((name.into(), value.into()));
        self
    }

    /// Records a counter.
    pub fn count(&mut self, name: impl Into<String>, value: u64) -> &mut Self {
        self.values.push((name.into(), Unit::Count, value as f64));
        self
    }

    /// Records a duration, in milliseconds.
    pub fn duration(&mut self, name: impl Into<String>, value: Duration) -> &mut Self {
        self.values.push((
            name.into(),
            Unit::Milliseconds,
            value.as_secs_f64() * 1000.0,
        ));
        self
    }

    /// Records a size in bytes.
    pub fn bytes(&mut self, name: impl Into<String>, value: u64) -> &mut Self {
        self.values.push((name.into(), Unit::Bytes, value as f64));
        self
    }

    /// The EMF JSON line for these values at `timestamp_ms`.
    pub fn to_line(&self, timestamp_ms: u64) -> String {
        let mut root = Map::new();
        let names: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let defs: Vec<Value> = self
            .values
            .iter()
            .map(|(n, u, _)| json!({"Name": n, "Unit": u.as_str()}))
            .collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [names],
                    "Metrics": defs,
                }],
            }),
        );
        for (k, v) in &self.dimensions {
            root.insert(k.clone(), Value::String(v.clone()));
        }
        for (n, _, v) in &self.values {
            root.insert(n.clone(), json!(v));
        }
        Value::Object(root).to_string()
    }

    /// Writes the line to stdout (where Lambda's log agent picks EMF up) and clears values.
    pub fn flush(&mut self) {
        if self.values.is_empty() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let line = self.to_line(now);
        let mut out = std::io::stdout().lock();
        // A lost metric line must never fail the invocation.
        let _ = writeln!(out, "{line}");
        self.values.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_declares_each_metric_and_carries_values() {
        let mut m = Metrics::new("Sluice").dimension("Function", "das-transformer");
        m.count("RecordsOk", 3)
            .duration("Elapsed", Duration::from_millis(1500));
        let v: Value = serde_json::from_str(&m.to_line(1_700_000_000_000)).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Sluice");
        assert_eq!(cw["Dimensions"], json!([["Function"]]));
        assert_eq!(
            cw["Metrics"],
            json!([{"Name":"RecordsOk","Unit":"Count"},{"Name":"Elapsed","Unit":"Milliseconds"}])
        );
        assert_eq!(v["Function"], "das-transformer");
        assert_eq!(v["RecordsOk"], 3.0);
        assert_eq!(v["Elapsed"], 1500.0);
    }
}
