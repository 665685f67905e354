//! The restore-testing validation's stage, shared by its end-to-end tests.
//!
//! A simulated AWS Backup restore test: the restored database's RDS record lives in moto, its
//! data in a local PostgreSQL (clean, or holding e-mail addresses in a free-text column), and
//! the restore job in the [`FakeBackup`] stand-in, which also records the validation result
//! posted. The real `restore-validator` binary runs on a [`LambdaHost`] behind a gated
//! [`AwsProxy`]; the [`FakeEcs`] stand-in runs the real `sanitizer` binary (validation mode)
//! against the local database, as the template's `RestoreValidationTaskRole`. [`Stage::deliver`]
//! hands the function a `Restore Job State Change` event as the rule's target would;
//! [`Stage::run`] runs the real ASL for the execution it started.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use serde_json::{Value, json};
use sluice_runtime::pin::Sha256Pin;

use crate::asl::{self, AslRun, AslRunSpec};
use crate::aws_proxy::AwsProxy;
use crate::backup::FakeBackup;
use crate::db::DbServer;
use crate::ecs::FakeEcs;
use crate::iam_gate::{DeploySpec, Deployment, Gate, ServiceCall};
use crate::lambda::{FunctionError, LambdaHost};
use crate::moto::{ACCOUNT, Moto, REGION};
use crate::restore_testing::{PostedResult, RestoreJob};

/// The function under test.
pub const FUNCTION: &str = "restore-validator";
/// The restore testing plan the stack validates.
pub const PLAN: &str = "nightly_orders";
/// The script's key in the stage's bucket (the template's default).
pub const SCRIPT_KEY: &str = "sanitize/restore-validation.sql";
/// Rows of the restored customers table.
pub const CUSTOMERS: u32 = 12;
/// Rows whose free-text note holds a customer's e-mail address when the restore leaks.
pub const LEAKING_NOTES: u32 = 3;

/// The validation script: its statement must never run (it would blank every e-mail), only
/// its verify query and the leak detectors.
pub const SCRIPT: &str = "
UPDATE customers SET email = NULL, notes = NULL;
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
";

/// What the stage is made of.
#[derive(Debug, Clone)]
pub struct Options {
    /// The restored data holds e-mail addresses in `customers.notes`.
    pub leak: bool,
    /// A restore testing plan created the job (else a person's restore).
    pub from_plan: bool,
    /// ECS cannot place the task.
    pub task_fails_to_start: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            leak: false,
            from_plan: true,
            task_fails_to_start: false,
        }
    }
}

/// A ready stage.
pub struct Stage {
    /// SDK config on moto (not through the proxy).
    pub sdk: SdkConfig,
    /// The template as this stage deploys it, loaded into the IAM gate.
    pub deployment: Deployment,
    /// The gated proxy in front of moto.
    pub proxy: AwsProxy,
    /// The AWS Backup stand-in (restore jobs and posted results).
    pub backup: FakeBackup,
    /// Runs the validation task.
    pub ecs: FakeEcs,
    /// Runs `restore-validator`.
    pub host: LambdaHost,
    /// The restored database's data.
    pub db: DbServer,
    /// The restore job.
    pub job: RestoreJob,
    /// The restored instance's id.
    pub restored: String,
    /// The bucket holding the script and the summaries.
    pub bucket: String,
    /// The validation state machine (in moto, for `StartExecution`).
    pub machine_arn: String,
}

/// A tag unique to the stage, and its number within this process.
fn tag() -> (String, u32) {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    (format!("v{}x{n}", std::process::id()), n)
}

fn load(db: &DbServer, leak: bool) {
    db.sql("CREATE TABLE customers (id int PRIMARY KEY, email varchar(200), notes text)");
    let rows: Vec<String> = (1..=CUSTOMERS)
        .map(|id| {
            let note = if leak && id <= LEAKING_NOTES {
                format!("call back at jane.doe{id}@mailcorp.io")
            } else {
                "called back".to_owned()
            };
            format!("({id}, 'customer{id}@example.invalid', '{note}')")
        })
        .collect();
    db.sql(&format!("INSERT INTO customers VALUES {}", rows.join(", ")));
}

impl Stage {
    /// Builds the stage in the shared moto server.
    pub async fn new(options: Options) -> Stage {
        let moto = Moto::shared();
        let sdk = moto.sdk_config();
        let (tag, n) = tag();
        let db = DbServer::postgres();
        load(&db, options.leak);

        // The restored instance, as AWS Backup named it.
        let restored = format!("awsbackup-restore-test-{tag}");
        let rds = aws_sdk_rds::Client::new(&sdk);
        let created = rds
            .create_db_instance()
            .db_instance_identifier(&restored)
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .master_username("admin")
            .master_user_password("restored-password-1")
            .allocated_storage(20)
            .send()
            .await
            .unwrap();
        let restored_arn = created
            .db_instance()
            .and_then(|d| d.db_instance_arn())
            .unwrap()
            .to_owned();

        let bucket = format!("rv-{tag}");
        let s3 = moto.s3_client();
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3.put_object()
            .bucket(&bucket)
            .key(SCRIPT_KEY)
            .body(SCRIPT.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
        let pin = Sha256Pin::of(SCRIPT.as_bytes()).to_string();
        // The read-only user's secret (the task is given its ARN; the launcher fills it in).
        let secret = aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("sluice/restore-validation-ro-{tag}"))
            .secret_string("{}")
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();

        let job = RestoreJob {
            // Shaped like AWS Backup's (a UUID), unique per stage.
            job_id: format!("{:08X}-9C0D-4E1F-A2B3-{n:012X}", std::process::id()),
            status: "COMPLETED".to_owned(),
            restore_testing_plan_arn: options.from_plan.then(|| {
                format!(
                    "arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:{PLAN}-0a1b2c3d-4e5f"
                )
            }),
            resource_type: "RDS".to_owned(),
            created_resource_arn: restored_arn,
            recovery_point_arn: format!(
                "arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:job-{}",
                tag.to_ascii_lowercase()
            ),
        };
        let backup = FakeBackup::start();
        backup.add_restore_job(job.clone());

        let stack = format!("sluice-{tag}");
        let machine_arn =
            crate::sfn_runs::placeholder_machine(&sdk, &format!("{stack}-restore-validation"))
                .await;

        let deployment = Gate::shared().deploy(
            &DeploySpec::new(
                &stack,
                [
                    ("EnableRestoreTestingValidation", "true"),
                    ("RestoreTestingPlans", PLAN),
                    ("RestoreValidationSecretArn", secret.as_str()),
                    ("RestoreValidationScriptSha256", pin.as_str()),
                    ("RestoreValidationTaskSubnets", "subnet-0123456789abcdef0"),
                    (
                        "RestoreValidationTaskSecurityGroupIds",
                        "sg-0123456789abcdef0",
                    ),
                    (
                        "SanitizerImageUri",
                        "123456789012.dkr.ecr.us-east-1.amazonaws.com/sanitizer:1",
                    ),
                ],
            )
            .physical([
                ("DataBucket", bucket.as_str()),
                ("SanitizerCluster", "sanitizer"),
                (
                    "RestoreValidationTaskDefinition",
                    "sluice-restore-validation",
                ),
                ("RestoreValidatorFunction", FUNCTION),
                ("RestoreJobCompletedRule", "restore-job-completed"),
            ]),
        );
        let proxy = AwsProxy::gated(moto, deployment.clone());
        proxy.route("backup", &backup.endpoint());
        let ecs = FakeEcs::start(crate::sanitized::launcher(
            sdk.clone(),
            proxy.env_as(moto, "RestoreValidationTaskRole"),
            db.port(),
            db.ca_bundle().map(PathBuf::from),
            options.task_fails_to_start,
            None,
        ));
        proxy.route("ecs", &ecs.endpoint());

        let mut env = proxy.env_as(moto, "RestoreValidatorFunctionRole");
        let pairs = [
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            ("RESTORE_TESTING_PLANS", PLAN.to_owned()),
            ("VALIDATION_STATE_MACHINE_ARN", machine_arn.clone()),
            ("ECS_CLUSTER", "sanitizer".to_owned()),
            ("TASK_DEFINITION", "sluice-restore-validation:1".to_owned()),
            ("CONTAINER_NAME", "sanitizer".to_owned()),
            ("TASK_SUBNETS", "subnet-0123456789abcdef0".to_owned()),
            ("TASK_SECURITY_GROUPS", "sg-0123456789abcdef0".to_owned()),
            ("SCRIPT_URI", format!("s3://{bucket}/{SCRIPT_KEY}")),
            ("SCRIPT_SHA256", pin),
            ("DATABASE_NAME", "postgres".to_owned()),
            ("VALIDATION_SECRET_ARN", secret),
        ];
        env.extend(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let host = LambdaHost::serving(FUNCTION, env);
        // Step Functions invokes the steps through the gated proxy, as the machine's role.
        proxy.route("lambda", &host.endpoint());
        deployment.require_assume(
            "RestoreValidationStateMachineRole",
            "states.amazonaws.com",
            Some(&machine_arn),
        );
        Stage {
            sdk,
            deployment,
            proxy,
            backup,
            ecs,
            host,
            db,
            job,
            restored,
            bucket,
            machine_arn,
        }
    }

    /// The `Restore Job State Change` event AWS Backup sends when the job completes.
    pub fn event(&self) -> Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "Restore Job State Change",
            "source": "aws.backup",
            "account": ACCOUNT,
            "time": "2026-12-06T03:40:00Z",
            "region": REGION,
            "resources": [],
            "detail": {
                "restoreJobId": self.job.job_id,
                "backupSizeInBytes": "21474836480",
                "creationDate": "2026-12-06T03:10:00.000Z",
                "iamRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"),
                "resourceType": "RDS",
                "status": "COMPLETED",
                "createdResourceArn": self.job.created_resource_arn,
                "restoreTestingPlanArn": self.job.restore_testing_plan_arn,
            }
        })
    }

    /// Hands `event` to the function as the rule's target would (the rule's invocation judged
    /// by the IAM gate against the function's resource policy).
    pub async fn deliver(&self, event: &Value) -> Result<Value, FunctionError> {
        self.deployment.require_service_call(
            "service:events.amazonaws.com",
            &ServiceCall::invoke(FUNCTION),
            json!({
                "sourceArn": format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/restore-job-completed"),
                "sourceAccount": ACCOUNT,
            }),
        );
        self.host.invoke(FUNCTION, event).await
    }

    /// The executions of the validation machine in moto, as (name, input).
    pub async fn executions(&self) -> Vec<(String, Value)> {
        crate::sfn_runs::executions_of(&self.sdk, &self.machine_arn).await
    }

    /// Delivers the job's event, then runs the real ASL for the execution it started.
    pub async fn validate(&self) -> AslRun {
        let answer = self.deliver(&self.event()).await;
        assert!(answer.is_ok(), "the event handler failed: {answer:?}");
        let (name, input) = self
            .executions()
            .await
            .into_iter()
            .next()
            .expect("no execution was started");
        let spec = AslRunSpec::execution(
            "statemachines/restore-validation.asl.json",
            "RestoreValidatorFunctionArn",
            FUNCTION,
            self.proxy.endpoint(),
            &self.machine_arn,
            &name,
            input,
        );
        let spec = AslRunSpec {
            principal: Some("RestoreValidationStateMachineRole".to_owned()),
            ..spec
        };
        asl::run(&spec).await.expect("ASL runner")
    }

    /// The results posted for the job.
    pub fn results(&self) -> Vec<PostedResult> {
        self.backup.validation_results()
    }

    /// The customers table as text.
    pub fn dump(&self) -> String {
        self.db
            .sql("SELECT id, email, notes FROM customers ORDER BY id")
    }

    /// The function's logs.
    pub fn logs(&self) -> String {
        self.host.logs(FUNCTION)
    }
}
