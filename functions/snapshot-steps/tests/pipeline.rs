//! The sanitized-snapshot state machine end to end: the real ASL under aws-local-stepfunctions,
//! every task served by the real `snapshot-steps` binary, AWS answered by moto (through a
//! fault-injecting proxy), the sanitizer task run by the test bed's ECS stand-in as the real
//! `sanitizer` binary against a local PostgreSQL or MariaDB that plays the restored temp
//! database. Each failure test injects a fault at one step and checks that the run ends FAILED
//! with the cause, nothing of the run is left, nothing is shared and the source is untouched.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use serde_json::{Value, json};
use sluice_testbed::asl::{self, AslRun, AslRunSpec};
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::db::{self, DbServer};
use sluice_testbed::ecs::{FakeEcs, Launcher, TaskLaunch};
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

const FUNCTION: &str = "snapshot-steps";
const CUSTOMERS: u32 = 25;
const ACCOUNT_A: &str = "111111111111";

fn email(id: u32) -> String {
    format!("jane.doe{id}@corp-mail.example.com")
}

fn card(id: u32) -> String {
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

fn dump(bed: &Bed) -> String {
    bed.db.sql(&format!(
        "SELECT id, name, email, card_number FROM {} ORDER BY id",
        table(bed.options.engine)
    ))
}

/// Masks every PII column; the verification queries prove it.
const FULL_SCRIPT: &str = "
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid');
UPDATE customers SET card_number = NULL, name = CONCAT('Customer ', id);
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

/// Forgets the card number column: the verification gate must stop the run.
const MISSES_CARD: &str = "
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid');
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    Instance,
    Cluster,
}

struct Options {
    src: Src,
    /// The source's RDS engine; `mariadb` runs the sanitizer against the local MariaDB, every
    /// other engine against the local PostgreSQL (the local MariaDB lacks MySQL's
    /// `max_execution_time`, so it cannot play Aurora MySQL).
    engine: &'static str,
    script: &'static str,
    reencrypt: bool,
    dr: bool,
    accounts: Vec<&'static str>,
    snapshot: &'static str,
    keep: u32,
    task_fails_to_start: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            src: Src::Instance,
            engine: "postgres",
            script: FULL_SCRIPT,
            reencrypt: false,
            dr: false,
            accounts: vec![ACCOUNT_A],
            snapshot: "new",
            keep: 3,
            task_fails_to_start: false,
        }
    }
}

struct Bed {
    tag: String,
    sdk: SdkConfig,
    proxy: AwsProxy,
    ecs: FakeEcs,
    host: LambdaHost,
    db: DbServer,
    source: String,
    machine_arn: String,
    options: Options,
}

fn tag() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn rds(sdk: &SdkConfig) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(sdk)
}

/// Runs the real `sanitizer` against the local engine: the RDS endpoint is replaced by the
/// loopback address and the RDS-managed secret is given the local engine's credentials.
fn launcher(sdk: SdkConfig, port: u16, ca: Option<PathBuf>, refuse: bool) -> Launcher {
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
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
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
            .envs(Moto::shared().env())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env);
        Ok(cmd)
    })
}

impl Bed {
    async fn new(options: Options) -> Bed {
        let moto = Moto::shared();
        let sdk = moto.sdk_config();
        let tag = tag();
        let db = if is_mariadb(options.engine) {
            DbServer::mariadb()
        } else {
            DbServer::postgres()
        };
        load_customers(&db, options.engine);

        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.0.1.0/24")
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap();
        let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
        let sg = ec2
            .create_security_group()
            .group_name(format!("iso-{tag}"))
            .description("isolated")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_owned();
        let rds = rds(&sdk);
        rds.create_db_subnet_group()
            .db_subnet_group_name(format!("iso-{tag}"))
            .db_subnet_group_description("isolated")
            .subnet_ids(&subnet)
            .send()
            .await
            .unwrap();

        let kms = aws_sdk_kms::Client::new(&sdk);
        let key = if options.reencrypt {
            let k = kms.create_key().send().await.unwrap();
            Some(k.key_metadata().unwrap().arn().unwrap().to_owned())
        } else {
            None
        };
        let source = format!("prod-{tag}");
        match options.src {
            Src::Instance => {
                rds.create_db_instance()
                    .db_instance_identifier(&source)
                    .engine(options.engine)
                    // moto has no default version for mariadb.
                    .set_engine_version(is_mariadb(options.engine).then(|| "10.11.9".to_owned()))
                    .db_instance_class("db.t3.micro")
                    .master_username("admin")
                    .master_user_password("prod-password-1")
                    .allocated_storage(20)
                    .storage_encrypted(options.reencrypt)
                    .send()
                    .await
                    .unwrap();
            }
            Src::Cluster => {
                rds.create_db_cluster()
                    .db_cluster_identifier(&source)
                    .engine(options.engine)
                    .master_username("admin")
                    .master_user_password("prod-password-1")
                    .storage_encrypted(options.reencrypt)
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
            }
        }

        let s3 = moto.s3_client();
        let bucket = format!("scripts-{tag}");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3.put_object()
            .bucket(&bucket)
            .key("sanitize.sql")
            .body(options.script.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();

        let sfn = aws_sdk_sfn::Client::new(&sdk);
        let machine_arn = sfn
            .create_state_machine()
            .name(format!("sm-{tag}"))
            .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#)
            .role_arn("arn:aws:iam::123456789012:role/sluice-test")
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_owned();

        let proxy = AwsProxy::start(&moto.endpoint());
        let ecs = FakeEcs::start(launcher(
            sdk.clone(),
            db.port(),
            db.ca_bundle().map(PathBuf::from),
            options.task_fails_to_start,
        ));
        let mut env: Vec<(String, String)> = moto
            .env()
            .into_iter()
            .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
            .collect();
        let pairs = [
            ("AWS_ENDPOINT_URL", proxy.endpoint()),
            ("AWS_ENDPOINT_URL_ECS", ecs.endpoint()),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            ("SUBNET_GROUP", format!("iso-{tag}")),
            ("SECURITY_GROUP_IDS", sg.clone()),
            ("SNAPSHOT_PREFIX", format!("{source}-sanitized")),
            ("SHARE_ACCOUNTS", options.accounts.join(",")),
            ("KMS_KEY_ARN", key.clone().unwrap_or_default()),
            ("KEEP", options.keep.to_string()),
            (
                "DR_REGION",
                if options.dr { "eu-west-1" } else { "" }.to_owned(),
            ),
            ("ECS_CLUSTER", "sanitizer".to_owned()),
            ("TASK_DEFINITION", "sluice-sanitizer:1".to_owned()),
            ("TASK_SUBNETS", subnet.clone()),
            ("TASK_SECURITY_GROUPS", sg.clone()),
            ("SCRIPT_URI", format!("s3://{bucket}/sanitize.sql")),
            (
                "DATABASE_NAME",
                if is_mariadb(options.engine) {
                    "app"
                } else {
                    "postgres"
                }
                .to_owned(),
            ),
            (
                "INSTANCE_CLASS",
                match options.src {
                    Src::Instance => String::new(),
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
        let host = LambdaHost::start();
        host.add_function(
            FUNCTION,
            &paths::bin_path(FUNCTION),
            FunctionSpec {
                env,
                ..FunctionSpec::default()
            },
        );
        Bed {
            tag,
            sdk,
            proxy,
            ecs,
            host,
            db,
            source,
            machine_arn,
            options,
        }
    }

    fn run_id(&self) -> String {
        format!("run-{}", self.tag)
    }

    fn input(&self) -> Value {
        let kind = match self.options.src {
            Src::Instance => "instance",
            Src::Cluster => "cluster",
        };
        json!({"source": {"kind": kind, "id": self.source}, "snapshot": self.options.snapshot})
    }

    async fn run(&self) -> AslRun {
        let run_id = self.run_id();
        let name = self.machine_arn.rsplit(':').next().unwrap_or_default();
        let spec = AslRunSpec {
            definition: PathBuf::from("statemachines/sanitized-snapshot.asl.json"),
            input: self.input(),
            substitutions: BTreeMap::from([(
                "SnapshotStepsFunctionArn".to_owned(),
                format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"),
            )]),
            lambda_endpoint: Some(self.host.endpoint()),
            context: Some(json!({
                "Execution": {
                    "Id": format!("arn:aws:states:us-east-1:123456789012:execution:{name}:{run_id}"),
                    "Name": run_id,
                },
                "StateMachine": {"Id": self.machine_arn},
            })),
            ..AslRunSpec::default()
        };
        let run = asl::run(&spec).await.expect("ASL runner");
        assert!(
            self.ecs
                .wait_all_stopped(std::time::Duration::from_secs(30)),
            "a sanitizer task is still running"
        );
        run
    }

    /// The function's logs and the sanitizer tasks' output.
    fn logs(&self) -> String {
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
    async fn leftovers(&self) -> Vec<String> {
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

    /// The run's snapshots that are kept (role sanitized), with the accounts they are shared with.
    async fn kept(&self) -> Vec<(String, Vec<String>)> {
        let rds = rds(&self.sdk);
        let run = self.run_id();
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
    async fn assert_source_untouched(&self) {
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
    async fn assert_failed_cleanly(&self, run: &AslRun, error: &str, cause: &str) {
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
        assert_eq!(self.leftovers().await, Vec::<String>::new(), "left behind");
        assert!(self.kept().await.is_empty(), "a failed run kept a snapshot");
        self.assert_source_untouched().await;
        assert!(self.proxy.calls().iter().any(|c| c == "PutEvents"));
    }
}

fn assert_no_original_pii(dump: &str) {
    for id in 1..=CUSTOMERS {
        assert!(!dump.contains(&email(id)), "original e-mail {id} remains");
        assert!(!dump.contains(&card(id)), "original card {id} remains");
    }
}

fn assert_no_secret_leaked(bed: &Bed) {
    let logs = bed.logs();
    for secret in [db::PASSWORD, "prod-password-1"] {
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

#[tokio::test(flavor = "multi_thread")]
async fn given_postgres_instance_when_run_then_sanitized_snapshot_is_shared_and_temp_resources_gone()
 {
    let bed = Bed::new(Options::default()).await;

    let run = bed.run().await;

    assert!(
        run.succeeded(),
        "{:?} {:?} {:?}\n{}",
        run.error,
        run.cause,
        run.path(),
        bed.logs()
    );
    assert_no_original_pii(&dump(&bed));
    assert!(dump(&bed).contains("@example.invalid"));
    let kept = bed.kept().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].0.starts_with(&format!("{}-sanitized-", bed.source)),
        "{kept:?}"
    );
    assert_eq!(kept[0].1, vec![ACCOUNT_A.to_owned()]);
    assert_eq!(
        bed.leftovers().await,
        vec![format!("snapshot {}", kept[0].0)]
    );
    bed.assert_source_untouched().await;
    assert_no_secret_leaked(&bed);
    let requests = bed.ecs.run_task_requests();
    assert_eq!(requests.len(), 1, "one task per run");
    let env = requests[0]["overrides"]["containerOverrides"][0]["environment"].to_string();
    assert!(
        env.contains("SANITIZER_SECRET_ARN") && env.contains("rds!"),
        "{env}"
    );
    let output = run.output.expect("output");
    assert_eq!(output["snapshot"], json!(kept[0].0));
    assert!(output.get("error").is_none());
    assert!(bed.proxy.calls().iter().any(|c| c == "PutEvents"));
}

#[tokio::test(flavor = "multi_thread")]
async fn given_aurora_postgresql_cluster_with_reencryption_when_run_then_copy_under_the_key_is_kept()
 {
    let bed = Bed::new(Options {
        src: Src::Cluster,
        engine: "aurora-postgresql",
        reencrypt: true,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    assert!(
        run.succeeded(),
        "{:?} {:?} {:?}\n{}",
        run.error,
        run.cause,
        run.path(),
        bed.logs()
    );
    assert_no_original_pii(&dump(&bed));
    let kept = bed.kept().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1, vec![ACCOUNT_A.to_owned()]);
    // The pre-copy snapshot, the temp cluster and its instance are all gone.
    assert_eq!(
        bed.leftovers().await,
        vec![format!("cluster snapshot {}", kept[0].0)]
    );
    let calls = bed.proxy.calls();
    for call in [
        "RestoreDBClusterFromSnapshot",
        "CreateDBInstance",
        "ModifyDBCluster",
        "CopyDBClusterSnapshot",
    ] {
        assert!(
            calls.iter().any(|c| c == call),
            "{call} not called: {calls:?}"
        );
    }
    bed.assert_source_untouched().await;
    assert_no_secret_leaked(&bed);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_mariadb_instance_when_run_then_sanitized_snapshot_is_kept() {
    let bed = Bed::new(Options {
        engine: "mariadb",
        accounts: vec![],
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    assert!(
        run.succeeded(),
        "{:?} {:?} {:?}\n{}",
        run.error,
        run.cause,
        run.path(),
        bed.logs()
    );
    assert_no_original_pii(&dump(&bed));
    let kept = bed.kept().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].1.is_empty(),
        "no accounts configured, nothing shared"
    );
    assert_eq!(
        bed.leftovers().await,
        vec![format!("snapshot {}", kept[0].0)]
    );
    bed.assert_source_untouched().await;
    assert_no_secret_leaked(&bed);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_script_missing_a_column_when_run_then_verification_gate_stops_before_snapshot() {
    let bed = Bed::new(Options {
        script: MISSES_CARD,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "VerificationFailed", "exited with code")
        .await;
    assert!(
        !run.path().iter().any(|s| s == "SnapshotTemp"),
        "{:?}",
        run.path()
    );
    let calls = bed.proxy.calls();
    assert!(
        !calls.iter().any(|c| c == "ModifyDBSnapshotAttribute"),
        "{calls:?}"
    );
    assert!(
        dump(&bed).contains(&card(1)),
        "the script never touched cards"
    );
}

/// One failure per step, injected at the AWS call the step makes.
async fn fail_at(action: &str, options: Options, state: &str) {
    let bed = Bed::new(options).await;
    bed.proxy.fail(
        action,
        "InvalidParameterCombination",
        "injected by the test",
        None,
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "AwsError", "injected by the test")
        .await;
    let failed_at: Vec<String> = run.path();
    let first_catch = failed_at
        .iter()
        .position(|s| s == "CleanupAfterFailure" || s == "NotifyFailure")
        .expect("a failure path");
    assert_eq!(failed_at[first_catch - 1], state, "{failed_at:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn given_source_snapshot_fails_then_run_fails_cleanly() {
    fail_at("CreateDBSnapshot", Options::default(), "SnapshotSource").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_restore_fails_then_run_fails_cleanly() {
    fail_at(
        "RestoreDBInstanceFromDBSnapshot",
        Options::default(),
        "Restore",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_managed_password_fails_then_run_fails_cleanly() {
    fail_at("ModifyDBInstance", Options::default(), "WaitRestored").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_temp_snapshot_fails_then_run_fails_cleanly() {
    let options = Options {
        snapshot: "latest",
        ..Options::default()
    };
    fail_at("CreateDBSnapshot", options, "SnapshotTemp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_reencrypting_copy_fails_then_run_fails_cleanly() {
    let options = Options {
        reencrypt: true,
        ..Options::default()
    };
    fail_at("CopyDBSnapshot", options, "CopyEncrypted").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_share_fails_then_run_fails_cleanly() {
    fail_at("ModifyDBSnapshotAttribute", Options::default(), "Share").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_dr_copy_fails_then_run_fails_cleanly_and_unshares() {
    let options = Options {
        dr: true,
        ..Options::default()
    };
    fail_at("CopyDBSnapshot", options, "CopyToDr").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_temp_instance_becomes_incompatible_network_then_fails_at_once() {
    let bed = Bed::new(Options::default()).await;
    bed.proxy.replace_in_response(
        "DescribeDBInstances",
        "<DBInstanceStatus>available</DBInstanceStatus>",
        "<DBInstanceStatus>incompatible-network</DBInstanceStatus>",
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ResourceFailed", "incompatible-network")
        .await;
    assert_eq!(
        run.retries("WaitRestored"),
        0,
        "a terminal status is not waited on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn given_sanitizer_task_cannot_start_then_run_fails_cleanly() {
    let bed = Bed::new(Options {
        task_fails_to_start: true,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ResourceFailed", "no capacity")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_too_many_accounts_then_validation_fails_before_anything_exists() {
    let bed = Bed::new(Options {
        accounts: vec!["12345"],
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ConfigError", "12-digit")
        .await;
    assert!(!run.path().iter().any(|s| s == "SnapshotSource"));
    assert!(bed.ecs.run_task_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn given_old_sanitized_snapshots_when_run_then_only_the_newest_are_kept() {
    let bed = Bed::new(Options {
        keep: 2,
        ..Options::default()
    })
    .await;
    let rds = rds(&bed.sdk);
    // Three earlier sanitized snapshots of this source, one of another source and one untagged.
    let mut made = Vec::new();
    for (i, source) in [
        &bed.source,
        &bed.source,
        &bed.source,
        &"other-db".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("{}-old-{i}", bed.source);
        rds.create_db_snapshot()
            .db_snapshot_identifier(&id)
            .db_instance_identifier(&bed.source)
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("sluice:role")
                    .value("sanitized")
                    .build(),
            )
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("sluice:source")
                    .value(source)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        made.push(id);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let untagged = format!("{}-manual", bed.source);
    rds.create_db_snapshot()
        .db_snapshot_identifier(&untagged)
        .db_instance_identifier(&bed.source)
        .send()
        .await
        .unwrap();

    let run = bed.run().await;

    assert!(run.succeeded(), "{:?} {:?}", run.error, run.cause);
    let exists = |id: String| {
        let rds = rds.clone();
        async move {
            rds.describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await
                .is_ok()
        }
    };
    // keep 2 = the new one + the newest old one.
    assert!(!exists(made[0].clone()).await);
    assert!(!exists(made[1].clone()).await);
    assert!(exists(made[2].clone()).await);
    assert!(
        exists(made[3].clone()).await,
        "another source's snapshot was pruned"
    );
    assert!(exists(untagged).await, "an untagged snapshot was pruned");
    let output = run.output.expect("output");
    let mut pruned: Vec<&str> = output["pruned"]
        .as_array()
        .expect("pruned list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    pruned.sort_unstable();
    assert_eq!(pruned, vec![made[0].as_str(), made[1].as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_steps_invoked_twice_then_nothing_is_created_twice() {
    let bed = Bed::new(Options::default()).await;
    let mut state = json!({
        "input": bed.input(),
        "runId": bed.run_id(),
        "stateMachineArn": bed.machine_arn,
    });
    let step = |name: &'static str, state: Value| {
        let host = &bed.host;
        async move {
            host.invoke(FUNCTION, &json!({"step": name, "state": state}))
                .await
        }
    };
    for name in [
        "guard",
        "validate",
        "snapshotSource",
        "snapshotSource",
        "waitSourceSnapshot",
        "restore",
        "restore",
    ] {
        state = step(name, state)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    let mut ready = None;
    for _ in 0..5 {
        match step("waitRestored", state.clone()).await {
            Ok(s) => {
                ready = Some(s);
                break;
            }
            Err(e) => assert!(format!("{e:?}").contains("NotReady"), "{e:?}"),
        }
    }
    let state = ready.expect("temp instance ready within 5 polls");
    let calls = bed.proxy.calls();
    let count = |action: &str| calls.iter().filter(|c| *c == action).count();
    assert_eq!(count("RestoreDBInstanceFromDBSnapshot"), 1, "{calls:?}");
    assert_eq!(count("ModifyDBInstance"), 1, "{calls:?}");
    let left = bed.leftovers().await;
    assert_eq!(
        left.iter().filter(|l| l.starts_with("snapshot")).count(),
        1,
        "{left:?}"
    );
    assert_eq!(
        left.iter().filter(|l| l.starts_with("instance")).count(),
        1,
        "{left:?}"
    );
    assert!(
        state["secretArn"]
            .as_str()
            .is_some_and(|a| a.contains("rds!")),
        "{state}"
    );

    let mut cleaned = false;
    for _ in 0..5 {
        if step("cleanup", state.clone()).await.is_ok() {
            cleaned = true;
            break;
        }
    }
    assert!(cleaned, "cleanup did not finish in 5 rounds");
    assert_eq!(bed.leftovers().await, Vec::<String>::new());
    bed.assert_source_untouched().await;
}
