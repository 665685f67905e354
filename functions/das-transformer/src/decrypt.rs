//! What `das-decrypt` does with its input, apart from arguments and output: finding the DAS
//! records in what it reads, and opening each to its filtered events.
//!
//! Input is one or more JSON documents (concatenated or one per line, optionally gzipped as
//! Firehose writes its objects), each either a DAS record as Kinesis carries it
//! (`{"type":"DatabaseActivityMonitoringRecords","version",…,"key"}`) or a Firehose error-output
//! envelope around one: `{"attemptsMade","arrivalTimestamp","errorCode","errorMessage",
//! "attemptEndingTimestamp","rawData","lambdaArn"}`, `rawData` being the original record in
//! base64 ([Firehose: handle failure in data transformation](https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html)).

use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use sluice_das::filter::Filters;
use sluice_das::gunzip::Gunzip;
use sluice_das::record::{self, KEY_NAME, OutputLimit, PROVIDER_ID, Routed};
use sluice_das::redact::Redaction;
use sluice_das::{KeyDecryptor, config::DEFAULT_MAX_PLAINTEXT_BYTES, source};
use sluice_esdk::RawAesKeyring;

/// Largest decompressed input object: Firehose's error objects are a buffer's worth (≤ 128 MiB).
const MAX_INPUT_BYTES: u64 = 1 << 30;

/// One DAS record found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Where it came from, for messages: `<source> #<n>`.
    pub id: String,
    /// The record's JSON, as Kinesis carried it.
    pub record: Vec<u8>,
    /// Firehose's `arrivalTimestamp` (epoch ms) when it came in an error envelope.
    pub arrival_ms: Option<i64>,
}

/// Tells an error envelope from a bare record without reading either.
#[derive(Deserialize, Default)]
struct Probe {
    #[serde(rename = "rawData")]
    raw_data: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    raw_data: String,
    arrival_timestamp: Option<i64>,
}

/// The DAS records in `bytes` (gunzipped first when they start with gzip's magic number).
pub fn inputs(source: &str, bytes: &[u8]) -> anyhow::Result<Vec<Input>> {
    let plain;
    let text: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_INPUT_BYTES)
            .read_to_end(&mut out)
            .with_context(|| format!("{source}: not valid gzip"))?;
        plain = out;
        &plain
    } else {
        bytes
    };
    let mut found = Vec::new();
    let stream = serde_json::Deserializer::from_slice(text).into_iter::<&RawValue>();
    for (n, raw) in stream.enumerate() {
        let id = format!("{source} #{}", n + 1);
        let raw = raw.with_context(|| format!("{id}: not JSON"))?;
        let probe: Probe = serde_json::from_str(raw.get()).unwrap_or_default();
        if probe.raw_data.is_some() {
            let envelope: Envelope = serde_json::from_str(raw.get())
                .with_context(|| format!("{id}: not a Firehose error record"))?;
            let record = STANDARD
                .decode(envelope.raw_data.as_bytes())
                .with_context(|| format!("{id}: rawData is not base64"))?;
            found.push(Input {
                id,
                record,
                arrival_ms: envelope.arrival_timestamp,
            });
        } else {
            found.push(Input {
                id,
                record: raw.get().as_bytes().to_vec(),
                arrival_ms: None,
            });
        }
    }
    Ok(found)
}

/// Where wrapping keys come from.
pub enum KeySource {
    /// KMS `Decrypt` of each record's `key` under the resource's encryption context.
    Kms {
        /// The KMS adapter.
        kms: Arc<dyn KeyDecryptor>,
        /// `aws:rds:dbc-id` or `aws:rds:db-id`.
        context_key: String,
        /// The cluster or instance resource id.
        resource_id: String,
    },
    /// The wrapping key itself (the `Plaintext` of a KMS decrypt done elsewhere).
    Offline(Vec<u8>),
}

impl KeySource {
    /// The KMS source for `resource_id`, with its context key unless one is given.
    pub fn kms(kms: Arc<dyn KeyDecryptor>, resource_id: &str, context_key: Option<&str>) -> Self {
        Self::Kms {
            kms,
            context_key: context_key
                .unwrap_or_else(|| source::context_key_for(resource_id))
                .to_owned(),
            resource_id: resource_id.to_owned(),
        }
    }
}

/// Opens one record to its events: heartbeats dropped, `filters` applied, literals redacted as
/// `redaction` says, no size limit.
pub async fn open(
    input: &Input,
    keys: &KeySource,
    filters: &Filters,
    redaction: Redaction,
    gunzip: &mut Gunzip,
) -> anyhow::Result<Routed> {
    let id = &input.id;
    let das = record::parse_record(id, &input.record)?;
    let wrapping = match keys {
        KeySource::Offline(k) => k.clone(),
        KeySource::Kms {
            kms,
            context_key,
            resource_id,
        } => {
            let key = record::decode_field(id, "key", &das.key)?;
            kms.decrypt_data_key(&key, &source::encryption_context(context_key, resource_id))
                .await
                .with_context(|| format!("{id}: KMS Decrypt"))?
        }
    };
    let keyring = RawAesKeyring::new(PROVIDER_ID, KEY_NAME, &wrapping)?;
    let msg = record::decode_field(id, "databaseActivityEvents", &das.database_activity_events)?;
    let plain = record::open_events(id, &msg, &keyring, gunzip, DEFAULT_MAX_PLAINTEXT_BYTES)?;
    Ok(record::route_events(
        id,
        &plain,
        filters,
        redaction,
        OutputLimit::Unlimited,
    )?)
}

/// A wrapping key given in hex.
pub fn hex_key(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        bail!("--wrapping-key-hex must have an even number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("x"), 16)
                .context("--wrapping-key-hex is not hex")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const RECORD: &str = r#"{"type":"DatabaseActivityMonitoringRecords","version":"1.2","databaseActivityEvents":"AA==","key":"AA=="}"#;

    fn envelope(arrival: i64) -> String {
        format!(
            r#"{{"attemptsMade":4,"arrivalTimestamp":{arrival},"errorCode":"Lambda.ProcessingFailed","errorMessage":"The Lambda function was successfully invoked but it returned an error result.","attemptEndingTimestamp":{},"rawData":"{}","lambdaArn":"arn:aws:lambda:us-east-1:123456789012:function:das-transformer:$LATEST"}}"#,
            arrival + 5,
            STANDARD.encode(RECORD)
        )
    }

    #[test]
    fn given_error_envelopes_and_bare_records_then_each_yields_the_original_record() {
        let text = format!("{}\n{}{RECORD}\n", envelope(1_795_355_101_000), envelope(7));
        let found = inputs("obj", text.as_bytes()).unwrap();
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|i| i.record == RECORD.as_bytes()));
        assert_eq!(
            found.iter().map(|i| i.arrival_ms).collect::<Vec<_>>(),
            [Some(1_795_355_101_000), Some(7), None]
        );
        assert_eq!(found[1].id, "obj #2");
    }

    #[test]
    fn given_gzipped_object_then_read_as_firehose_writes_it() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(envelope(1).as_bytes()).unwrap();
        let found = inputs("obj.gz", &gz.finish().unwrap()).unwrap();
        assert_eq!(found[0].record, RECORD.as_bytes());
    }

    #[test]
    fn given_bad_input_then_the_error_names_the_document_and_what_is_wrong() {
        let err = inputs("obj", br#"{"rawData":"***"}"#).unwrap_err();
        assert!(
            format!("{err:#}").contains("obj #1: rawData is not base64"),
            "{err:#}"
        );
        let err = inputs("obj", b"{} nope").unwrap_err();
        assert!(format!("{err:#}").contains("obj #2: not JSON"), "{err:#}");
    }
}
