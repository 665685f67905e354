//! The backup-actions pipeline's stage, shared by its tests and `make demo`.
//!
//! A simulated AWS Backup job: the production database and the snapshot playing its recovery
//! point live in moto, the job itself in the [`FakeBackup`] stand-in (moto has no recovery
//! points). The real `backup-actions` binary runs on a [`LambdaHost`] with moto behind an
//! [`AwsProxy`]. [`Stage::deliver`] hands it an EventBridge event as the rule's target would;
//! [`Stage::run`] runs the real ASL for the execution that event started, with the input the
//! function gave it. The fixtures are `tests/fixtures/backup/*.json`; their account, vault,
//! resource and job ids are rewritten to the stage's.
//!
//! moto completes an export the moment `StartExportTask` returns and writes nothing to S3: the
//! stage writes into its bucket, once built, the status files RDS writes next to the data when
//! that export completes ([`Stage::write_export_status`]; the task id and prefix are fixed by
//! the job), with a skipped or a failed table when the test asks ([`Options`]).
//!
//! moto's Step Functions executions never end: a sanitized-snapshot run started by the
//! pipeline stays `RUNNING` unless the test makes the proxy answer otherwise
//! ([`Stage::sanitize_run_ends`]). A stage built [`Stage::with_sanitized`] runs it for real
//! instead: the backed-up database is that [`sanitized::Stage`]'s source, the recovery point
//! a snapshot of it in AWS Backup's real id form (`…:snapshot:awsbackup:job-<uuid>`, stored
//! in moto as `awsbackup-job-…`), and the run the function starts is the real ASL with the
//! real steps, task and local database of that stage ([`crate::sfn_runs`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use serde_json::{Value, json};

use crate::asl::{self, AslRun, AslRunSpec};
use crate::aws_proxy::AwsProxy;
use crate::backup::{BackupJob, FakeBackup};
use crate::iam_gate::{DeploySpec, Deployment, Gate, ServiceCall};
use crate::lambda::{FunctionError, LambdaHost};
use crate::moto::{ACCOUNT, Moto, REGION};
use crate::paths;
use crate::sanitized;
use crate::sfn_runs::{Outcome, RealRuns};

/// The function under test.
pub const FUNCTION: &str = "backup-actions";

/// The fixture's instance job id, vault and database (rewritten per stage).
const FIXTURE_JOB: &str = "8E1A9F4C-2B7D-4C1E-9A3B-5D6F7E8A9B0C";
const FIXTURE_CLUSTER_JOB: &str = "3C2B1A09-F8E7-4D6C-9B5A-4F3E2D1C0B9A";
const FIXTURE_VAULT: &str = "prod-vault";
const FIXTURE_INSTANCE: &str = ":db:orders";
const FIXTURE_CLUSTER: &str = ":cluster:ledger";

/// The backup's creation time in the fixtures: 2026-11-22T03:10:00Z.
pub const BACKUP_TIME: i64 = 1_795_403_400 - 86_400;

/// What the stage is made of.
#[derive(Debug, Clone)]
pub struct Options {
    /// An Aurora cluster (else an RDS instance).
    pub cluster: bool,
    /// `BACKUP_EXPORT`.
    pub export: &'static str,
    /// `BACKUP_SANITIZE`.
    pub sanitize: &'static str,
    /// `BACKUP_DELETE`.
    pub delete: &'static str,
    /// `EXPORT_TIMEOUT_MINUTES`.
    pub export_timeout_minutes: u32,
    /// `BACKUP_EXPORT_REQUIRE_ALL_TABLES`.
    pub require_all_tables: &'static str,
    /// Whether the export writes its status files (RDS always does; `false` stands for a file
    /// gone or never written).
    pub status_files: bool,
    /// The export skips a table (a `/` in its name).
    pub skipped_table: bool,
    /// The export fails a table (a large object of about 500 MB).
    pub failed_table: bool,
    /// The backed-up database is the stack's sanitized-snapshot source (`SOURCE_ID`); when
    /// false, another database is, and no mapping names it.
    pub source_has_settings: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cluster: false,
            export: "true",
            sanitize: "false",
            delete: "true",
            export_timeout_minutes: 60,
            require_all_tables: "false",
            status_files: true,
            skipped_table: false,
            failed_table: false,
            source_has_settings: true,
        }
    }
}

/// A ready stage.
pub struct Stage {
    /// SDK config on moto (not through the proxy).
    pub sdk: SdkConfig,
    /// The template as this stage deploys it, loaded into the IAM gate.
    pub deployment: Deployment,
    /// Fault injection in front of moto.
    pub proxy: AwsProxy,
    /// The AWS Backup stand-in.
    pub backup: FakeBackup,
    /// Runs `backup-actions`.
    pub host: LambdaHost,
    /// The vault acted on.
    pub vault: String,
    /// The backed-up database's id.
    pub source: String,
    /// The completed backup job.
    pub job: BackupJob,
    /// The export bucket.
    pub bucket: String,
    /// The export key.
    pub kms_key: String,
    /// The backup-actions state machine (in moto, for `StartExecution`).
    pub machine_arn: String,
    /// The sanitized-snapshot state machine (in moto).
    pub sanitize_machine_arn: String,
    /// What it was built from.
    pub options: Options,
    /// Runs the sanitized-snapshot executions for real (built [`Stage::with_sanitized`]).
    pub real_runs: Option<RealRuns>,
}

/// The sanitize-script pin the function is configured with (it runs no sanitized-snapshot step
/// here; this is SHA-256 of `abc`).
const SCRIPT_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// The export role the template creates (RDS assumes it; nothing checks it here).
pub const EXPORT_ROLE: &str = "arn:aws:iam::123456789012:role/sluice-export";

/// A tag unique to the stage, and its number within this process.
fn tag() -> (String, u32) {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    (format!("b{}x{n}", std::process::id()), n)
}

/// A fixture event from `tests/fixtures/backup/<name>.json`, as written.
pub fn fixture(name: &str) -> Value {
    let path = paths::workspace_root().join(format!("tests/fixtures/backup/{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

impl Stage {
    /// Builds the stage in the shared moto server.
    pub async fn new(options: Options) -> Stage {
        Self::build(options, None).await
    }

    /// Builds the stage around `sanitized`'s source, whose sanitized-snapshot runs really run
    /// there (see the module docs). Instance sources only.
    pub async fn with_sanitized(options: Options, sanitized: Arc<sanitized::Stage>) -> Stage {
        Self::build(options, Some(sanitized)).await
    }

    async fn build(options: Options, sanitized: Option<Arc<sanitized::Stage>>) -> Stage {
        let moto = Moto::shared();
        let sdk = moto.sdk_config();
        let (tag, n) = tag();
        let rds = aws_sdk_rds::Client::new(&sdk);
        let source = sanitized
            .as_ref()
            .map_or_else(|| format!("prod-{tag}"), |s| s.source.clone());
        // A job id shaped like AWS Backup's (a UUID), unique per stage.
        let job_id = format!("{:08X}-2B7D-4C1E-9A3B-{n:012X}", std::process::id());
        // AWS Backup names it `awsbackup:job-<id>`; moto refuses the colon.
        let snapshot = format!("awsbackup-job-{}", job_id.to_ascii_lowercase());
        // A composed stage's database is the sanitized stage's instance.
        let cluster = options.cluster && sanitized.is_none();
        let (resource_arn, resource_type, recovery_point_arn) = if cluster {
            rds.create_db_cluster()
                .db_cluster_identifier(&source)
                .engine("aurora-postgresql")
                .master_username("admin")
                .master_user_password("prod-password-1")
                .send()
                .await
                .expect("create cluster");
            let snap = rds
                .create_db_cluster_snapshot()
                .db_cluster_identifier(&source)
                .db_cluster_snapshot_identifier(&snapshot)
                .send()
                .await
                .expect("create cluster snapshot");
            (
                format!("arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{source}"),
                "Aurora",
                snap.db_cluster_snapshot()
                    .and_then(|s| s.db_cluster_snapshot_arn())
                    .expect("snapshot arn")
                    .to_owned(),
            )
        } else {
            let created = rds
                .create_db_instance()
                .db_instance_identifier(&source)
                .engine("postgres")
                .db_instance_class("db.t3.micro")
                .master_username("admin")
                .master_user_password("prod-password-1")
                .allocated_storage(20)
                .send()
                .await;
            // Composed, it is already there.
            assert!(
                created.is_ok() || sanitized.is_some(),
                "create instance: {created:?}"
            );
            let snap = rds
                .create_db_snapshot()
                .db_instance_identifier(&source)
                .db_snapshot_identifier(&snapshot)
                .send()
                .await
                .expect("create snapshot");
            let arn = snap
                .db_snapshot()
                .and_then(|s| s.db_snapshot_arn())
                .expect("snapshot arn");
            // Composed, the recovery point is in its real id form, as AWS Backup names it (the
            // sanitized stage's proxy stores it in moto as `awsbackup-job-…`).
            let arn = if sanitized.is_some() {
                arn.replace(":snapshot:awsbackup-job-", ":snapshot:awsbackup:job-")
            } else {
                arn.to_owned()
            };
            (
                format!("arn:aws:rds:{REGION}:{ACCOUNT}:db:{source}"),
                "RDS",
                arn,
            )
        };
        let vault = format!("vault-{tag}");
        let job = BackupJob {
            job_id,
            vault: vault.clone(),
            recovery_point_arn,
            resource_arn,
            resource_type: resource_type.to_owned(),
            state: "COMPLETED".to_owned(),
            created: BACKUP_TIME,
        };
        let backup = FakeBackup::start();
        backup.add_job(job.clone());

        let bucket = format!("exports-{tag}");
        moto.s3_client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("bucket");
        let kms_key = aws_sdk_kms::Client::new(&sdk)
            .create_key()
            .send()
            .await
            .expect("key")
            .key_metadata()
            .and_then(|k| k.arn())
            .expect("key arn")
            .to_owned();
        // Named as the template names the stack's state machines: the function's role may
        // start and list only those.
        let stack = format!("sluice-{tag}");
        let machine_arn =
            crate::sfn_runs::placeholder_machine(&sdk, &format!("{stack}-backup-actions")).await;
        let sanitize_machine_arn =
            crate::sfn_runs::placeholder_machine(&sdk, &format!("{stack}-sanitized-snapshot"))
                .await;

        // Every call of the function is judged by the IAM gate against the template deployed
        // with this stage's parameters and names (the sanitized-snapshot settings are the
        // ones the function is given below; BackupSanitize needs that subsystem on).
        let vaults = format!("{vault},other-vault");
        let timeout = options.export_timeout_minutes.to_string();
        let deployment = Gate::shared().deploy(
            &DeploySpec::new(
                &stack,
                [
                    ("EnableBackupActions", "true"),
                    ("BackupVaults", vaults.as_str()),
                    ("BackupExport", options.export),
                    ("BackupExportKmsKeyArn", kms_key.as_str()),
                    ("BackupExportTimeoutMinutes", timeout.as_str()),
                    ("BackupExportRequireAllTables", options.require_all_tables),
                    ("BackupSanitize", options.sanitize),
                    ("BackupDelete", options.delete),
                    ("EnableSanitizedSnapshots", "true"),
                    ("SnapshotSourceId", source.as_str()),
                    ("SnapshotSubnetGroup", "isolated"),
                    ("SnapshotSecurityGroupIds", "sg-0123456789abcdef0"),
                    ("SnapshotTaskSubnets", "subnet-0123456789abcdef0"),
                    ("SnapshotTaskSecurityGroupIds", "sg-0123456789abcdef0"),
                    ("SnapshotScriptSha256", SCRIPT_SHA256),
                    (
                        "SanitizerImageUri",
                        "123456789012.dkr.ecr.us-east-1.amazonaws.com/sanitizer:1",
                    ),
                ],
            )
            .physical([
                ("DataBucket", bucket.as_str()),
                ("BackupExportRole", "sluice-export"),
                ("BackupActionsFunction", FUNCTION),
                ("BackupJobCompletedRule", "backup-job-completed"),
            ]),
        );
        let proxy = AwsProxy::gated(moto, deployment.clone());
        proxy.route("backup", &backup.endpoint());
        proxy.gate_alias("awsbackup-job-", "awsbackup:job-");
        let real_runs = sanitized.as_ref().map(|bed| {
            bed.proxy.moto_name("awsbackup:job-", "awsbackup-job-");
            let bed = bed.clone();
            let runs = RealRuns::start(
                &sanitize_machine_arn,
                Arc::new(move |name: String, input: Value| {
                    let rt = tokio::runtime::Runtime::new().expect("runtime");
                    let run = rt.block_on(bed.run_named(&name, input));
                    Outcome {
                        status: run.status,
                        output: run.output,
                        error: run.error,
                        cause: run.cause,
                    }
                }),
            );
            runs.route(&proxy);
            runs
        });
        // Which sources have sanitize settings: the stage's (or, composed, the sanitized
        // stage's configuration and mapping).
        let (source_kind, source_id, mappings) = match &sanitized {
            Some(bed) => (
                "instance",
                bed.configured_source.clone(),
                bed.mappings.clone().unwrap_or_default(),
            ),
            None if options.source_has_settings => (
                if options.cluster {
                    "cluster"
                } else {
                    "instance"
                },
                source.clone(),
                String::new(),
            ),
            None => ("instance", "prod".to_owned(), String::new()),
        };
        let mut env = proxy.env_as(moto, "BackupActionsFunctionRole");
        let pairs = [
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            // Which databases have sanitize settings (a recovery point of any other is not
            // sanitized).
            ("SOURCE_KIND", source_kind.to_owned()),
            ("SOURCE_ID", source_id),
            ("SOURCE_MAPPINGS", mappings),
            // Backup actions.
            ("BACKUP_VAULTS", format!("{vault},other-vault")),
            ("BACKUP_STATE_MACHINE_ARN", machine_arn.clone()),
            ("BACKUP_EXPORT", options.export.to_owned()),
            ("EXPORT_BUCKET", bucket.clone()),
            ("EXPORT_ROLE_ARN", EXPORT_ROLE.to_owned()),
            ("EXPORT_KMS_KEY_ARN", kms_key.clone()),
            (
                "EXPORT_TIMEOUT_MINUTES",
                options.export_timeout_minutes.to_string(),
            ),
            (
                "BACKUP_EXPORT_REQUIRE_ALL_TABLES",
                options.require_all_tables.to_owned(),
            ),
            ("BACKUP_SANITIZE", options.sanitize.to_owned()),
            ("SANITIZE_STATE_MACHINE_ARN", sanitize_machine_arn.clone()),
            ("BACKUP_DELETE", options.delete.to_owned()),
        ];
        env.extend(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let host = LambdaHost::serving(FUNCTION, env);
        // Step Functions invokes the steps through the gated proxy, as the machine's role.
        proxy.route("lambda", &host.endpoint());
        deployment.require_assume(
            "BackupActionsStateMachineRole",
            "states.amazonaws.com",
            Some(&machine_arn),
        );
        let stage = Stage {
            sdk,
            deployment,
            proxy,
            backup,
            host,
            vault,
            source,
            job,
            bucket,
            kms_key,
            machine_arn,
            sanitize_machine_arn,
            options,
            real_runs,
        };
        if stage.options.status_files {
            stage.write_export_status().await;
        }
        stage
    }

    /// The export task id of this stage's job, as the function names it.
    pub fn export_task_id(&self) -> String {
        format!("sluice-export-{}", self.job.job_id.to_ascii_lowercase())
    }

    /// The keys of the export's status files: `export_info_<id>.json` and the tables files.
    pub fn export_status_keys(&self) -> (String, Vec<String>) {
        let id = self.export_task_id();
        let base = format!("{}/{id}", self.expected_prefix());
        (
            format!("{base}/export_info_{id}.json"),
            vec![
                format!("{base}/export_tables_info_{id}_from_1_to_2.json"),
                format!("{base}/export_tables_info_{id}_from_3_to_4.json"),
            ],
        )
    }

    /// Writes the status files RDS writes next to the exported data when the export
    /// completes, SSE-KMS under the export key as RDS writes them: `export_info_<id>.json`
    /// and the per-table status over two `export_tables_info_<id>_from_<n>_to_<m>.json`
    /// files, each `{"perTableStatus": [{"target", "status", "warningMessage"?, …}]}`. Tables
    /// `app.public.customers` and `app.public.orders` are exported; the third is skipped (a
    /// `/` in its name) or exported, the fourth failed (a large object) or exported, as
    /// [`Options`] say. The `warningMessage` wording is the test bed's: AWS documents none.
    /// Layout: <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.FileNames.html>;
    /// what is skipped or fails:
    /// <https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html>.
    pub async fn write_export_status(&self) {
        let id = self.export_task_id();
        let table = |target: &str, status: &str, warning: Option<&str>| {
            let mut entry = json!({
                "tableStatistics": {
                    "extractionStartTime": "2026-11-22T03:21:04.125Z",
                    "extractionEndTime": "2026-11-22T03:24:51.870Z",
                    "partitioningInfo": {"numberOfPartitions": 1, "numberOfCompletedPartitions": 1}
                },
                "schemaMetadata": {"originalTypeMappings": [{
                    "columnName": "id",
                    "originalType": "bigint",
                    "expectedExportedType": "int64",
                    "originalCharMaxLength": 0,
                    "originalNumPrecision": 64,
                    "originalDateTimePrecision": 0
                }]},
                "status": status,
                "sizeGB": 0.0012,
                "target": target,
            });
            if let Some(w) = warning {
                entry["warningMessage"] = json!(w);
            }
            entry
        };
        let third = if self.options.skipped_table {
            table(
                "app.public.events/archive",
                "SKIPPED",
                Some(
                    "The table name contains a slash (/), which export does not support: the table was skipped.",
                ),
            )
        } else {
            table("app.public.events_archive", "COMPLETE", None)
        };
        let fourth = if self.options.failed_table {
            table(
                "app.public.documents",
                "FAILED",
                Some("A large object of about 512 MB could not be exported."),
            )
        } else {
            table("app.public.documents", "COMPLETE", None)
        };
        let info = json!({
            "exportTaskIdentifier": id,
            "sourceArn": self.job.recovery_point_arn,
            "exportOnly": [],
            "snapshotTime": "Nov 22, 2026 3:10:00 AM",
            "taskStartTime": "Nov 22, 2026 3:20:12 AM",
            "taskEndTime": "Nov 22, 2026 3:25:40 AM",
            "s3Bucket": self.bucket,
            "s3Prefix": self.expected_prefix(),
            "exportedFilesPath": format!("{}/{id}", self.expected_prefix()),
            "iamRoleArn": EXPORT_ROLE,
            "kmsKeyId": self.kms_key,
            "status": "COMPLETE",
            "percentProgress": 100,
            "totalExportedDataInGB": 0.0048,
        });
        let (info_key, table_keys) = self.export_status_keys();
        let bodies = [
            (info_key, info),
            (
                table_keys[0].clone(),
                json!({"perTableStatus": [
                    table("app.public.customers", "COMPLETE", None),
                    table("app.public.orders", "COMPLETE", None),
                ]}),
            ),
            (
                table_keys[1].clone(),
                json!({"perTableStatus": [third, fourth]}),
            ),
        ];
        let s3 = Moto::shared().s3_client();
        for (key, body) in bodies {
            s3.put_object()
                .bucket(&self.bucket)
                .key(&key)
                .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                .ssekms_key_id(&self.kms_key)
                .body(body.to_string().into_bytes().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        }
    }

    /// Fixture `name` with its vault, database and job ids replaced by this stage's.
    pub fn event(&self, name: &str) -> Value {
        let kind = if self.options.cluster {
            FIXTURE_CLUSTER
        } else {
            FIXTURE_INSTANCE
        };
        let ours = if self.options.cluster {
            format!(":cluster:{}", self.source)
        } else {
            format!(":db:{}", self.source)
        };
        let text = fixture(name)
            .to_string()
            .replace(FIXTURE_JOB, &self.job.job_id)
            .replace(FIXTURE_CLUSTER_JOB, &self.job.job_id)
            .replace(
                &FIXTURE_CLUSTER_JOB.to_ascii_lowercase(),
                &self.job.job_id.to_ascii_lowercase(),
            )
            .replace(
                &format!("backup-vault:{FIXTURE_VAULT}"),
                &format!("backup-vault:{}", self.vault),
            )
            .replace(
                &format!("\"{FIXTURE_VAULT}\""),
                &format!("\"{}\"", self.vault),
            )
            .replace(kind, &ours);
        serde_json::from_str(&text).expect("rewritten fixture")
    }

    /// Hands `event` to the function as the EventBridge rule's target would (the rule's
    /// invocation judged by the IAM gate against the function's resource policy).
    pub async fn deliver(&self, event: &Value) -> Result<Value, FunctionError> {
        self.deployment.require_service_call(
            "service:events.amazonaws.com",
            &ServiceCall::invoke(FUNCTION),
            json!({
                "sourceArn": format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/backup-job-completed"),
                "sourceAccount": ACCOUNT,
            }),
        );
        self.host.invoke(FUNCTION, event).await
    }

    /// What RDS does with `BackupExportRole` for every export task in moto: the role may be
    /// assumed by the export service for this account's snapshots, and write the task's
    /// Parquet files under its prefix in the bucket.
    /// <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.html#USER_ExportSnapshot.SetupIAMRole>
    pub async fn require_export_writes(&self) {
        for task in self.exports().await {
            let (Some(id), Some(source)) = (task.export_task_identifier(), task.source_arn())
            else {
                continue;
            };
            self.deployment.require_assume(
                "BackupExportRole",
                "export.rds.amazonaws.com",
                Some(source),
            );
            let prefix = task
                .s3_prefix()
                .filter(|p| !p.is_empty())
                .map(|p| format!("{}/", p.trim_end_matches('/')))
                .unwrap_or_default();
            let bucket = task.s3_bucket().unwrap_or_default();
            for (method, path) in [
                ("GET", format!("/{bucket}?location=")),
                ("GET", format!("/{bucket}?list-type=2&prefix={prefix}")),
                (
                    "PUT",
                    format!("/{bucket}/{prefix}{id}/export_info_{id}.json"),
                ),
                (
                    "PUT",
                    format!("/{bucket}/{prefix}{id}/app/public.customers/part-00000.gz.parquet"),
                ),
            ] {
                self.deployment.require_service_call(
                    "BackupExportRole",
                    &ServiceCall::rest("s3", method, &path),
                    json!({}),
                );
            }
        }
    }

    /// Delivers the `native-instance-completed` event and runs the execution it started up to
    /// `describe`: the state the later steps get.
    pub async fn described(&self) -> Value {
        self.deliver(&self.event("native-instance-completed"))
            .await
            .expect("the event handler");
        let (name, input) = self.executions().await.remove(0);
        self.step("describe", json!({"input": input, "runId": name}))
            .await
            .expect("describe")
    }

    /// Invokes one step directly.
    pub async fn step(&self, step: &str, state: Value) -> Result<Value, FunctionError> {
        self.host
            .invoke(FUNCTION, &json!({"step": step, "state": state}))
            .await
    }

    /// The executions of the backup-actions machine in moto, as (name, input).
    pub async fn executions(&self) -> Vec<(String, Value)> {
        self.executions_of(&self.machine_arn).await
    }

    /// The executions of the sanitized-snapshot machine in moto, as (name, input).
    pub async fn sanitize_runs(&self) -> Vec<(String, Value)> {
        self.executions_of(&self.sanitize_machine_arn).await
    }

    async fn executions_of(&self, machine: &str) -> Vec<(String, Value)> {
        crate::sfn_runs::executions_of(&self.sdk, machine).await
    }

    /// Makes every sanitized-snapshot run report `status` (moto's stay `RUNNING`).
    pub fn sanitize_run_ends(&self, status: &str) {
        self.proxy.replace_in_response(
            "DescribeExecution",
            "\"RUNNING\"",
            &format!("\"{status}\""),
        );
    }

    /// Delivers fixture `name` (see [`Stage::event`]), then runs the execution it started.
    pub async fn complete(&self, name: &str) -> AslRun {
        let answer = self.deliver(&self.event(name)).await;
        assert!(answer.is_ok(), "the event handler failed: {answer:?}");
        self.run().await
    }

    /// Runs the backup-actions ASL for the execution the delivered event started, with the
    /// input the function gave it.
    pub async fn run(&self) -> AslRun {
        let started = self.executions().await;
        let (name, input) = started
            .into_iter()
            .next()
            .expect("no execution was started: deliver an event first");
        self.run_as(&name, input).await
    }

    /// Runs the backup-actions ASL as execution `name` with `input`.
    pub async fn run_as(&self, name: &str, input: Value) -> AslRun {
        let spec = AslRunSpec::execution(
            "statemachines/backup-actions.asl.json",
            "SnapshotStepsFunctionArn",
            FUNCTION,
            self.proxy.endpoint(),
            &self.machine_arn,
            name,
            input,
        );
        let spec = AslRunSpec {
            principal: Some("BackupActionsStateMachineRole".to_owned()),
            ..spec
        };
        asl::run(&spec).await.expect("ASL runner")
    }

    /// The export tasks in moto that write to this stage's bucket.
    pub async fn exports(&self) -> Vec<aws_sdk_rds::types::ExportTask> {
        aws_sdk_rds::Client::new(&self.sdk)
            .describe_export_tasks()
            .send()
            .await
            .expect("DescribeExportTasks")
            .export_tasks()
            .iter()
            .filter(|t| t.s3_bucket() == Some(self.bucket.as_str()))
            .cloned()
            .collect()
    }

    /// The expected export prefix: `<vault>/<resource>/2026/11/22/<job id>`.
    pub fn expected_prefix(&self) -> String {
        format!(
            "backup-exports/{}/{}/2026/11/22/{}",
            self.vault, self.source, self.job.job_id
        )
    }

    /// The function's logs.
    pub fn logs(&self) -> String {
        self.host.logs(FUNCTION)
    }
}
