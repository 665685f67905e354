//! A stage for the sanitized-snapshot state machine, shared by its end-to-end tests and
//! `make demo`: moto (behind an [`AwsProxy`] for fault injection) holding a network, an isolated
//! subnet group, a production source and the script; the [`FakeEcs`] stand-in running the real
//! `sanitizer` binary against a local PostgreSQL or MariaDB loaded with PII-shaped customers,
//! which plays the restored temp database (its endpoint replaces the RDS one, and the
//! RDS-managed secret is given its credentials); and the real `snapshot-steps` binary on a
//! [`LambdaHost`]. [`Stage::run`] runs the real ASL under aws-local-stepfunctions.
//!
//! Setup and inspection panic on failure: this is test support.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::asl::{self, AslRun, AslRunSpec};
use crate::aws_proxy::AwsProxy;
use crate::db::{self, DbServer};
use crate::ecs::{FakeEcs, Launcher, TaskLaunch};
use crate::iam_gate::{DeploySpec, Gate};
use crate::lambda::{FunctionError, LambdaHost};
use crate::moto::Moto;
use crate::paths;
use aws_config::SdkConfig;
use serde_json::{Value, json};
use sluice_runtime::pin::Sha256Pin;

/// The function under test.
pub const FUNCTION: &str = "snapshot-steps";
/// Customers loaded into the local database.
pub const CUSTOMERS: u32 = 25;
/// The account sanitized snapshots are shared with by default.
pub const ACCOUNT_A: &str = "111111111111";
/// The script's key in the stage's bucket.
pub const SCRIPT_KEY: &str = "sanitize.sql";

/// Customer `id`'s original e-mail.
pub fn email(id: u32) -> String {
    format!("jane.doe{id}@corp-mail.example.com")
}

/// Customer `id`'s original card number.
pub fn card(id: u32) -> String {
    format!("4111 1111 1111 {:04}", 1000 + id)
}

fn is_mariadb(engine: &str) -> bool {
    engine == "mariadb"
}

/// The customers table: in `postgres` on PostgreSQL, in database `app` on MariaDB.
fn table(engine: &str) -> &'static str {
    if is_mariadb(engine) {
        "app.customers"
    } else {
        "customers"
    }
}

fn load_customers(db: &DbServer, engine: &str) {
    if is_mariadb(engine) {
        db.sql("CREATE DATABASE app");
    }
    let t = table(engine);
    db.sql(&format!("CREATE TABLE {t} (id int PRIMARY KEY, name varchar(200), email varchar(200) NOT NULL, card_number varchar(40))"));
    let rows: Vec<String> = (1..=CUSTOMERS)
        .map(|id| format!("({id}, 'Jane {id}', '{}', '{}')", email(id), card(id)))
        .collect();
    db.sql(&format!(
        "INSERT INTO {t} (id, name, email, card_number) VALUES {}",
        rows.join(", ")
    ));
}

/// The customers table as text.
pub fn dump(bed: &Stage) -> String {
    bed.db.sql(&format!(
        "SELECT id, name, email, card_number FROM {} ORDER BY id",
        table(bed.options.engine)
    ))
}

/// Masks every PII column; the verification queries and the leak check prove it.
pub const FULL_SCRIPT: &str = "
-- @sensitive customers.email, customers.card_number, customers.name
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid');
UPDATE customers SET card_number = NULL, name = CONCAT('Customer ', id);
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

/// Forgets the card number column: the verification gate must stop the run.
pub const MISSES_CARD: &str = "
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid');
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Where the source lives.
pub enum Src {
    /// An RDS DB instance.
    Instance,
    /// An Aurora DB cluster.
    Cluster,
}

/// How the source's storage is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKey {
    /// Not encrypted.
    Unencrypted,
    /// Under the account's `aws/rds` key.
    AwsManaged,
    /// Under a customer managed key.
    Customer,
}

/// What the stack is deployed with as `SnapshotSourceKmsKeyArn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredSourceKey {
    /// Nothing (the parameter's default).
    Nothing,
    /// The source's own key.
    TheSourceKey,
    /// Some other customer managed key.
    AnotherKey,
}

/// What the stage is made of.
pub struct Options {
    /// Instance or cluster.
    pub src: Src,
    /// The source's RDS engine; `mariadb` runs the sanitizer against the local MariaDB, every
    /// other engine against the local PostgreSQL (the local MariaDB lacks MySQL's
    /// `max_execution_time`, so it cannot play Aurora MySQL).
    pub engine: &'static str,
    /// The sanitizing script, uploaded and pinned (its SHA-256 deployed as
    /// `SnapshotScriptSha256`).
    pub script: &'static str,
    /// Re-encrypt under a customer-managed key (the source is then encrypted).
    pub reencrypt: bool,
    /// How the source is encrypted; `None`: under `aws/rds` with `reencrypt`, else not at all.
    pub source_key: Option<SourceKey>,
    /// `SnapshotSourceKmsKeyArn` as deployed.
    pub declared_source_key: DeclaredSourceKey,
    /// With `reencrypt`, the key deployed as `SnapshotKmsKeyArn` is `aws/rds`, by its ARN.
    pub reencrypt_under_aws_rds: bool,
    /// `SnapshotSourceId` as deployed when it is not the database the run names.
    pub configured_source: Option<&'static str>,
    /// Copy to a DR region.
    pub dr: bool,
    /// With `dr` and `reencrypt`, a key of the DR region is deployed as `SnapshotDrKmsKeyArn`
    /// (default true).
    pub dr_key: bool,
    /// `SnapshotAuroraClone`: a cluster source with `new` is cloned (default true).
    pub aurora_clone: bool,
    /// A provisioned Aurora source: no `INSTANCE_CLASS` (the temp instance takes the writer's
    /// class), a reader added after the writer, and the two swapped by a failover. Default
    /// false: the cluster is deployed as Serverless v2 (`db.serverless`).
    pub provisioned: bool,
    /// Accounts to share with.
    pub accounts: Vec<&'static str>,
    /// `new`, `latest` or a snapshot id.
    pub snapshot: &'static str,
    /// Sanitized snapshots kept.
    pub keep: u32,
    /// The ECS stand-in refuses to start the task.
    pub task_fails_to_start: bool,
    /// What the source's identifier starts with (`prod-<tag>`).
    pub source_prefix: &'static str,
    /// Replaces the script in the bucket with this text just before the task starts: after
    /// `validate` checked it, before the task reads it.
    pub script_replaced_before_task: Option<&'static str>,
    /// The source has an entry of its own in `SnapshotSourceMappings` (and is listed in
    /// `SnapshotMappedSourceIds`).
    pub mapping: Option<Mapped>,
}

/// A `SnapshotSourceMappings` entry for the stage's source.
#[derive(Debug, Clone, Copy)]
pub struct Mapped {
    /// Its script, uploaded to [`MAPPED_SCRIPT_KEY`] and pinned in the entry.
    pub script: &'static str,
    /// Its prefix is `<source>-<this>`.
    pub prefix_suffix: &'static str,
    /// A key of its own (deployed in `SnapshotMappedKmsKeyArns`) the kept snapshot is
    /// re-encrypted under.
    pub own_key: bool,
}

/// Where a [`Mapped`] entry's script is uploaded.
pub const MAPPED_SCRIPT_KEY: &str = "sanitize-scripts/mapped.sql";

impl Default for Options {
    fn default() -> Self {
        Self {
            src: Src::Instance,
            engine: "postgres",
            script: FULL_SCRIPT,
            reencrypt: false,
            source_key: None,
            declared_source_key: DeclaredSourceKey::Nothing,
            reencrypt_under_aws_rds: false,
            configured_source: None,
            dr: false,
            dr_key: true,
            aurora_clone: true,
            provisioned: false,
            accounts: vec![ACCOUNT_A],
            snapshot: "new",
            keep: 3,
            task_fails_to_start: false,
            source_prefix: "prod",
            script_replaced_before_task: None,
            mapping: None,
        }
    }
}

/// The DR region the stage is deployed with when [`Options::dr`] is set.
pub const DR_REGION: &str = "eu-west-1";

/// The class of a provisioned source's writer after its failover (see [`Options::provisioned`]).
pub const PROVISIONED_WRITER_CLASS: &str = "db.r6g.xlarge";

/// A ready stage.
pub struct Stage {
    /// Unique per stage: names everything it makes.
    pub tag: String,
    /// SDK config on moto (not through the proxy).
    pub sdk: SdkConfig,
    /// Fault injection in front of moto.
    pub proxy: AwsProxy,
    /// The ECS stand-in.
    pub ecs: FakeEcs,
    /// Runs `snapshot-steps`.
    pub host: LambdaHost,
    /// The local engine playing the temp database.
    pub db: DbServer,
    /// The production source id.
    pub source: String,
    /// `SnapshotSourceId` as deployed.
    pub configured_source: String,
    /// `SnapshotSourceMappings` as deployed, when the source has an entry.
    pub mappings: Option<String>,
    /// The key of that entry, when it has one.
    pub mapped_kms_key: Option<String>,
    /// The bucket holding the script (at [`SCRIPT_KEY`]).
    pub bucket: String,
    /// A state machine registered in moto for the guard.
    pub machine_arn: String,
    /// The isolated network's security group (`SnapshotSecurityGroupIds`).
    pub security_group: String,
    /// The key deployed as `SnapshotKmsKeyArn` (with `reencrypt`).
    pub kms_key: Option<String>,
    /// The source's KMS key (ARN), when it is encrypted.
    pub source_kms_key: Option<String>,
    /// The key deployed as `SnapshotDrKmsKeyArn` (a key of [`DR_REGION`], with `dr` and
    /// `reencrypt`).
    pub dr_kms_key: Option<String>,
    /// What it was built from.
    pub options: Options,
}

fn tag() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

async fn put_script(s3: &aws_sdk_s3::Client, bucket: &str, text: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(SCRIPT_KEY)
        .body(text.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

fn rds(sdk: &SdkConfig) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(sdk)
}

/// Runs the real `sanitizer` against the local engine: the RDS endpoint is replaced by the
/// loopback address and the RDS-managed secret is given the local engine's credentials.
/// `replace_script` (bucket and text) is written over the script first.
/// Also the restore-testing validation's task (`crate::restore_validation`).
pub(crate) fn launcher(
    sdk: SdkConfig,
    task_env: Vec<(String, String)>,
    port: u16,
    ca: Option<PathBuf>,
    refuse: bool,
    replace_script: Option<(String, &'static str)>,
) -> Launcher {
    Arc::new(move |launch: &TaskLaunch| {
        if refuse {
            return Err("RESOURCE:ENI (injected: no capacity for the task)".into());
        }
        let mut env: BTreeMap<String, String> = launch.environment.iter().cloned().collect();
        let secret = env
            .get("SANITIZER_SECRET_ARN")
            .cloned()
            .ok_or("no SANITIZER_SECRET_ARN in the overrides")?;
        let sdk = sdk.clone();
        let replace_script = replace_script.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                if let Some((bucket, text)) = replace_script {
                    put_script(&Moto::shared().s3_client(), &bucket, text).await;
                }
                aws_sdk_secretsmanager::Client::new(&sdk)
                    .put_secret_value()
                    .secret_id(secret)
                    .secret_string(
                        json!({"username": db::USER, "password": db::PASSWORD}).to_string(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("PutSecretValue: {e:?}"))
            })
        })
        .join()
        .map_err(|_| "secret thread panicked".to_owned())??;
        env.insert("SANITIZER_ENDPOINT".into(), "127.0.0.1".into());
        env.insert("SANITIZER_PORT".into(), port.to_string());
        match &ca {
            Some(ca) => {
                env.insert("SANITIZER_TLS".into(), "verify-full".into());
                env.insert("SANITIZER_CA_BUNDLE".into(), ca.display().to_string());
            }
            None => return Err("the test database serves no TLS (openssl missing?)".into()),
        }
        let mut cmd = tokio::process::Command::new(paths::bin_path("sanitizer"));
        cmd.env_clear()
            .envs(task_env.iter().cloned())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env);
        Ok(cmd)
    })
}

impl Stage {
    /// Builds the stage in the shared moto server.
    pub async fn new(options: Options) -> Stage {
        let moto = Moto::shared();
        let sdk = moto.sdk_config();
        let tag = tag();
        let db = if is_mariadb(options.engine) {
            DbServer::mariadb()
        } else {
            DbServer::postgres()
        };
        load_customers(&db, options.engine);

        let net = crate::ec2::isolated_network(&moto.endpoint(), &format!("iso-{tag}")).await;
        let (subnet, sg) = (net.subnet, net.security_group);
        let rds = rds(&sdk);
        rds.create_db_subnet_group()
            .db_subnet_group_name(format!("iso-{tag}"))
            .db_subnet_group_description("isolated")
            .subnet_ids(&subnet)
            .send()
            .await
            .unwrap();

        let kms = aws_sdk_kms::Client::new(&sdk);
        let new_key = || async {
            let k = kms.create_key().send().await.unwrap();
            k.key_metadata().unwrap().arn().unwrap().to_owned()
        };
        // moto makes the account's aws/rds key on first use, and calls it customer managed: the
        // proxy answers DescribeKey for it as AWS does (KeyManager AWS).
        let aws_rds = kms
            .describe_key()
            .key_id("alias/aws/rds")
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        let source_key_kind = options.source_key.unwrap_or(if options.reencrypt {
            SourceKey::AwsManaged
        } else {
            SourceKey::Unencrypted
        });
        let source_key = match source_key_kind {
            SourceKey::Unencrypted => None,
            SourceKey::AwsManaged => Some(aws_rds.clone()),
            SourceKey::Customer => Some(new_key().await),
        };
        let declared_source_key = match options.declared_source_key {
            DeclaredSourceKey::Nothing => None,
            DeclaredSourceKey::TheSourceKey => source_key.clone(),
            DeclaredSourceKey::AnotherKey => Some(new_key().await),
        };
        let key = match (options.reencrypt, options.reencrypt_under_aws_rds) {
            (false, _) => None,
            (true, false) => Some(new_key().await),
            (true, true) => Some(aws_rds.clone()),
        };
        // A re-encrypted kept snapshot is encrypted, so its DR copy needs a key of the DR region.
        let dr_key = if options.dr && options.reencrypt && options.dr_key {
            let dr_kms = aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(&sdk)
                    .region(aws_sdk_kms::config::Region::new(DR_REGION))
                    .build(),
            );
            let k = dr_kms.create_key().send().await.unwrap();
            Some(k.key_metadata().unwrap().arn().unwrap().to_owned())
        } else {
            None
        };
        let source = format!("{}-{tag}", options.source_prefix);
        let configured = options
            .configured_source
            .map_or_else(|| source.clone(), |other| format!("{other}-{tag}"));
        match options.src {
            Src::Instance => {
                rds.create_db_instance()
                    .db_instance_identifier(&source)
                    .engine(options.engine)
                    // moto has no default version for mariadb.
                    .set_engine_version(is_mariadb(options.engine).then(|| "10.11.9".to_owned()))
                    .db_instance_class("db.t3.micro")
                    .master_username("admin")
                    .master_user_password(SOURCE_PASSWORD)
                    .allocated_storage(20)
                    .storage_encrypted(source_key.is_some())
                    .set_kms_key_id(source_key.clone())
                    .send()
                    .await
                    .unwrap();
            }
            Src::Cluster => {
                rds.create_db_cluster()
                    .db_cluster_identifier(&source)
                    .engine(options.engine)
                    .master_username("admin")
                    .master_user_password(SOURCE_PASSWORD)
                    .storage_encrypted(source_key.is_some())
                    .set_kms_key_id(source_key.clone())
                    .send()
                    .await
                    .unwrap();
                rds.create_db_instance()
                    .db_instance_identifier(format!("{source}-w"))
                    .db_cluster_identifier(&source)
                    .engine(options.engine)
                    .db_instance_class("db.r6g.large")
                    .send()
                    .await
                    .unwrap();
                if options.provisioned {
                    rds.create_db_instance()
                        .db_instance_identifier(format!("{source}-r"))
                        .db_cluster_identifier(&source)
                        .engine(options.engine)
                        .db_instance_class(PROVISIONED_WRITER_CLASS)
                        .send()
                        .await
                        .unwrap();
                }
            }
        }

        let s3 = moto.s3_client();
        let bucket = format!("scripts-{tag}");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        put_script(&s3, &bucket, options.script).await;
        // Deployed with the digest of the script it uploaded, as an operator would.
        let pin = Sha256Pin::of(options.script.as_bytes()).to_string();
        let mapped_kms_key = match options.mapping {
            Some(m) if m.own_key => Some(new_key().await),
            _ => None,
        };
        let mappings = if let Some(m) = options.mapping {
            s3.put_object()
                .bucket(&bucket)
                .key(MAPPED_SCRIPT_KEY)
                .body(m.script.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
            let mut entry = json!({
                "source": source,
                "scriptKey": MAPPED_SCRIPT_KEY,
                "scriptSha256": Sha256Pin::of(m.script.as_bytes()).to_string(),
                "prefix": format!("{source}-{}", m.prefix_suffix),
            });
            if let Some(key) = &mapped_kms_key {
                entry["kmsKeyArn"] = json!(key);
            }
            Some(json!([entry]).to_string())
        } else {
            None
        };

        // The stack's name, as the template names its state machine (its role may list only
        // the executions of `<stack>-sanitized-snapshot`).
        let stack = format!("sluice-{tag}");
        let machine_arn =
            crate::sfn_runs::placeholder_machine(&sdk, &format!("{stack}-sanitized-snapshot"))
                .await;

        // Every call of the function and the task is judged by the IAM gate against the
        // template deployed with this stage's parameters and names.
        let kind = match options.src {
            Src::Instance => "instance",
            Src::Cluster => "cluster",
        };
        let (subnet_group, keep) = (format!("iso-{tag}"), options.keep.to_string());
        let accounts = options.accounts.join(",");
        let mut params = vec![
            ("EnableSanitizedSnapshots", "true"),
            ("SnapshotSourceKind", kind),
            ("SnapshotSourceId", configured.as_str()),
            ("SnapshotSubnetGroup", subnet_group.as_str()),
            ("SnapshotSecurityGroupIds", sg.as_str()),
            ("SnapshotTaskSubnets", subnet.as_str()),
            ("SnapshotTaskSecurityGroupIds", sg.as_str()),
            ("SnapshotShareAccounts", accounts.as_str()),
            ("SnapshotKeep", keep.as_str()),
            ("SnapshotScriptKey", SCRIPT_KEY),
            ("SnapshotScriptSha256", pin.as_str()),
            (
                "SanitizerImageUri",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/sanitizer:1",
            ),
        ];
        if let Some(key) = &key {
            params.push(("SnapshotKmsKeyArn", key.as_str()));
        }
        if let Some(key) = &declared_source_key {
            params.push(("SnapshotSourceKmsKeyArn", key.as_str()));
        }
        if options.dr {
            params.push(("SnapshotDrRegion", DR_REGION));
        }
        if let Some(key) = &dr_key {
            params.push(("SnapshotDrKmsKeyArn", key.as_str()));
        }
        let clone = options.aurora_clone.to_string();
        params.push(("SnapshotAuroraClone", clone.as_str()));
        if let Some(m) = &mappings {
            params.push(("SnapshotSourceMappings", m.as_str()));
            params.push(("SnapshotMappedSourceIds", source.as_str()));
        }
        if let Some(key) = &mapped_kms_key {
            params.push(("SnapshotMappedKmsKeyArns", key.as_str()));
        }
        let deployment = Gate::shared().deploy(&DeploySpec::new(&stack, params).physical([
            ("DataBucket", bucket.as_str()),
            ("SanitizerCluster", "sanitizer"),
            ("SanitizerTaskDefinition", "sluice-sanitizer"),
            ("SnapshotStepsFunction", FUNCTION),
        ]));
        let proxy = AwsProxy::gated(moto, deployment.clone());
        if options.provisioned {
            // A failover made the reader (listed second) the writer.
            for (member, from, to) in [("w", "true", "false"), ("r", "false", "true")] {
                let id = format!("<DBInstanceIdentifier>{source}-{member}</DBInstanceIdentifier>");
                proxy.replace_in_response(
                    "DescribeDBClusters",
                    &format!("{id}<IsClusterWriter>{from}</IsClusterWriter>"),
                    &format!("{id}<IsClusterWriter>{to}</IsClusterWriter>"),
                );
            }
        }
        let aws_rds_id = aws_rds
            .rsplit_once('/')
            .map_or(aws_rds.as_str(), |(_, id)| id);
        proxy.replace_in_response_when(
            "DescribeKey",
            aws_rds_id,
            r#""KeyManager": "CUSTOMER""#,
            r#""KeyManager": "AWS""#,
        );
        let ecs = FakeEcs::start(launcher(
            sdk.clone(),
            proxy.env_as(moto, "SanitizerTaskRole"),
            db.port(),
            db.ca_bundle().map(PathBuf::from),
            options.task_fails_to_start,
            options
                .script_replaced_before_task
                .map(|text| (bucket.clone(), text)),
        ));
        proxy.route("ecs", &ecs.endpoint());
        let mut env = proxy.env_as(moto, "SnapshotStepsFunctionRole");
        let pairs = [
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            ("SUBNET_GROUP", format!("iso-{tag}")),
            ("SECURITY_GROUP_IDS", sg.clone()),
            ("SOURCE_KIND", kind.to_owned()),
            ("SOURCE_ID", configured.clone()),
            (
                "SOURCE_KMS_KEY_ARN",
                declared_source_key.clone().unwrap_or_default(),
            ),
            ("SNAPSHOT_PREFIX", format!("{configured}-sanitized")),
            ("SHARE_ACCOUNTS", options.accounts.join(",")),
            ("KMS_KEY_ARN", key.clone().unwrap_or_default()),
            ("KEEP", options.keep.to_string()),
            (
                "DR_REGION",
                if options.dr { DR_REGION } else { "" }.to_owned(),
            ),
            ("DR_KMS_KEY_ARN", dr_key.clone().unwrap_or_default()),
            ("AURORA_CLONE", options.aurora_clone.to_string()),
            ("ECS_CLUSTER", "sanitizer".to_owned()),
            ("TASK_DEFINITION", "sluice-sanitizer:1".to_owned()),
            ("TASK_SUBNETS", subnet.clone()),
            ("TASK_SECURITY_GROUPS", sg.clone()),
            ("SCRIPT_URI", format!("s3://{bucket}/{SCRIPT_KEY}")),
            ("SCRIPT_SHA256", pin.clone()),
            (
                "DATABASE_NAME",
                if is_mariadb(options.engine) {
                    "app"
                } else {
                    "postgres"
                }
                .to_owned(),
            ),
            ("SOURCE_MAPPINGS", mappings.clone().unwrap_or_default()),
            (
                "MAPPED_SOURCE_IDS",
                if mappings.is_some() {
                    source.clone()
                } else {
                    String::new()
                },
            ),
            (
                "MAPPED_KMS_KEY_ARNS",
                mapped_kms_key.clone().unwrap_or_default(),
            ),
            (
                "INSTANCE_CLASS",
                match options.src {
                    Src::Instance => String::new(),
                    Src::Cluster if options.provisioned => String::new(),
                    Src::Cluster => "db.serverless".to_owned(),
                },
            ),
        ];
        env.extend(
            pairs
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_owned(), v)),
        );
        let host = LambdaHost::serving(FUNCTION, env);
        // Step Functions invokes the steps through the gated proxy, as the machine's role.
        proxy.route("lambda", &host.endpoint());
        deployment.require_assume(
            "SanitizedSnapshotStateMachineRole",
            "states.amazonaws.com",
            Some(&machine_arn),
        );
        Stage {
            tag,
            sdk,
            proxy,
            ecs,
            host,
            db,
            source,
            configured_source: configured,
            mappings,
            mapped_kms_key,
            bucket,
            machine_arn,
            security_group: sg,
            kms_key: key,
            source_kms_key: source_key,
            dr_kms_key: dr_key,
            options,
        }
    }

    /// Replaces the script in the bucket (not through the gate: this is someone else's write),
    /// leaving the deployed pin as it was.
    pub async fn replace_script(&self, text: &str) {
        put_script(&Moto::shared().s3_client(), &self.bucket, text).await;
    }

    /// Invokes one step directly, as the state machine would.
    pub async fn step(&self, step: &str, state: Value) -> Result<Value, FunctionError> {
        self.host
            .invoke(FUNCTION, &json!({"step": step, "state": state}))
            .await
    }

    /// The state the first step gets: the execution's input, name and state machine.
    pub fn first_state(&self) -> Value {
        json!({
            "input": self.input(),
            "runId": self.run_id(),
            "stateMachineArn": self.machine_arn,
        })
    }

    /// Runs `steps` in order from [`Stage::first_state`], each of which must succeed.
    pub async fn steps_until(&self, steps: &[&str]) -> Value {
        let mut state = self.first_state();
        for name in steps {
            state = self
                .step(name, state)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        }
        state
    }

    /// The execution name, the run id every created resource is tagged with.
    pub fn run_id(&self) -> String {
        format!("run-{}", self.tag)
    }

    /// The execution input.
    pub fn input(&self) -> Value {
        let kind = match self.options.src {
            Src::Instance => "instance",
            Src::Cluster => "cluster",
        };
        json!({"source": {"kind": kind, "id": self.source}, "snapshot": self.options.snapshot})
    }

    /// Runs the state machine once with [`Stage::input`].
    pub async fn run(&self) -> AslRun {
        self.run_with(self.input()).await
    }

    /// Runs the state machine once with `input`.
    pub async fn run_with(&self, input: Value) -> AslRun {
        self.run_named(&self.run_id(), input).await
    }

    /// Runs the state machine once as execution `run_id` with `input` (e.g. one another
    /// pipeline started, see [`crate::sfn_runs`]).
    pub async fn run_named(&self, run_id: &str, input: Value) -> AslRun {
        let spec = AslRunSpec::execution(
            "statemachines/sanitized-snapshot.asl.json",
            "SnapshotStepsFunctionArn",
            FUNCTION,
            self.proxy.endpoint(),
            &self.machine_arn,
            run_id,
            input,
        );
        let spec = AslRunSpec {
            principal: Some("SanitizedSnapshotStateMachineRole".to_owned()),
            ..spec
        };
        let run = asl::run(&spec).await.expect("ASL runner");
        assert!(
            self.ecs
                .wait_all_stopped(std::time::Duration::from_secs(30)),
            "a sanitizer task is still running"
        );
        // Every state, input and output of the execution, its result and cause: what Step
        // Functions keeps for 90 days and shows to anyone who may read executions.
        let history =
            serde_json::to_string(&(&run.events, &run.output, &run.cause)).unwrap_or_default();
        let leaks = leaks_in(&history);
        assert!(leaks.is_empty(), "the execution history holds {leaks:?}");
        run
    }

    /// The function's logs and the sanitizer tasks' output.
    pub fn logs(&self) -> String {
        let mut out = self.host.logs(FUNCTION);
        for task in self.ecs.tasks() {
            out.push_str(&format!(
                "\n[task {}]\n{}\n{}",
                task.arn, task.stdout, task.stderr
            ));
        }
        out
    }

    /// Everything tagged with this run, as `kind id` strings.
    pub async fn leftovers(&self) -> Vec<String> {
        let run = self.run_id();
        let mut left = Vec::new();
        let regions = ["us-east-1", "eu-west-1"];
        for region in regions {
            let conf = aws_sdk_rds::config::Builder::from(&self.sdk)
                .region(aws_sdk_rds::config::Region::new(region))
                .build();
            let rds = aws_sdk_rds::Client::from_conf(conf);
            let tagged = |tags: &[aws_sdk_rds::types::Tag]| {
                tags.iter()
                    .any(|t| t.key() == Some("sluice:run-id") && t.value() == Some(&run))
            };
            for i in rds
                .describe_db_instances()
                .send()
                .await
                .unwrap()
                .db_instances()
            {
                if tagged(i.tag_list()) {
                    left.push(format!("instance {}", i.db_instance_identifier().unwrap()));
                }
            }
            for c in rds
                .describe_db_clusters()
                .send()
                .await
                .unwrap()
                .db_clusters()
            {
                if tagged(c.tag_list()) {
                    left.push(format!("cluster {}", c.db_cluster_identifier().unwrap()));
                }
            }
            for s in rds
                .describe_db_snapshots()
                .send()
                .await
                .unwrap()
                .db_snapshots()
            {
                if tagged(s.tag_list()) {
                    left.push(format!("snapshot {}", s.db_snapshot_identifier().unwrap()));
                }
            }
            for s in rds
                .describe_db_cluster_snapshots()
                .send()
                .await
                .unwrap()
                .db_cluster_snapshots()
            {
                if tagged(s.tag_list()) {
                    left.push(format!(
                        "cluster snapshot {}",
                        s.db_cluster_snapshot_identifier().unwrap()
                    ));
                }
            }
        }
        left
    }

    /// The KMS key (ARN) RDS reports for the snapshot `id` of the source's kind.
    pub async fn snapshot_key(&self, id: &str) -> Option<String> {
        let rds = rds(&self.sdk);
        match self.options.src {
            Src::Instance => rds
                .describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await
                .unwrap()
                .db_snapshots()
                .first()
                .and_then(|s| s.kms_key_id().map(str::to_owned)),
            Src::Cluster => rds
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(id)
                .send()
                .await
                .unwrap()
                .db_cluster_snapshots()
                .first()
                .and_then(|s| s.kms_key_id().map(str::to_owned)),
        }
    }

    /// The run's snapshots that are kept (role sanitized), with the accounts they are shared with.
    pub async fn kept(&self) -> Vec<(String, Vec<String>)> {
        self.kept_of(&self.run_id()).await
    }

    /// [`Stage::kept`] of run `run`.
    pub async fn kept_of(&self, run: &str) -> Vec<(String, Vec<String>)> {
        let rds = rds(&self.sdk);
        let run = run.to_owned();
        let mut out = Vec::new();
        let ours = |tags: &[aws_sdk_rds::types::Tag]| {
            tags.iter()
                .any(|t| t.key() == Some("sluice:run-id") && t.value() == Some(&run))
                && tags
                    .iter()
                    .any(|t| t.key() == Some("sluice:role") && t.value() == Some("sanitized"))
        };
        for s in rds
            .describe_db_snapshots()
            .send()
            .await
            .unwrap()
            .db_snapshots()
        {
            if ours(s.tag_list()) {
                let id = s.db_snapshot_identifier().unwrap().to_owned();
                let attrs = rds
                    .describe_db_snapshot_attributes()
                    .db_snapshot_identifier(&id)
                    .send()
                    .await
                    .unwrap();
                let shared = attrs
                    .db_snapshot_attributes_result()
                    .map(|r| {
                        r.db_snapshot_attributes()
                            .iter()
                            .filter(|a| a.attribute_name() == Some("restore"))
                            .flat_map(|a| a.attribute_values().to_vec())
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((id, shared));
            }
        }
        for s in rds
            .describe_db_cluster_snapshots()
            .send()
            .await
            .unwrap()
            .db_cluster_snapshots()
        {
            if ours(s.tag_list()) {
                let id = s.db_cluster_snapshot_identifier().unwrap().to_owned();
                let attrs = rds
                    .describe_db_cluster_snapshot_attributes()
                    .db_cluster_snapshot_identifier(&id)
                    .send()
                    .await
                    .unwrap();
                let shared = attrs
                    .db_cluster_snapshot_attributes_result()
                    .map(|r| {
                        r.db_cluster_snapshot_attributes()
                            .iter()
                            .filter(|a| a.attribute_name() == Some("restore"))
                            .flat_map(|a| a.attribute_values().to_vec())
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((id, shared));
            }
        }
        out
    }

    /// The source still exists, available, with no Sluice tag and its own settings.
    pub async fn assert_source_untouched(&self) {
        let rds = rds(&self.sdk);
        let (status, tags) = match self.options.src {
            Src::Instance => {
                let out = rds
                    .describe_db_instances()
                    .db_instance_identifier(&self.source)
                    .send()
                    .await
                    .expect("source instance still exists");
                let i = &out.db_instances()[0];
                assert!(i.master_user_secret().is_none(), "source password changed");
                (
                    i.db_instance_status().unwrap_or_default().to_owned(),
                    i.tag_list().to_vec(),
                )
            }
            Src::Cluster => {
                let out = rds
                    .describe_db_clusters()
                    .db_cluster_identifier(&self.source)
                    .send()
                    .await
                    .expect("source cluster still exists");
                let c = &out.db_clusters()[0];
                assert!(c.master_user_secret().is_none(), "source password changed");
                (
                    c.status().unwrap_or_default().to_owned(),
                    c.tag_list().to_vec(),
                )
            }
        };
        assert_ne!(status, "deleting");
        assert!(
            tags.iter()
                .all(|t| !t.key().unwrap_or_default().starts_with("sluice:")),
            "the source was tagged: {tags:?}"
        );
    }

    /// A failed run: FAILED with `error` and a cause naming `cause`, nothing of the run left,
    /// nothing shared, the source untouched, the failure published.
    pub async fn assert_failed_cleanly(&self, run: &AslRun, error: &str, cause: &str) {
        assert_eq!(run.status, "FAILED", "path: {:?}", run.path());
        assert_eq!(run.error.as_deref(), Some(error), "cause: {:?}", run.cause);
        let got = run.cause.clone().unwrap_or_default();
        assert!(
            got.contains(cause),
            "cause {got:?} should mention {cause:?}"
        );
        let path = run.path();
        assert!(
            path.iter().any(|s| s == "NotifyFailure")
                && path.last().map(String::as_str) == Some("Failed"),
            "{path:?}"
        );
        let cleanup: Vec<String> = run
            .events_of("StateFailed")
            .filter(|e| e["state"]["name"] == "CleanupAfterFailure")
            .map(|e| format!("{} {}", e["Error"], e["Cause"]))
            .collect();
        assert_eq!(
            self.leftovers().await,
            Vec::<String>::new(),
            "left behind; CleanupAfterFailure failed with {cleanup:?}, path {path:?}"
        );
        assert!(self.kept().await.is_empty(), "a failed run kept a snapshot");
        self.assert_source_untouched().await;
        assert!(self.proxy.calls().iter().any(|c| c == "PutEvents"));
    }
}

/// The production source's master password in the stand-in.
pub const SOURCE_PASSWORD: &str = "prod-password-1";

/// What of the secrets and the production rows `text` holds: the source's and the temp
/// database's passwords, and every fixture row's original e-mail and card number (named, never
/// quoted).
pub fn leaks_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (secret, what) in [
        (SOURCE_PASSWORD, "the source's master password"),
        (db::PASSWORD, "the temp database's password"),
    ] {
        if text.contains(secret) {
            found.push(what.to_owned());
        }
    }
    for id in 1..=CUSTOMERS {
        if text.contains(&email(id)) {
            found.push(format!("customer {id}'s original e-mail"));
        }
        if text.contains(&card(id)) {
            found.push(format!("customer {id}'s original card number"));
        }
    }
    found
}

/// Asserts that `dump` holds no original e-mail or card number.
pub fn assert_no_original_pii(dump: &str) {
    for id in 1..=CUSTOMERS {
        assert!(!dump.contains(&email(id)), "original e-mail {id} remains");
        assert!(!dump.contains(&card(id)), "original card {id} remains");
    }
}

/// Asserts that no password is in the function's logs or the task overrides.
pub fn assert_no_secret_leaked(bed: &Stage) {
    let logs = bed.logs();
    for secret in [db::PASSWORD, SOURCE_PASSWORD] {
        assert!(
            !logs.contains(secret),
            "a password is in the function's logs"
        );
        for request in bed.ecs.run_task_requests() {
            assert!(
                !request.to_string().contains(secret),
                "a password is in the task overrides"
            );
        }
    }
}
