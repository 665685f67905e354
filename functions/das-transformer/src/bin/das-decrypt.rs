//! `das-decrypt`: operator tool that decrypts DAS records to NDJSON events (heartbeats dropped).
//!
//! ```text
//! das-decrypt [FILE] (--resource-id ID [--context-key KEY] | --wrapping-key-hex HEX)
//! das-decrypt replay --from s3://BUCKET/ERROR-PREFIX --to s3://BUCKET/DAS-PREFIX
//!             --resource-id ID [--context-key KEY] [--wrapping-key-hex HEX]
//! ```
//! Reads DAS records (`{"type":"DatabaseActivityMonitoringRecords",…}`) or Firehose's error
//! records around them (`{"rawData":…}`, as under `<DasS3Prefix>-errors/processing-failed/`),
//! concatenated or one per line, gzipped or not, from FILE or stdin, and prints the events as
//! NDJSON. With `--resource-id` alone, each `key` is decrypted by KMS under
//! `{aws:rds:dbc-id|db-id: ID}` (credentials, region and endpoint from the usual AWS variables);
//! with `--wrapping-key-hex`, the given wrapping key (16, 24 or 32 bytes; DAS uses 32) is used
//! offline.
//!
//! `replay` reads every object under `--from` and writes the recovered events where the delivery
//! stream would have put them (see `das_transformer::replay`); the stack's `DAS_*` filter
//! variables and `DAS_REDACT_LITERALS`, if set, filter and redact as the transformer does.
//! Without `replay`, events are printed as recorded (no filter, no redaction): the operator's
//! forensic view. It prints a summary and exits non-zero when
//! a record could not be opened.

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::{Context, bail};
use das_transformer::decrypt::{self, KeySource};
use das_transformer::replay::{self, S3Url};
use sluice_das::filter::Filters;
use sluice_das::gunzip::Gunzip;
use sluice_das::redact::Redaction;
use sluice_das::{DasConfig, KmsKeyDecryptor};
use sluice_runtime::config::Env;

const USAGE: &str = "usage: das-decrypt [FILE] (--resource-id ID [--context-key KEY] | --wrapping-key-hex HEX)\n       das-decrypt replay --from s3://BUCKET/ERROR-PREFIX --to s3://BUCKET/DAS-PREFIX --resource-id ID [--context-key KEY] [--wrapping-key-hex HEX]";

#[derive(Default)]
struct Args {
    replay: bool,
    file: Option<String>,
    from: Option<String>,
    to: Option<String>,
    resource_id: Option<String>,
    context_key: Option<String>,
    wrapping_key_hex: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1).peekable();
    if it.peek().map(String::as_str) == Some("replay") {
        it.next();
        args.replay = true;
    }
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--resource-id" => args.resource_id = Some(value("--resource-id")?),
            "--context-key" => args.context_key = Some(value("--context-key")?),
            "--wrapping-key-hex" => args.wrapping_key_hex = Some(value("--wrapping-key-hex")?),
            "--from" if args.replay => args.from = Some(value("--from")?),
            "--to" if args.replay => args.to = Some(value("--to")?),
            "-h" | "--help" => bail!("{USAGE}"),
            f if !f.starts_with("--") && !args.replay && args.file.is_none() => {
                args.file = Some(f.to_owned());
            }
            other => bail!("unexpected argument {other}\n{USAGE}"),
        }
    }
    if args.replay {
        if args.from.is_none() || args.to.is_none() || args.resource_id.is_none() {
            bail!(
                "replay needs --from, --to and --resource-id (the partition the events go to)\n{USAGE}"
            );
        }
    } else if args.resource_id.is_some() == args.wrapping_key_hex.is_some() {
        bail!("give exactly one of --resource-id and --wrapping-key-hex\n{USAGE}");
    }
    Ok(args)
}

async fn key_source(
    args: &Args,
    sdk: Option<&sluice_runtime::aws::SdkConfig>,
) -> anyhow::Result<KeySource> {
    if let Some(hex) = &args.wrapping_key_hex {
        return Ok(KeySource::Offline(decrypt::hex_key(hex)?));
    }
    let (Some(rid), Some(sdk)) = (&args.resource_id, sdk) else {
        bail!("{USAGE}");
    };
    Ok(KeySource::kms(
        Arc::new(KmsKeyDecryptor::new(aws_sdk_kms::Client::new(sdk))),
        rid,
        args.context_key.as_deref(),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    if args.replay {
        return run_replay(&args).await;
    }
    let mut input = Vec::new();
    let source = match &args.file {
        Some(path) => {
            input = std::fs::read(path).with_context(|| format!("reading {path}"))?;
            path.as_str()
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading stdin")?;
            "input"
        }
    };
    let sdk = match args.resource_id {
        Some(_) if args.wrapping_key_hex.is_none() => Some(sluice_runtime::aws::sdk_config().await),
        _ => None,
    };
    let keys = key_source(&args, sdk.as_ref()).await?;
    let mut out = std::io::stdout().lock();
    let mut gunzip = Gunzip::new();
    for found in decrypt::inputs(source, &input)? {
        let routed = decrypt::open(
            &found,
            &keys,
            &Filters::default(),
            Redaction::Off,
            &mut gunzip,
        )
        .await?;
        out.write_all(&routed.ndjson)?;
    }
    out.flush()?;
    Ok(())
}

#[allow(clippy::print_stdout, reason = "the CLI's summary")]
async fn run_replay(args: &Args) -> anyhow::Result<()> {
    let (Some(from), Some(to), Some(rid)) = (&args.from, &args.to, &args.resource_id) else {
        bail!("{USAGE}");
    };
    let (from, to): (S3Url, S3Url) = (from.parse()?, to.parse()?);
    let env = Env::from_process();
    let config = DasConfig::from_env(&env).context("the DAS_* filter variables")?;
    let sdk = sluice_runtime::aws::sdk_config().await;
    let s3 = sluice_runtime::aws::s3_client(&sdk, &env);
    let keys = key_source(args, Some(&sdk)).await?;
    let s = replay::replay(
        &s3,
        &from,
        &to,
        rid,
        &keys,
        (&config.filters, config.redaction),
    )
    .await?;
    println!(
        "replay: {} error objects, {} records, {} events recovered; {} objects written, {} already there; {} records failed",
        s.objects,
        s.records,
        s.events,
        s.written,
        s.already,
        s.failed.len()
    );
    for f in &s.failed {
        println!("  failed: {f}");
    }
    if !s.failed.is_empty() {
        bail!(
            "{} records could not be opened; their objects were not replayed",
            s.failed.len()
        );
    }
    Ok(())
}
