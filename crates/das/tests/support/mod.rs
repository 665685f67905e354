//! Test-only builders of DAS records: realistic event payloads (Aurora PostgreSQL and MySQL
//! shapes), and an ESDK encryptor for the exact message real DAS sends (format v1, suite 0x0178,
//! framed 4096, unsigned, empty context, one EDK from provider `BC`, key name `DataKey`),
//! adapted from `crates/esdk/tests/support` (written from the spec, independent of the decrypt
//! code). Shared by the integration tests and the benchmark. Python-made records with moto KMS
//! are in `functions/das-transformer/tests`.
#![allow(dead_code, clippy::unwrap_used, clippy::type_complexity, missing_docs)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use hkdf::Hkdf;
use serde_json::{Value, json};
use sha2::Sha256;
use sluice_das::kms::{BoxFuture, KeyDecryptor, KmsError};
use sluice_firehose::{FirehoseEvent, FirehoseRecord};

pub const RESOURCE_ID: &str = "cluster-DEMO4TESTS";
pub const STREAM_ARN: &str =
    "arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-cluster-DEMO4TESTS";

fn seal(key: &[u8], iv: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    Aes256Gcm::new_from_slice(key)
        .unwrap()
        .encrypt_inout_detached(iv.into(), aad, InOutBuf::from(buf))
        .unwrap()
        .into()
}

fn u16_prefixed(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u16).to_be_bytes());
    out.extend_from_slice(field);
}

fn body_aad(message_id: &[u8], label: &str, seq: u32, len: usize) -> Vec<u8> {
    let mut aad = message_id.to_vec();
    aad.extend_from_slice(label.as_bytes());
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&(len as u64).to_be_bytes());
    aad
}

/// Encrypts `plaintext` as DAS does, wrapping a data key derived from `seed` with `wrapping_key`.
pub fn esdk_encrypt(wrapping_key: &[u8; 32], plaintext: &[u8], seed: u8) -> Vec<u8> {
    const FRAME: usize = 4096;
    let message_id = [seed ^ 0x5A; 16];
    let data_key = [seed ^ 0x3C; 32];
    let wrap_iv = [seed ^ 0x77; 12];
    let mut wrapped = data_key.to_vec();
    let tag = seal(wrapping_key, &wrap_iv, &[], &mut wrapped);
    wrapped.extend_from_slice(&tag);
    let mut info = b"DataKey".to_vec();
    info.extend_from_slice(&128u32.to_be_bytes());
    info.extend_from_slice(&12u32.to_be_bytes());
    info.extend_from_slice(&wrap_iv);

    let suite = 0x0178u16.to_be_bytes();
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, &data_key)
        .expand(&[&suite[..], &message_id].concat(), &mut key)
        .unwrap();

    let mut m = vec![1, 0x80];
    m.extend_from_slice(&suite);
    m.extend_from_slice(&message_id);
    u16_prefixed(&mut m, &[]);
    m.extend_from_slice(&1u16.to_be_bytes());
    u16_prefixed(&mut m, b"BC");
    u16_prefixed(&mut m, &info);
    u16_prefixed(&mut m, &wrapped);
    m.push(2);
    m.extend_from_slice(&[0, 0, 0, 0, 12]);
    m.extend_from_slice(&(FRAME as u32).to_be_bytes());
    let header_tag = seal(&key, &[0u8; 12], &m, &mut []);
    m.extend_from_slice(&[0u8; 12]);
    m.extend_from_slice(&header_tag);

    let mut rest = plaintext;
    let mut seq = 1u32;
    loop {
        let is_final = rest.len() < FRAME;
        let (chunk, tail) = rest.split_at(rest.len().min(FRAME));
        let mut iv = [0u8; 12];
        iv[8..].copy_from_slice(&seq.to_be_bytes());
        let label = if is_final {
            "AWSKMSEncryptionClient Final Frame"
        } else {
            "AWSKMSEncryptionClient Frame"
        };
        let mut ct = chunk.to_vec();
        let tag = seal(
            &key,
            &iv,
            &body_aad(&message_id, label, seq, ct.len()),
            &mut ct,
        );
        if is_final {
            m.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&iv);
        if is_final {
            m.extend_from_slice(&(ct.len() as u32).to_be_bytes());
        }
        m.extend_from_slice(&ct);
        m.extend_from_slice(&tag);
        if is_final {
            return m;
        }
        rest = tail;
        seq += 1;
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An Aurora PostgreSQL event of `class`/`command` at `log_time` (version 1.1 field set).
pub fn pg_event(class: &str, command: &str, user: &str, log_time: &str, n: usize) -> Value {
    json!({
        "logTime": log_time, "statementId": n, "substatementId": 1, "objectType": "TABLE",
        "command": command, "objectName": format!("public.orders_{}", n % 7),
        "databaseName": "billing", "dbUserName": user, "remoteHost": "10.0.1.108",
        "remotePort": "42216", "sessionId": "60b98a86.4f64", "rowCount": n % 50,
        "commandText": format!("{command} /* secret-marker-{n} */ FROM public.orders WHERE id = $1 AND customer = 'Ada Lovelace'"),
        "paramList": [format!("{n}")], "pid": 20324, "clientApplication": "psql",
        "exitCode": null, "class": class, "serverVersion": "16.4.1", "serverType": "PostgreSQL",
        "serviceName": "Amazon Aurora PostgreSQL-Compatible edition", "serverHost": "10.0.4.153",
        "netProtocol": "TCP", "dbProtocol": "Postgres 3.0", "type": "record",
        "startTime": log_time, "errorMessage": null
    })
}

/// An Aurora MySQL event (version 1.2 shape: numeric fields, `transactionId`, an unknown field).
pub fn mysql_event(class: &str, command: &str, user: &str, log_time: &str, n: usize) -> Value {
    json!({
        "class": class, "clientApplication": null, "command": command,
        "commandText": format!("select * from orders where id = {n} -- secret-marker-{n}"),
        "databaseName": "shop", "dbProtocol": "MySQL", "dbUserName": user, "endTime": null,
        "errorMessage": null, "exitCode": 0, "logTime": log_time, "netProtocol": "TCP",
        "objectName": "orders", "objectType": "TABLE", "paramList": null, "pid": 2830,
        "remoteHost": "10.0.2.11", "remotePort": "11054", "rowCount": 1,
        "serverHost": "master", "serverType": "MySQL", "serverVersion": "MySQL 8.0.39",
        "serviceName": "Amazon Aurora MySQL", "sessionId": 114, "startTime": log_time,
        "statementId": n, "substatementId": 1, "transactionId": "0", "type": "record",
        "someFutureField": {"nested": [1, 2, 3]}
    })
}

pub fn heartbeat(log_time: &str) -> Value {
    json!({"type": "heartbeat", "logTime": log_time, "clientApplication": null, "class": null})
}

/// The plaintext document DAS encrypts.
pub fn payload(events: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "DatabaseActivityMonitoringRecord",
        "clusterId": RESOURCE_ID, "instanceId": "db-INSTANCE1",
        "databaseActivityEventList": events
    }))
    .unwrap()
}

/// The outer DAS record for a plaintext, with `key` as the KMS ciphertext bytes.
pub fn das_record(
    version: &str,
    key: &[u8],
    wrapping_key: &[u8; 32],
    plain: &[u8],
    seed: u8,
) -> Vec<u8> {
    let msg = esdk_encrypt(wrapping_key, &gzip(plain), seed);
    serde_json::to_vec(&json!({
        "type": "DatabaseActivityMonitoringRecords", "version": version,
        "databaseActivityEvents": STANDARD.encode(msg), "key": STANDARD.encode(key)
    }))
    .unwrap()
}

pub fn firehose_record(id: &str, bytes: &[u8]) -> FirehoseRecord {
    FirehoseRecord {
        record_id: id.to_owned(),
        approximate_arrival_timestamp: Some(1_795_000_000_000),
        data: STANDARD.encode(bytes),
        kinesis_record_metadata: None,
    }
}

pub fn firehose_event(records: Vec<FirehoseRecord>) -> FirehoseEvent {
    FirehoseEvent {
        invocation_id: "inv-0001".into(),
        delivery_stream_arn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/das".into(),
        source_kinesis_stream_arn: Some(STREAM_ARN.into()),
        region: "us-east-1".into(),
        records,
    }
}

/// In-process KMS: `ciphertext` → wrapping key, valid only under the context it was "encrypted" with.
#[derive(Default)]
pub struct FakeKms {
    keys: Mutex<BTreeMap<Vec<u8>, (BTreeMap<String, String>, Vec<u8>)>>,
    pub calls: AtomicUsize,
    /// When set, every call fails with this.
    pub fail_with: Mutex<Option<KmsError>>,
}

impl FakeKms {
    /// Registers a wrapping key; returns its "ciphertext".
    pub fn encrypt(&self, wrapping_key: &[u8], context: BTreeMap<String, String>) -> Vec<u8> {
        let mut keys = self.keys.lock().unwrap();
        let ct = format!("fake-kms-ciphertext-{}", keys.len()).into_bytes();
        keys.insert(ct.clone(), (context, wrapping_key.to_vec()));
        ct
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl KeyDecryptor for FakeKms {
    fn decrypt_data_key<'a>(
        &'a self,
        ciphertext: &'a [u8],
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<u8>, KmsError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let result = if let Some(e) = self.fail_with.lock().unwrap().clone() {
            Err(e)
        } else {
            match self.keys.lock().unwrap().get(ciphertext) {
                Some((ctx, key)) if ctx == context => Ok(key.clone()),
                _ => Err(KmsError::Refused {
                    code: "InvalidCiphertextException".into(),
                    message: String::new(),
                }),
            }
        };
        Box::pin(async move { result })
    }
}

pub fn cluster_context() -> BTreeMap<String, String> {
    BTreeMap::from([("aws:rds:dbc-id".to_owned(), RESOURCE_ID.to_owned())])
}
