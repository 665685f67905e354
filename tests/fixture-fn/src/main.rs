//! A fixture Lambda for the test bed's own tests. It goes through exactly the path a real
//! function does (`sluice_runtime` tracing, config, SDK load, `Diagnostic` errors) so the
//! tests prove that path against moto and under the real ASL engine.
//!
//! Ops (field `op`): `wait` (NotReady until called `ready_after` times for `key`), `fail`
//! (an error of the given `errorType`), `cleanup`, `s3_roundtrip`, `kms_roundtrip`.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_kms::primitives::Blob;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use sluice_runtime::aws::{SdkConfig, s3_client};
use sluice_runtime::config::Env;
use sluice_runtime::{ErrorKind, StepError};

static CALLS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, StepError> {
    v[name]
        .as_str()
        .ok_or_else(|| StepError::invalid_input(format!("field {name} is required")))
}

fn aws_err(e: impl std::error::Error) -> StepError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    StepError::new(ErrorKind::Aws, text)
}

async fn handle(event: Value, sdk: &SdkConfig) -> Result<Value, StepError> {
    match str_field(&event, "op")? {
        "wait" => {
            let key = str_field(&event, "key")?.to_owned();
            let ready_after = event["ready_after"].as_u64().unwrap_or(1);
            let n = {
                let mut guard = CALLS.lock().unwrap_or_else(|e| e.into_inner());
                let count = guard
                    .get_or_insert_with(HashMap::new)
                    .entry(key.clone())
                    .or_default();
                *count += 1;
                *count
            };
            if n < ready_after {
                return Err(StepError::not_ready(format!(
                    "{key}: attempt {n} of {ready_after}"
                )));
            }
            Ok(json!({"ready": true, "attempts": n}))
        }
        "fail" => {
            let kind = str_field(&event, "errorType")?;
            let kind = ErrorKind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| StepError::invalid_input(format!("unknown errorType {kind}")))?;
            Err(StepError::new(
                kind,
                event["message"].as_str().unwrap_or("injected failure"),
            ))
        }
        "cleanup" => Ok(json!({"cleaned": true})),
        "s3_roundtrip" => {
            let s3 = s3_client(sdk, &Env::from_process());
            let bucket = str_field(&event, "bucket")?;
            let key = str_field(&event, "key")?;
            let body = str_field(&event, "body")?;
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .map_err(aws_err)?;
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .map_err(aws_err)?;
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(aws_err)?;
            let bytes = got.body.collect().await.map_err(aws_err)?.into_bytes();
            Ok(json!({"body": String::from_utf8_lossy(&bytes)}))
        }
        "kms_roundtrip" => {
            let kms = aws_sdk_kms::Client::new(sdk);
            let ctx = |name: &str| -> HashMap<String, String> {
                serde_json::from_value(event[name].clone()).unwrap_or_default()
            };
            let key = kms.create_key().send().await.map_err(aws_err)?;
            let key_id = key
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .unwrap_or_default();
            let enc = kms
                .encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(str_field(&event, "plaintext")?.as_bytes()))
                .set_encryption_context(Some(ctx("context")))
                .send()
                .await
                .map_err(aws_err)?;
            let dec = kms
                .decrypt()
                .ciphertext_blob(
                    enc.ciphertext_blob()
                        .cloned()
                        .unwrap_or_else(|| Blob::new(vec![])),
                )
                .set_encryption_context(Some(ctx("decrypt_context")))
                .send()
                .await
                .map_err(|e| {
                    let code = e
                        .as_service_error()
                        .and_then(|s| s.meta().code())
                        .unwrap_or("?")
                        .to_owned();
                    StepError::new(ErrorKind::Aws, format!("kms decrypt refused: {code}"))
                })?;
            let plain = dec
                .plaintext()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default();
            Ok(json!({"plaintext": String::from_utf8_lossy(&plain)}))
        }
        other => Err(StepError::invalid_input(format!("unknown op {other}"))),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    sluice_runtime::init_tracing();
    let sdk = sluice_runtime::aws::sdk_config().await;
    let sdk = &sdk;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(event.payload, sdk).await
    }))
    .await
}
