//! Putting backfilled subscription records on the Kinesis stream our filter targets: the one
//! capability behind a small trait, the real adapter over `aws-sdk-kinesis`, and [`put_all`],
//! which keeps every call within the `PutRecords` limits and retries only the entries a call
//! refused (an accepted entry is never sent twice).
//!
//! Limits: <https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html>.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use crate::logs::BoxFuture;

/// `PutRecords` takes at most this many records per call.
pub const PUT_RECORDS_MAX_RECORDS: usize = 500;
/// `PutRecords` takes at most this many bytes per call (data plus partition keys).
pub const PUT_RECORDS_MAX_BYTES: usize = 5 * 1024 * 1024;
/// One record's data plus partition key is at most this many bytes.
pub const RECORD_MAX_BYTES: usize = 1024 * 1024;
/// A partition key is at most this many Unicode characters.
pub const PARTITION_KEY_MAX_CHARS: usize = 256;

/// One record to put: a gzipped subscription payload and its partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The gzipped `DATA_MESSAGE`.
    pub data: Vec<u8>,
    /// The partition key (the log stream's name, cut to 256 characters).
    pub partition_key: String,
}

impl Record {
    /// What the record counts for against the size limits.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// A `PutRecords` call that failed as a whole.
#[derive(Debug, thiserror::Error)]
#[error("PutRecords to Kinesis stream {stream} failed ({code})")]
pub struct StreamError {
    /// The stream's name.
    pub stream: String,
    /// The service's error code, or `unknown`.
    pub code: String,
    /// The SDK error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Puts records on a Kinesis stream.
pub trait Stream: Send + Sync {
    /// Puts `records` in ONE `PutRecords` call; returns, per record in order, `None` when
    /// accepted or the per-record error code when refused (a partial failure).
    fn put_records<'a>(
        &'a self,
        stream: &'a str,
        records: &'a [Record],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, StreamError>>;
}

/// The real adapter.
#[derive(Debug, Clone)]
pub struct AwsKinesis {
    client: Client,
}

impl AwsKinesis {
    /// Wraps a client built once at cold start.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl Stream for AwsKinesis {
    fn put_records<'a>(
        &'a self,
        stream: &'a str,
        records: &'a [Record],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, StreamError>> {
        Box::pin(async move {
            let entries = records
                .iter()
                .map(|r| {
                    PutRecordsRequestEntry::builder()
                        .data(Blob::new(r.data.clone()))
                        .partition_key(&r.partition_key)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StreamError {
                    stream: stream.to_owned(),
                    code: "InvalidEntry".to_owned(),
                    source: Box::new(e),
                })?;
            let out = self
                .client
                .put_records()
                .stream_name(stream)
                .set_records(Some(entries))
                .send()
                .await
                .map_err(|e| StreamError {
                    stream: stream.to_owned(),
                    code: e.code().unwrap_or("unknown").to_owned(),
                    source: Box::new(e),
                })?;
            let mut results: Vec<Option<String>> = out
                .records()
                .iter()
                .map(|r| r.error_code().map(str::to_owned))
                .collect();
            // An answer that does not account for every entry: the missing ones were not accepted.
            results.resize(records.len(), Some("MissingResult".to_owned()));
            Ok(results)
        })
    }
}

/// How often and how patiently refused entries are put again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 6,
            backoff: Duration::from_millis(100),
        }
    }
}

/// What [`put_all`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Put {
    /// Records accepted.
    pub records: u64,
    /// Entries sent again after a partial or whole-call failure.
    pub retried: u64,
}

/// Records still refused after the last attempt.
#[derive(Debug, thiserror::Error)]
#[error(
    "{pending} of {total} records not accepted by Kinesis stream {stream} after {attempts} attempts; last problem: {last}"
)]
pub struct PutFailure {
    /// The stream's name.
    pub stream: String,
    /// Records still not accepted.
    pub pending: usize,
    /// Records asked for.
    pub total: usize,
    /// Attempts made per call.
    pub attempts: u32,
    /// The last call error or per-record error code.
    pub last: String,
}

/// Splits `records` into consecutive calls within the `PutRecords` limits (500 records, 5 MiB).
pub fn calls(records: &[Record]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in records.iter().enumerate() {
        if i > start
            && (i - start == PUT_RECORDS_MAX_RECORDS || bytes + r.size() > PUT_RECORDS_MAX_BYTES)
        {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += r.size();
    }
    if start < records.len() {
        out.push(start..records.len());
    }
    out
}

/// Puts every record on `stream`, call by call; after a partial failure only the refused entries
/// are sent again (exponential backoff), so nothing accepted is duplicated.
pub async fn put_all(
    kinesis: &dyn Stream,
    stream: &str,
    records: &[Record],
    retry: Retry,
) -> Result<Put, PutFailure> {
    let mut put = Put::default();
    for range in calls(records) {
        let mut pending: Vec<Record> = records[range].to_vec();
        let mut last = String::new();
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt == retry.attempts {
                return Err(PutFailure {
                    stream: stream.to_owned(),
                    pending: pending.len(),
                    total: records.len(),
                    attempts: attempt,
                    last,
                });
            }
            if attempt > 0 {
                put.retried += pending.len() as u64;
                tokio::time::sleep(retry.backoff * 2u32.saturating_pow(attempt - 1)).await;
            }
            attempt += 1;
            match kinesis.put_records(stream, &pending).await {
                Ok(results) => {
                    let before = pending.len();
                    let mut refused = Vec::new();
                    for (record, result) in pending.into_iter().zip(results) {
                        if let Some(code) = result {
                            last = code;
                            refused.push(record);
                        }
                    }
                    put.records += (before - refused.len()) as u64;
                    if !refused.is_empty() {
                        tracing::warn!(
                            stream,
                            refused = refused.len(),
                            last,
                            "PutRecords refused entries; retrying those"
                        );
                    }
                    pending = refused;
                }
                Err(e) => {
                    tracing::warn!(stream, error = %e, "PutRecords failed; retrying the call");
                    last = e.to_string();
                }
            }
        }
    }
    Ok(put)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(size: usize) -> Record {
        Record {
            data: vec![0; size],
            partition_key: "k".into(),
        }
    }

    #[test]
    fn given_many_small_records_then_calls_hold_at_most_500() {
        let records: Vec<Record> = (0..1201).map(|_| record(10)).collect();
        assert_eq!(calls(&records), [0..500, 500..1000, 1000..1201]);
    }

    #[test]
    fn given_near_1_mib_records_then_calls_hold_at_most_5_mib() {
        let records: Vec<Record> = (0..12).map(|_| record(RECORD_MAX_BYTES - 1)).collect();
        let ranges = calls(&records);
        assert_eq!(ranges, [0..5, 5..10, 10..12]);
        for r in ranges {
            let bytes: usize = records[r].iter().map(Record::size).sum();
            assert!(bytes <= PUT_RECORDS_MAX_BYTES);
        }
        assert!(calls(&[]).is_empty());
    }
}
