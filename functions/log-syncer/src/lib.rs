//! `log-syncer`: on a schedule, copies the RDS log files that changed since the last run to
//! `s3://<bucket>/<prefix>/<instance>/<yyyy>/<mm>/<dd>/<file>`.
//!
//! The scheduled event is ignored except an optional override `{"instances": ["db-1", …]}`.
//! Each instance is synced independently; the answer lists each instance's result and one EMF
//! metric line per instance reports it. The invocation fails only when the instances cannot be
//! determined; per-instance failures are reported (ERROR log + `InstanceFailed` metric).
//! Runs that overlap copy each instance once: an instance another run is copying is left to
//! it (`InstanceBusy` metric, see `sluice_rdslogs::sync`); the lease this run takes lasts
//! until the invocation's deadline. Once every `RECONCILE_HOURS` per instance a run checks the
//! recorded copies against S3 and copies again those gone; a file RDS rotated away before it
//! was completely copied is logged (ERROR, instance and file named) and counted
//! (`FilesLostBeforeCopy`). The operator's guide is `docs/rds-log-sync.md`.

pub mod config;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use sluice_rdslogs::download::{RdsDownloader, RetryPolicy};
use sluice_rdslogs::rds::{RdsSource, resolve_endpoint};
use sluice_rdslogs::s3::S3Store;
use sluice_rdslogs::{Claim, InstanceReport, LogSource, ObjectStore, Selection, sync_all};
use sluice_runtime::aws::SdkConfig;
use sluice_runtime::config::Env;
use sluice_runtime::metrics::Metrics;
use sluice_runtime::{ErrorKind, StepError};

pub use config::Config;

/// What the handler works with, built once at cold start.
pub struct Deps {
    /// RDS (listing and downloads).
    pub source: Arc<dyn LogSource>,
    /// The log bucket.
    pub store: Arc<dyn ObjectStore>,
    /// Settings.
    pub config: Config,
}

impl Deps {
    /// Real adapters from the shared SDK config. The download endpoint is `AWS_ENDPOINT_URL_RDS`
    /// (or `AWS_ENDPOINT_URL`) when set, else the RDS client's resolved endpoint for the region.
    pub async fn from_sdk(sdk: &SdkConfig, env: &Env, config: Config) -> Result<Self, StepError> {
        let override_url = env
            .optional("AWS_ENDPOINT_URL_RDS")
            .or_else(|| env.optional("AWS_ENDPOINT_URL"));
        let endpoint = resolve_endpoint(sdk, override_url.as_deref())
            .await
            .map_err(|e| StepError::config(format!("RDS endpoint: {e}")))?;
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| StepError::config("no AWS credentials provider"))?;
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        let http = sluice_rdslogs::download::http_client()
            .map_err(|e| StepError::config(format!("HTTP client: {e}")))?;
        let downloader =
            RdsDownloader::new(http, endpoint, region, credentials, RetryPolicy::default());
        let source = RdsSource::new(aws_sdk_rds::Client::new(sdk), downloader);
        let store = S3Store::new(
            sluice_runtime::aws::s3_client(sdk, env),
            config.bucket.clone(),
        );
        Ok(Self {
            source: Arc::new(source),
            store: Arc::new(store),
            config,
        })
    }
}

/// The invocation being served: who it is and when Lambda stops it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The Lambda request id (the owner named in this run's leases).
    pub request_id: String,
    /// When Lambda stops the invocation, Unix ms (`None`: Lambda's longest timeout from now).
    pub deadline_ms: Option<i64>,
}

impl Invocation {
    /// From the runtime's context of the event.
    pub fn from_context(context: &lambda_runtime::Context) -> Self {
        Self {
            request_id: context.request_id.clone(),
            deadline_ms: i64::try_from(context.deadline).ok(),
        }
    }
}

/// Lambda's longest timeout, the lease of a run whose deadline is unknown.
const MAX_RUN_MS: i64 = 15 * 60 * 1000;

/// The handler's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// Instances synced without any failure.
    pub instances_ok: usize,
    /// Instances with an error or a failed file.
    pub instances_failed: usize,
    /// Instances left to another run copying them at the same time (not failures).
    pub instances_busy: usize,
    /// Files copied completely, over all instances.
    pub files_copied: usize,
    /// Files skipped as unchanged.
    pub files_unchanged: usize,
    /// Files rotated away by RDS before they were completely copied, over all instances.
    pub files_lost: usize,
    /// Per instance.
    pub instances: Vec<InstanceReport>,
}

/// Runs one sync. `event` is the scheduled event (ignored) or `{"instances": [...]}`.
pub async fn handler(
    event: Value,
    deps: &Deps,
    invocation: &Invocation,
) -> Result<Output, StepError> {
    let selection = match event.get("instances") {
        None | Some(Value::Null) => deps.config.selection.clone(),
        Some(Value::Array(items)) => {
            let explicit: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect();
            let explicit =
                explicit.ok_or_else(|| StepError::invalid_input("instances must be strings"))?;
            Selection {
                explicit,
                ..Selection::default()
            }
        }
        Some(_) => return Err(StepError::invalid_input("instances must be a list of ids")),
    };
    let instances = deps
        .source
        .instances(&selection)
        .await
        .map_err(|e| StepError::new(ErrorKind::Aws, format!("listing instances: {e}")))?;
    let mut opts = deps.config.sync.clone();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
    let deadline = invocation
        .deadline_ms
        .unwrap_or(now_ms.saturating_add(MAX_RUN_MS));
    opts.claim = Claim::new(invocation.request_id.clone(), now_ms, deadline);
    if let Some(hours) = deps.config.max_age_hours {
        let since = now.saturating_sub(Duration::from_secs(hours * 3600));
        opts.filter.last_written_since = i64::try_from(since.as_millis()).ok();
    }
    let reports = sync_all(deps.source.as_ref(), deps.store.as_ref(), &opts, &instances).await;
    for r in &reports {
        emit_metrics(r);
    }
    let failed = reports.iter().filter(|r| !r.is_ok()).count();
    Ok(Output {
        instances_ok: reports.len() - failed,
        instances_failed: failed,
        instances_busy: reports.iter().filter(|r| r.is_busy()).count(),
        files_copied: reports.iter().map(InstanceReport::copied).sum(),
        files_unchanged: reports.iter().map(|r| r.unchanged).sum(),
        files_lost: reports.iter().map(|r| r.lost.len()).sum(),
        instances: reports,
    })
}

/// The EMF metric set for an instance's result (namespace `Sluice`, dimensions `Function`,
/// `Instance`); the template's dashboard and alarms read these names.
pub fn instance_metrics(r: &InstanceReport) -> Metrics {
    let mut m = Metrics::new("Sluice")
        .dimension("Function", "log-syncer")
        .dimension("Instance", r.instance.clone());
    m.count("FilesCopied", r.copied() as u64)
        .count("FilesUnchanged", r.unchanged as u64)
        .count("FilesFailed", r.failed() as u64)
        .count("FilesLostBeforeCopy", r.lost.len() as u64)
        // Not synced, or its due reconciliation could not list the copies: an operator acts.
        .count(
            "InstanceFailed",
            u64::from(r.error.is_some() || r.reconcile_error.is_some()),
        )
        .count("InstanceBusy", u64::from(r.is_busy()))
        .bytes("BytesCopied", r.source_bytes());
    m
}

/// One EMF line for an instance's result.
fn emit_metrics(r: &InstanceReport) {
    instance_metrics(r).flush();
}
