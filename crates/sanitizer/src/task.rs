//! The whole task as `main` runs it: config, secret, script (refused unless it has the pinned
//! digest), run; always a summary.

use sluice_runtime::config::Env;

use crate::config::{Config, SCRIPT, SCRIPT_SHA256, ScriptSource};
use crate::summary::Summary;

/// Where to write the summary as well, `s3://bucket/key` (set by the pipeline: its `attest`
/// step reads it into the kept snapshot's report). Optional.
pub const SUMMARY_URI: &str = "SANITIZER_SUMMARY_URI";

/// Writes `json` (the summary, counts only) to [`SUMMARY_URI`] when it is set; an error names
/// the object. The bucket's default encryption applies.
pub async fn write_summary(env: &Env, json: &str) -> Result<(), String> {
    let Some(uri) = env.optional(SUMMARY_URI) else {
        return Ok(());
    };
    let (bucket, key) = uri
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("{SUMMARY_URI} {uri:?}: expected s3://bucket/key"))?;
    let sdk = sluice_runtime::aws::sdk_config().await;
    sluice_runtime::aws::s3_client(&sdk, env)
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(json.as_bytes().to_vec().into())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "writing the summary to {uri}: {}",
                crate::aws::describe(&e.into_service_error())
            )
        })
}

/// Runs the task with settings from `env`. Every failure ends in the summary; the caller
/// prints it and exits non-zero unless [`Summary::ok`].
pub async fn run_task(env: &Env) -> Summary {
    let config = match Config::from_env(env) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "bad configuration");
            let mut s = Summary::new(false);
            s.fail(&e.to_string());
            return s;
        }
    };
    let sdk = sluice_runtime::aws::sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let creds = match crate::aws::credentials(&secrets, &config.secret_arn).await {
        Ok(c) => c,
        Err(e) => return failed(&config, &e.to_string()),
    };
    let text = match &config.script {
        ScriptSource::Inline(text) => text.clone(),
        ScriptSource::S3 { bucket, key } => {
            let s3 = sluice_runtime::aws::s3_client(&sdk, env);
            match crate::aws::script(&s3, bucket, key).await {
                Ok(t) => t,
                Err(e) => {
                    let mut s = failed(&config, &e.to_string());
                    s.redact(&creds.password);
                    return s;
                }
            }
        }
    };
    if let Err(why) = check_pin(&config, &text) {
        let mut s = failed(&config, &why);
        s.redact(&creds.password);
        return s;
    }
    crate::sanitize(&config, &creds, &text).await
}

/// Refuses a script whose SHA-256 is not the pinned one, naming where it came from and both
/// digests (never its content): the object may have changed since the pipeline checked it.
pub fn check_pin(config: &Config, text: &str) -> Result<(), String> {
    let Some(pin) = &config.script_sha256 else {
        return Ok(());
    };
    pin.check(text.as_bytes()).map_err(|mismatch| {
        let from = match &config.script {
            ScriptSource::Inline(_) => format!("script ({SCRIPT})"),
            ScriptSource::S3 { bucket, key } => format!("script s3://{bucket}/{key}"),
        };
        format!("{from} is not the pinned one: {mismatch} ({SCRIPT_SHA256}); refusing to run it")
    })
}

fn failed(config: &Config, why: &str) -> Summary {
    tracing::error!(error = why, "task failed");
    let mut s = Summary::new(config.dry_run);
    s.engine = Some(config.engine.name().to_owned());
    s.database = Some(config.database.clone());
    s.fail(why);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_runtime::pin::Sha256Pin;

    const SCRIPT_TEXT: &str =
        "UPDATE customers SET email = 'x';\n-- @verify\nSELECT 1 WHERE false;";

    fn config(pin: Option<Sha256Pin>) -> Config {
        let mut c = Config::from_env(&Env::from_pairs([
            ("SANITIZER_ENGINE", "postgres"),
            ("SANITIZER_ENDPOINT", "db.example"),
            ("SANITIZER_DATABASE", "app"),
            (
                "SANITIZER_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:x",
            ),
            ("SANITIZER_SCRIPT", "SELECT 1"),
        ]))
        .expect("config");
        c.script = ScriptSource::S3 {
            bucket: "scripts".into(),
            key: "sanitize.sql".into(),
        };
        c.script_sha256 = pin;
        c
    }

    #[test]
    fn given_the_pinned_script_then_it_may_run() {
        let c = config(Some(Sha256Pin::of(SCRIPT_TEXT.as_bytes())));
        assert_eq!(check_pin(&c, SCRIPT_TEXT), Ok(()));
    }

    #[test]
    fn given_a_changed_script_then_it_is_refused_naming_both_digests_and_not_its_content() {
        let pin = Sha256Pin::of(SCRIPT_TEXT.as_bytes());
        let changed = "-- @verify\n";
        let why = check_pin(&config(Some(pin)), changed).expect_err("changed");
        assert!(why.contains("s3://scripts/sanitize.sql"), "{why}");
        assert!(why.contains(&pin.to_string()), "{why}");
        assert!(
            why.contains(&Sha256Pin::of(changed.as_bytes()).to_string()),
            "{why}"
        );
        assert!(
            why.contains(SCRIPT_SHA256) && !why.contains("@verify"),
            "{why}"
        );
    }
}
