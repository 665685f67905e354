//! `das-decrypt`: operator tool that decrypts DAS records to NDJSON events (heartbeats dropped).
//!
//! ```text
//! das-decrypt [FILE] (--resource-id ID [--context-key KEY] | --wrapping-key-hex HEX)
//! ```
//! Reads one or more DAS records (`{"type":"DatabaseActivityMonitoringRecords",…}`, concatenated
//! or one per line) from FILE or stdin. With `--resource-id`, each `key` is decrypted by KMS under
//! `{aws:rds:dbc-id|db-id: ID}` (credentials, region and endpoint from the usual AWS variables);
//! with `--wrapping-key-hex`, the given wrapping key (16, 24 or 32 bytes; DAS uses 32) is used
//! offline.

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::{Context, bail};
use sluice_das::filter::Filters;
use sluice_das::gunzip::Gunzip;
use sluice_das::record::{self, KEY_NAME, OutputLimit, PROVIDER_ID};
use sluice_das::{KeyDecryptor, KmsKeyDecryptor, config::DEFAULT_MAX_PLAINTEXT_BYTES, source};
use sluice_esdk::RawAesKeyring;

const USAGE: &str =
    "usage: das-decrypt [FILE] (--resource-id ID [--context-key KEY] | --wrapping-key-hex HEX)";

#[derive(Default)]
struct Args {
    file: Option<String>,
    resource_id: Option<String>,
    context_key: Option<String>,
    wrapping_key_hex: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--resource-id" => args.resource_id = Some(value("--resource-id")?),
            "--context-key" => args.context_key = Some(value("--context-key")?),
            "--wrapping-key-hex" => args.wrapping_key_hex = Some(value("--wrapping-key-hex")?),
            "-h" | "--help" => bail!("{USAGE}"),
            f if !f.starts_with("--") && args.file.is_none() => args.file = Some(f.to_owned()),
            other => bail!("unexpected argument {other}\n{USAGE}"),
        }
    }
    if args.resource_id.is_some() == args.wrapping_key_hex.is_some() {
        bail!("give exactly one of --resource-id and --wrapping-key-hex\n{USAGE}");
    }
    Ok(args)
}

fn hex(s: &str) -> anyhow::Result<Vec<u8>> {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut input = Vec::new();
    match &args.file {
        Some(path) => input = std::fs::read(path).with_context(|| format!("reading {path}"))?,
        None => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading stdin")?;
        }
    }
    let kms: Option<Arc<dyn KeyDecryptor>> = match &args.resource_id {
        Some(_) => Some(Arc::new(KmsKeyDecryptor::new(aws_sdk_kms::Client::new(
            &sluice_runtime::aws::sdk_config().await,
        )))),
        None => None,
    };
    let offline = args.wrapping_key_hex.as_deref().map(hex).transpose()?;
    let mut out = std::io::stdout().lock();
    let mut gunzip = Gunzip::new();
    let stream = serde_json::Deserializer::from_slice(&input).into_iter::<serde_json::Value>();
    for (n, value) in stream.enumerate() {
        let id = format!("input-{}", n + 1);
        let bytes = serde_json::to_vec(&value.with_context(|| format!("{id}: not JSON"))?)?;
        let das = record::parse_record(&id, &bytes)?;
        let wrapping = match (&kms, &offline, &args.resource_id) {
            (_, Some(k), _) => k.clone(),
            (Some(kms), None, Some(rid)) => {
                let key = record::decode_field(&id, "key", &das.key)?;
                let ck = args
                    .context_key
                    .clone()
                    .unwrap_or_else(|| source::context_key_for(rid).to_owned());
                kms.decrypt_data_key(&key, &source::encryption_context(&ck, rid))
                    .await
                    .with_context(|| format!("{id}: KMS Decrypt"))?
            }
            _ => bail!("{USAGE}"),
        };
        let keyring = RawAesKeyring::new(PROVIDER_ID, KEY_NAME, &wrapping)?;
        let msg =
            record::decode_field(&id, "databaseActivityEvents", &das.database_activity_events)?;
        let plain = record::open_events(
            &id,
            &msg,
            &keyring,
            &mut gunzip,
            DEFAULT_MAX_PLAINTEXT_BYTES,
        )?;
        let routed =
            record::route_events(&id, &plain, &Filters::default(), OutputLimit::Unlimited)?;
        out.write_all(&routed.ndjson)?;
    }
    out.flush()?;
    Ok(())
}
