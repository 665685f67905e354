//! Shared set-up of the adapter tests: the test-bed RDS endpoint, moto S3, the real adapters.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use sluice_rdslogs::download::{RdsDownloader, RetryPolicy, http_client};
use sluice_rdslogs::memory::CountingStore;
use sluice_rdslogs::rds::RdsSource;
use sluice_rdslogs::s3::S3Store;
use sluice_testbed::moto::Moto;
use sluice_testbed::rds_logs::RdsLogs;

/// 2026-11-20T10:00:00Z.
pub const T0: u64 = 1_795_168_800_000;

pub fn credentials(secret: &str) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "testing",
        secret,
        Some("testing".into()),
        None,
        "test",
    ))
}

pub fn sdk(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(sluice_runtime::aws::http_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials("testing"))
        .build()
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
    }
}

/// The real RDS adapter against the test-bed endpoint.
pub fn source(rds: &RdsLogs) -> RdsSource {
    source_with_secret(rds, "testing")
}

pub fn source_with_secret(rds: &RdsLogs, secret: &str) -> RdsSource {
    let client = aws_sdk_rds::Client::new(&sdk(&rds.endpoint()));
    let http = http_client().expect("http client");
    let downloader = RdsDownloader::new(
        http,
        rds.endpoint(),
        "us-east-1",
        credentials(secret),
        fast_retry(),
    );
    RdsSource::new(client, downloader)
}

pub fn s3_client() -> aws_sdk_s3::Client {
    Moto::shared().s3_client()
}

/// A fresh bucket in the shared moto, wrapped in a request counter.
pub async fn bucket() -> (String, CountingStore<S3Store>) {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "logs-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let client = s3_client();
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    let store = CountingStore::new(S3Store::new(client, name.clone()));
    (name, store)
}

pub async fn object(bucket: &str, key: &str) -> Option<Vec<u8>> {
    let out = s3_client()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(
        out.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec(),
    )
}

/// The keys of the copies in `bucket`: every key but the state objects (`rds-logs/_state/`),
/// which a run that claimed an instance leaves even when it recorded nothing.
pub async fn copies(bucket: &str) -> Vec<String> {
    keys(bucket)
        .await
        .into_iter()
        .filter(|k| !k.starts_with("rds-logs/_state/"))
        .collect()
}

pub async fn keys(bucket: &str) -> Vec<String> {
    let out = s3_client()
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

pub async fn open_uploads(bucket: &str) -> usize {
    let out = s3_client()
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .expect("list uploads");
    out.uploads().len()
}
