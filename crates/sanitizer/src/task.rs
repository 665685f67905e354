//! The whole task as `main` runs it: config, secret, script, run; always a summary.

use sluice_runtime::config::Env;

use crate::config::{Config, ScriptSource};
use crate::summary::Summary;

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
    crate::sanitize(&config, &creds, &text).await
}

fn failed(config: &Config, why: &str) -> Summary {
    tracing::error!(error = why, "task failed");
    let mut s = Summary::new(config.dry_run);
    s.engine = Some(config.engine.name().to_owned());
    s.database = Some(config.database.clone());
    s.fail(why);
    s
}
