//! The output side of the contract: one [`ResponseRecord`] per input record, and their exact JSON
//! size ([`ResponseRecord::encoded_len`]) so the handler can keep the response under 6 MB.
//!
//! Mirrors <https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html> and
//! <https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html> (partition keys).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::FirehoseRecord;

/// The outcome Firehose accepts for a record; serialises exactly `Ok`, `Dropped`, `ProcessingFailed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum RecordResult {
    /// Transformed successfully; `data` is delivered.
    Ok,
    /// Intentionally discarded (or re-ingested elsewhere); Firehose counts it as processed.
    Dropped,
    /// Could not be transformed; Firehose writes it to the error output prefix.
    ProcessingFailed,
}

impl RecordResult {
    /// The exact string Firehose expects.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "Ok",
            Self::Dropped => "Dropped",
            Self::ProcessingFailed => "ProcessingFailed",
        }
    }
}

/// Per-record metadata for dynamic partitioning: `{"partitionKeys":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Partition key name → value, referenced as `!{partitionKeyFromLambda:name}` in the S3 prefix.
    pub partition_keys: BTreeMap<String, String>,
}

/// One record of a [`FirehoseResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseRecord {
    /// The `recordId` of the input record this answers.
    pub record_id: String,
    /// What happened to the record.
    pub result: RecordResult,
    /// The transformed bytes, standard base64; `""` for a dropped record.
    pub data: String,
    /// Partition keys; omitted from the JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl ResponseRecord {
    /// A successfully transformed record carrying `bytes` (base64-encoded here) and optional keys.
    pub fn ok(
        record_id: impl Into<String>,
        bytes: &[u8],
        partition_keys: Option<BTreeMap<String, String>>,
    ) -> Self {
        Self {
            record_id: record_id.into(),
            result: RecordResult::Ok,
            data: STANDARD.encode(bytes),
            metadata: partition_keys.map(|partition_keys| Metadata { partition_keys }),
        }
    }

    /// A dropped record: empty data, no metadata.
    pub fn dropped(record_id: impl Into<String>) -> Self {
        Self {
            record_id: record_id.into(),
            result: RecordResult::Dropped,
            data: String::new(),
            metadata: None,
        }
    }

    /// A failed record echoing the original data, so Firehose's error output keeps it intact.
    pub fn failed(record: &FirehoseRecord) -> Self {
        Self {
            record_id: record.record_id.clone(),
            result: RecordResult::ProcessingFailed,
            data: record.data.clone(),
            metadata: None,
        }
    }

    /// Exact size of this record's JSON as `serde_json::to_vec` writes it, computed without
    /// serialising.
    pub fn encoded_len(&self) -> usize {
        // {"recordId":<id>,"result":"<r>","data":<data>}
        let mut len = r#"{"recordId":,"result":"","data":}"#.len()
            + json_str_len(&self.record_id)
            + self.result.as_str().len()
            + json_str_len(&self.data);
        if let Some(metadata) = &self.metadata {
            let keys = &metadata.partition_keys;
            len += metadata_len(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        len
    }

    /// Size of the [`Self::failed`] answer for `record`, computed without copying its data.
    pub fn failed_len(record: &FirehoseRecord) -> usize {
        r#"{"recordId":,"result":"ProcessingFailed","data":}"#.len()
            + json_str_len(&record.record_id)
            + json_str_len(&record.data)
    }

    /// Size of the `Ok` answer for `record_id` with `data_len` bytes of data (before base64) and
    /// `partition_keys` (none: no `metadata`), as [`crate::ResponseWriter::try_ok`] writes it.
    pub fn ok_len(record_id: &str, data_len: usize, partition_keys: &[(&str, &str)]) -> usize {
        // {"recordId":<id>,"result":"Ok","data":"<base64>"}
        let mut len = r#"{"recordId":,"result":"Ok","data":""}"#.len()
            + json_str_len(record_id)
            + data_len.div_ceil(3) * 4;
        if !partition_keys.is_empty() {
            len += metadata_len(partition_keys.iter().copied());
        }
        len
    }

    /// Size of the dropped answer for `record_id`: the least any record costs in a response.
    pub fn dropped_len(record_id: &str) -> usize {
        r#"{"recordId":,"result":"Dropped","data":""}"#.len() + json_str_len(record_id)
    }
}

/// The response a transformation Lambda returns to Firehose.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct FirehoseResponse {
    /// One entry per input record, same order.
    pub records: Vec<ResponseRecord>,
}

impl FirehoseResponse {
    /// Exact size of `{"records":[…]}` as `serde_json::to_vec` writes it.
    pub fn encoded_len(&self) -> usize {
        EMPTY_RESPONSE_LEN
            + self.records.len().saturating_sub(1)
            + self
                .records
                .iter()
                .map(ResponseRecord::encoded_len)
                .sum::<usize>()
    }
}

/// Length of `{"records":[]}`.
pub(crate) const EMPTY_RESPONSE_LEN: usize = r#"{"records":[]}"#.len();

/// Size of `,"metadata":{"partitionKeys":{<k>:<v>,…}}` for `keys`.
fn metadata_len<'a>(keys: impl ExactSizeIterator<Item = (&'a str, &'a str)>) -> usize {
    let commas = keys.len().saturating_sub(1);
    r#","metadata":{"partitionKeys":{}}"#.len()
        + commas
        + keys
            .map(|(k, v)| json_str_len(k) + 1 + json_str_len(v))
            .sum::<usize>()
}

/// Length of `s` as a JSON string literal written by serde_json (quotes included): `"` and `\`
/// and `\b \t \n \f \r` take two bytes, other control characters six (`\u00XX`), the rest as is.
pub(crate) fn json_str_len(s: &str) -> usize {
    // A branch-free check per 64-byte chunk first (it vectorises; base64 data never needs
    // escaping), the exact cost only for strings that need it.
    let plain = s.as_bytes().chunks(64).all(|chunk| {
        !chunk.iter().fold(false, |acc, &b| {
            acc | (b < 0x20) | (b == b'"') | (b == b'\\')
        })
    });
    if plain {
        return 2 + s.len();
    }
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x09 | 0x0A | 0x0C | 0x0D => 2,
            0x00..=0x1F => 6,
            _ => 1,
        })
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_json(r: &ResponseRecord) -> String {
        serde_json::to_string(r).expect("serialises")
    }

    #[test]
    fn given_each_result_when_serialised_then_exact_firehose_strings() {
        let s = |r| serde_json::to_string(&r).expect("serialises");
        assert_eq!(s(RecordResult::Ok), r#""Ok""#);
        assert_eq!(s(RecordResult::Dropped), r#""Dropped""#);
        assert_eq!(s(RecordResult::ProcessingFailed), r#""ProcessingFailed""#);
    }

    #[test]
    fn given_no_metadata_when_serialised_then_field_omitted() {
        let r = ResponseRecord::ok("a", b"hi", None);
        assert_eq!(
            to_json(&r),
            r#"{"recordId":"a","result":"Ok","data":"aGk="}"#
        );
    }

    #[test]
    fn given_partition_keys_when_serialised_then_partition_keys_object() {
        let keys = BTreeMap::from([("year".to_string(), "2026".to_string())]);
        let r = ResponseRecord::ok("a", b"", Some(keys));
        assert_eq!(
            to_json(&r),
            r#"{"recordId":"a","result":"Ok","data":"","metadata":{"partitionKeys":{"year":"2026"}}}"#
        );
    }

    #[test]
    fn given_dropped_when_serialised_then_data_present_and_empty() {
        let r = ResponseRecord::dropped("x");
        assert_eq!(
            to_json(&r),
            r#"{"recordId":"x","result":"Dropped","data":""}"#
        );
        assert_eq!(ResponseRecord::dropped_len("x"), r.encoded_len());
    }

    #[test]
    fn given_failed_when_built_then_original_data_echoed() {
        let rec = FirehoseRecord {
            record_id: "z".into(),
            approximate_arrival_timestamp: Some(1),
            data: "AAEC".into(),
            kinesis_record_metadata: None,
        };
        let r = ResponseRecord::failed(&rec);
        assert_eq!(
            to_json(&r),
            r#"{"recordId":"z","result":"ProcessingFailed","data":"AAEC"}"#
        );
    }

    #[test]
    fn given_escapes_and_unicode_when_measured_then_matches_serde_json() {
        let keys = BTreeMap::from([
            ("q\"\\".to_string(), "\u{1}\u{7f}\n".to_string()),
            ("é".to_string(), "日本".to_string()),
        ]);
        let r = ResponseRecord::ok("id\t\u{1f}\u{8}\u{c}\r", b"x", Some(keys));
        assert_eq!(r.encoded_len(), to_json(&r).len());
    }

    #[test]
    fn given_empty_response_when_measured_then_matches_serde_json() {
        let resp = FirehoseResponse::default();
        let json = serde_json::to_string(&resp).expect("serialises");
        assert_eq!(json, r#"{"records":[]}"#);
        assert_eq!(resp.encoded_len(), json.len());
    }
}
