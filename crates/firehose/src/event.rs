//! The input side of the contract: the event Firehose sends to a transformation Lambda.
//!
//! Mirrors <https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html> and the
//! example event in <https://docs.aws.amazon.com/lambda/latest/dg/services-kinesisfirehose.html>.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The event Firehose sends to a transformation Lambda.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseEvent {
    /// Identifies this invocation; useful in logs.
    pub invocation_id: String,
    /// ARN of the delivery stream that invoked us.
    pub delivery_stream_arn: String,
    /// ARN of the source Kinesis stream, when the delivery stream reads from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinesis_stream_arn: Option<String>,
    /// Region of the delivery stream.
    pub region: String,
    /// The records to transform; every `record_id` must come back exactly once, in order.
    pub records: Vec<FirehoseRecord>,
}

/// One record of a [`FirehoseEvent`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    /// Opaque id that the response must echo.
    pub record_id: String,
    /// Server-side arrival time in epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<i64>,
    /// The record's bytes, standard base64.
    pub data: String,
    /// Shard, partition key and sequence number when the source is a Kinesis stream; kept opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_record_metadata: Option<serde_json::Value>,
}

/// Why a record's data could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The `data` field is not valid standard base64.
    #[error("record {record_id}: data is not valid base64")]
    Base64 {
        /// The record that failed.
        record_id: String,
        /// What the base64 decoder reported.
        #[source]
        source: base64::DecodeError,
    },
}

impl FirehoseRecord {
    /// Decodes the record's base64 `data` into bytes.
    pub fn decode_data(&self) -> Result<Vec<u8>, DecodeError> {
        STANDARD
            .decode(self.data.as_bytes())
            .map_err(|source| DecodeError::Base64 {
                record_id: self.record_id.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(data: &str) -> FirehoseRecord {
        FirehoseRecord {
            record_id: "r-1".into(),
            approximate_arrival_timestamp: None,
            data: data.into(),
            kinesis_record_metadata: None,
        }
    }

    #[test]
    fn given_valid_base64_when_decoded_then_bytes() {
        let bytes = record("SGVsbG8gV29ybGQ=").decode_data().expect("valid");
        assert_eq!(bytes, b"Hello World");
    }

    #[test]
    fn given_invalid_base64_when_decoded_then_error_names_record() {
        let err = record("not base64!").decode_data().expect_err("invalid");
        assert_eq!(err.to_string(), "record r-1: data is not valid base64");
    }
}
