//! `das-decrypt replay`: the events of records Firehose delivered to the error prefix, written
//! where the delivery stream would have put them.
//!
//! Every object under `--from` is read as Firehose's error output ([`crate::decrypt`]); each
//! record is decrypted, filtered and (with `DAS_REDACT_LITERALS`) redacted as the transformer does and its events go to
//! `<to>/events/<resource>/<class>/<yyyy>/<mm>/<dd>/replayed-<error object's name>.gz`
//! (gzipped NDJSON, as the delivery stream writes): one object per error object and partition.
//! A name that already exists is left alone, so a second run writes nothing; an error object
//! holding a record that cannot be opened is reported and replays nothing, so that a later run
//! (with the right key) writes all of it.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;

use anyhow::{Context, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use sluice_das::filter::Filters;
use sluice_das::gunzip::Gunzip;
use sluice_das::partition::{PartitionDate, partition_keys};
use sluice_das::redact::Redaction;
use sluice_firehose::sanitize_partition_value;

use crate::decrypt::{self, KeySource};

/// `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The key prefix as given (a plain prefix, as S3 lists them), may be empty.
    pub prefix: String,
}

impl FromStr for S3Url {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let Some(rest) = s.strip_prefix("s3://") else {
            bail!("{s:?} is not an s3://bucket/prefix URL");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("{s:?} names no bucket");
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Error objects read.
    pub objects: usize,
    /// Records found in them.
    pub records: usize,
    /// Events recovered (kept by the filters).
    pub events: usize,
    /// Objects written.
    pub written: usize,
    /// Objects that were already there (an earlier replay wrote them).
    pub already: usize,
    /// Why records could not be opened, one line each (their objects replayed nothing).
    pub failed: Vec<String>,
}

/// Replays every error object under `from` into the delivery layout under `to`, events filtered
/// and redacted as the transformer does.
pub async fn replay(
    s3: &Client,
    from: &S3Url,
    to: &S3Url,
    resource_id: &str,
    keys: &KeySource,
    (filters, redaction): (&Filters, Redaction),
) -> anyhow::Result<Summary> {
    let resource = sanitize_partition_value(resource_id);
    let mut summary = Summary::default();
    let mut gunzip = Gunzip::new();
    for key in list(s3, from).await? {
        summary.objects += 1;
        let body = s3
            .get_object()
            .bucket(&from.bucket)
            .key(&key)
            .send()
            .await
            .with_context(|| format!("GetObject s3://{}/{key}", from.bucket))?
            .body
            .collect()
            .await
            .with_context(|| format!("reading s3://{}/{key}", from.bucket))?
            .into_bytes();
        let inputs = match decrypt::inputs(&key, &body) {
            Ok(inputs) => inputs,
            Err(e) => {
                summary.failed.push(format!("{e:#}"));
                continue;
            }
        };
        summary.records += inputs.len();
        // Partition path → NDJSON of this object's events there.
        let mut parts: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut events = 0;
        let mut failed = false;
        for input in &inputs {
            match decrypt::open(input, keys, filters, redaction, &mut gunzip).await {
                Ok(routed) if routed.kept.is_empty() => {}
                Ok(routed) => {
                    let date = PartitionDate::of(&routed, input.arrival_ms);
                    let class = sanitize_partition_value(&routed.class);
                    let path = partition_keys(&resource, &class, &date)
                        .map(|(_, v)| v)
                        .join("/");
                    parts.entry(path).or_default().extend(&routed.ndjson);
                    events += routed.kept.len();
                }
                Err(e) => {
                    summary.failed.push(format!("{e:#}"));
                    failed = true;
                }
            }
        }
        if failed {
            continue;
        }
        summary.events += events;
        let name = key.rsplit('/').next().unwrap_or(&key);
        let name = name.strip_suffix(".gz").unwrap_or(name);
        for (path, ndjson) in parts {
            let out = join(&to.prefix, &format!("events/{path}/replayed-{name}.gz"));
            if exists(s3, &to.bucket, &out).await? {
                summary.already += 1;
                continue;
            }
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&ndjson)?;
            s3.put_object()
                .bucket(&to.bucket)
                .key(&out)
                .body(ByteStream::from(gz.finish()?))
                .send()
                .await
                .with_context(|| format!("PutObject s3://{}/{out}", to.bucket))?;
            summary.written += 1;
        }
    }
    Ok(summary)
}

/// `rest` under `prefix` taken as a folder.
fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}/{rest}")
    }
}

/// Every key that starts with `url`'s prefix, in order.
async fn list(s3: &Client, url: &S3Url) -> anyhow::Result<Vec<String>> {
    let prefix = &url.prefix;
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&url.bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("ListObjectsV2 s3://{}/{prefix}", url.bucket))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

async fn exists(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<bool> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("HeadObject s3://{bucket}/{key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_s3_urls_then_bucket_and_prefix_are_read() {
        let u: S3Url = "s3://b/activity-streams-errors/processing-failed/"
            .parse()
            .unwrap();
        assert_eq!(u.bucket, "b");
        assert_eq!(u.prefix, "activity-streams-errors/processing-failed/");
        assert_eq!(join("p", "events/x"), "p/events/x");
        assert_eq!(join("p/", "events/x"), "p/events/x");
        assert_eq!(join("", "events/x"), "events/x");
        assert_eq!("s3://b".parse::<S3Url>().unwrap().prefix, "");
        assert!("b/x".parse::<S3Url>().is_err());
        assert!("s3:///x".parse::<S3Url>().is_err());
    }
}
