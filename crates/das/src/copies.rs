//! Optional per-command copies, batched: all kept events of one invocation grouped by
//! (command, event date) into one object each, `<prefix>parsed/<command>/<yyyy>/<mm>/<dd>/<invocation id>.jsonl`.
//! The date is each event's own; events without a command are not copied.

use std::collections::BTreeMap;

use sluice_firehose::sanitize_partition_value;

use crate::config::CopiesTarget;
use crate::kms::BoxFuture;
use crate::partition::PartitionDate;
use crate::record::Routed;

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyObject {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// NDJSON body.
    pub body: Vec<u8>,
}

/// Kept events grouped by (command, date) while a batch is processed.
#[derive(Debug, Default)]
pub struct CopySet {
    groups: BTreeMap<(String, PartitionDate), Vec<u8>>,
}

impl CopySet {
    /// Adds the kept events of a record answered `Ok`; `record_date` is the fallback date.
    pub fn add(&mut self, routed: &Routed, record_date: &PartitionDate) {
        for event in &routed.kept {
            let Some(command) = routed.command(event) else {
                continue;
            };
            let date = PartitionDate::of_event(event.epoch_ms, record_date);
            let line = routed.ndjson.get(event.range.clone()).unwrap_or_default();
            self.groups
                .entry((sanitize_partition_value(command), date))
                .or_default()
                .extend_from_slice(line);
        }
    }

    /// The objects, one per (command, date), named for `invocation_id`.
    pub fn into_objects(self, target: &CopiesTarget, invocation_id: &str) -> Vec<CopyObject> {
        let name = sanitize_partition_value(invocation_id);
        self.groups
            .into_iter()
            .map(|((command, d), body)| CopyObject {
                bucket: target.bucket.clone(),
                key: copy_key(&target.prefix, &command, &d, &name),
                body,
            })
            .collect()
    }
}

/// `<prefix>parsed/<command>/<yyyy>/<mm>/<dd>/<name>.jsonl`.
pub fn copy_key(prefix: &str, command: &str, date: &PartitionDate, name: &str) -> String {
    format!(
        "{prefix}parsed/{command}/{}/{}/{}/{name}.jsonl",
        date.yyyy, date.mm, date.dd
    )
}

/// Why a copy could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PutObject s3://{bucket}/{key} failed ({code}): {message}")]
pub struct CopyError {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// S3 error code or SDK failure class.
    pub code: String,
    /// What happened.
    pub message: String,
}

/// Writes one object.
pub trait ObjectWriter: Send + Sync {
    /// Puts `object`.
    fn put<'a>(&'a self, object: &'a CopyObject) -> BoxFuture<'a, Result<(), CopyError>>;
}

/// The real adapter: `s3:PutObject`.
#[derive(Debug, Clone)]
pub struct S3ObjectWriter {
    client: aws_sdk_s3::Client,
}

impl S3ObjectWriter {
    /// Wraps an S3 client built once at cold start.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }
}

impl ObjectWriter for S3ObjectWriter {
    fn put<'a>(&'a self, object: &'a CopyObject) -> BoxFuture<'a, Result<(), CopyError>> {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(&object.bucket)
                .key(&object.key)
                .content_type(if object.key.ends_with(".gz") {
                    "application/gzip"
                } else {
                    "application/x-ndjson"
                })
                .body(object.body.clone().into())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    let (code, message) = match &e {
                        aws_sdk_s3::error::SdkError::ServiceError(s) => (
                            s.err().code().unwrap_or("Unknown").to_owned(),
                            s.err().message().unwrap_or_default().to_owned(),
                        ),
                        other => (
                            "SdkError".to_owned(),
                            aws_sdk_s3::error::DisplayErrorContext(other).to_string(),
                        ),
                    };
                    CopyError {
                        bucket: object.bucket.clone(),
                        key: object.key.clone(),
                        code,
                        message,
                    }
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::KeptEvent;

    #[test]
    fn given_events_of_two_commands_and_two_dates_then_one_object_per_pair() {
        let day = 86_400_000;
        let mut routed = Routed::default();
        for (i, (cmd, ms)) in [
            ("SELECT", 0),
            ("SELECT", 0),
            ("SELECT", day),
            ("CREATE INDEX", 0),
        ]
        .into_iter()
        .enumerate()
        {
            let start = routed.ndjson.len();
            routed
                .ndjson
                .extend_from_slice(format!("{{\"n\":{i}}}\n").as_bytes());
            let command = Some(routed.intern(cmd));
            routed.kept.push(KeptEvent {
                command,
                epoch_ms: Some(ms),
                range: start..routed.ndjson.len(),
            });
        }
        routed.kept.push(KeptEvent {
            command: None,
            epoch_ms: None,
            range: 0..0,
        });
        let mut set = CopySet::default();
        set.add(&routed, &PartitionDate::from_ms(0));
        set.add(&routed, &PartitionDate::from_ms(0));
        let target = CopiesTarget {
            bucket: "b".into(),
            prefix: "das/".into(),
        };
        let objects = set.into_objects(&target, "inv-1");
        let keys: Vec<_> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "das/parsed/CREATE_INDEX/1970/01/01/inv-1.jsonl",
                "das/parsed/SELECT/1970/01/01/inv-1.jsonl",
                "das/parsed/SELECT/1970/01/02/inv-1.jsonl",
            ]
        );
        assert_eq!(
            objects[1].body,
            b"{\"n\":0}\n{\"n\":1}\n{\"n\":0}\n{\"n\":1}\n"
        );
    }
}
