//! The AWS adapters the steps use: RDS instances/clusters and their snapshots read into one
//! shape whatever the kind, and SDK errors turned into [`StepError`]s that name the call.

use std::fmt::Debug;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::types::Tag;
use sluice_runtime::StepError;
use sluice_runtime::error::ErrorKind;

use crate::state::Kind;

/// Tag key carrying the execution's run id on everything a run creates.
pub const RUN_TAG: &str = "sluice:run-id";
/// `sluice:role` value of a temporary resource (deleted by cleanup).
pub const ROLE_TEMP: &str = "temp";
pub use sluice_snapshots::retention::{ROLE_SANITIZED, ROLE_TAG, SOURCE_TAG};

/// The error code of a service error, if that is what `err` is.
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// An SDK failure of `op` on `what`, as an `AwsError` naming both.
pub fn aws_error<E, R>(op: &str, what: &str, err: SdkError<E, R>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let detail = match err.as_service_error() {
        Some(e) => format!(
            "{}: {}",
            e.code().unwrap_or("Unknown"),
            e.message().unwrap_or("no message")
        ),
        None => aws_sdk_rds::error::DisplayErrorContext(&err).to_string(),
    };
    StepError::new(ErrorKind::Aws, format!("{op} {what} failed: {detail}"))
}

/// A database (instance or cluster) as the steps need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Db {
    /// Identifier.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Status (`available`, `creating`, …).
    pub status: String,
    /// RDS engine name.
    pub engine: String,
    /// Port.
    pub port: Option<i32>,
    /// Whether storage is encrypted.
    pub encrypted: bool,
    /// The storage's KMS key (ARN), when encrypted.
    pub kms_key: Option<String>,
    /// Writer endpoint address.
    pub endpoint: Option<String>,
    /// The RDS-managed master secret, once there is one.
    pub secret_arn: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Member instances (clusters).
    pub members: Vec<String>,
    /// The member that is the cluster's writer (clusters).
    pub writer: Option<String>,
    /// Instance class (instances).
    pub class: Option<String>,
    /// Backup retention days.
    pub backup_retention: Option<i32>,
    /// Cluster this instance belongs to.
    pub cluster: Option<String>,
}

/// A snapshot (DB or cluster) as the steps need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snap {
    /// Identifier.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Status.
    pub status: String,
    /// Creation time, epoch seconds.
    pub created: Option<i64>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// The database it was taken of.
    pub db: String,
    /// `manual`, `automated`, `awsbackup`, …
    pub kind: String,
    /// Whether it is encrypted.
    pub encrypted: bool,
}

/// The value of tag `key`.
pub fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Whether `tags` mark a resource of run `run_id` with role `role`.
pub fn is_ours(tags: &[(String, String)], run_id: &str, role: &str) -> bool {
    tag(tags, RUN_TAG) == Some(run_id) && tag(tags, ROLE_TAG) == Some(role)
}

/// RDS tags from pairs.
pub fn rds_tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

fn pairs(tags: Option<&[Tag]>) -> Vec<(String, String)> {
    tags.unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn instance(d: &aws_sdk_rds::types::DbInstance) -> Db {
    Db {
        id: d.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: d.db_instance_arn().unwrap_or_default().to_owned(),
        status: d.db_instance_status().unwrap_or_default().to_owned(),
        engine: d.engine().unwrap_or_default().to_owned(),
        port: d.endpoint().and_then(|e| e.port()),
        encrypted: d.storage_encrypted().unwrap_or(false),
        kms_key: d.kms_key_id().map(str::to_owned),
        endpoint: d.endpoint().and_then(|e| e.address()).map(str::to_owned),
        secret_arn: d
            .master_user_secret()
            .and_then(|s| s.secret_arn())
            .map(str::to_owned),
        tags: pairs(Some(d.tag_list())),
        members: Vec::new(),
        writer: None,
        class: d.db_instance_class().map(str::to_owned),
        backup_retention: d.backup_retention_period(),
        cluster: d.db_cluster_identifier().map(str::to_owned),
    }
}

fn cluster(c: &aws_sdk_rds::types::DbCluster) -> Db {
    Db {
        id: c.db_cluster_identifier().unwrap_or_default().to_owned(),
        arn: c.db_cluster_arn().unwrap_or_default().to_owned(),
        status: c.status().unwrap_or_default().to_owned(),
        engine: c.engine().unwrap_or_default().to_owned(),
        port: c.port(),
        encrypted: c.storage_encrypted().unwrap_or(false),
        kms_key: c.kms_key_id().map(str::to_owned),
        endpoint: c.endpoint().map(str::to_owned),
        secret_arn: c
            .master_user_secret()
            .and_then(|s| s.secret_arn())
            .map(str::to_owned),
        tags: pairs(Some(c.tag_list())),
        members: c
            .db_cluster_members()
            .iter()
            .filter_map(|m| m.db_instance_identifier().map(str::to_owned))
            .collect(),
        writer: c
            .db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier().map(str::to_owned)),
        class: c.db_cluster_instance_class().map(str::to_owned),
        backup_retention: c.backup_retention_period(),
        cluster: None,
    }
}

fn secs(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.map(aws_smithy_types::DateTime::secs)
}

/// The RDS calls of the pipeline, for one region.
#[derive(Debug, Clone)]
pub struct Rds {
    /// The SDK client.
    pub client: aws_sdk_rds::Client,
}

const NOT_FOUND: &[&str] = &[
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
    "DBClusterNotFound",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
    "DBClusterSnapshotNotFound",
    // AWS Backup.
    "ResourceNotFoundException",
];

/// Whether `err` says the resource does not exist.
pub(crate) fn not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    code(err).is_some_and(|c| NOT_FOUND.contains(&c))
}

/// A create/copy call's outcome, where "already exists" means an earlier attempt made it.
pub(crate) fn made<O, E, R>(
    op: &str,
    what: &str,
    result: Result<O, SdkError<E, R>>,
) -> Result<(), StepError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if code(&e).is_some_and(|c| c.contains("AlreadyExists")) => Ok(()),
        Err(e) => Err(aws_error(op, what, e)),
    }
}

/// A delete call's outcome, where "not found" means it is already gone.
pub(crate) fn gone<O, E, R>(
    op: &str,
    what: &str,
    result: Result<O, SdkError<E, R>>,
) -> Result<(), StepError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(aws_error(op, what, e)),
    }
}

impl Rds {
    /// One database, `None` when it does not exist.
    pub async fn db(&self, kind: Kind, id: &str) -> Result<Option<Db>, StepError> {
        match kind {
            Kind::Instance => {
                match self
                    .client
                    .describe_db_instances()
                    .db_instance_identifier(id)
                    .send()
                    .await
                {
                    Ok(out) => Ok(out.db_instances().first().map(instance)),
                    Err(e) if not_found(&e) => Ok(None),
                    Err(e) => Err(aws_error("DescribeDBInstances", id, e)),
                }
            }
            Kind::Cluster => {
                match self
                    .client
                    .describe_db_clusters()
                    .db_cluster_identifier(id)
                    .send()
                    .await
                {
                    Ok(out) => Ok(out.db_clusters().first().map(cluster)),
                    Err(e) if not_found(&e) => Ok(None),
                    Err(e) => Err(aws_error("DescribeDBClusters", id, e)),
                }
            }
        }
    }

    /// Every database of `kind`, every page.
    pub async fn dbs(&self, kind: Kind) -> Result<Vec<Db>, StepError> {
        let mut all = Vec::new();
        match kind {
            Kind::Instance => {
                let mut pages = self.client.describe_db_instances().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| aws_error("DescribeDBInstances", "(all)", e))?;
                    all.extend(page.db_instances().iter().map(instance));
                }
            }
            Kind::Cluster => {
                let mut pages = self.client.describe_db_clusters().into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| aws_error("DescribeDBClusters", "(all)", e))?;
                    all.extend(page.db_clusters().iter().map(cluster));
                }
            }
        }
        Ok(all)
    }

    /// One snapshot by id or ARN, `None` when it does not exist.
    pub async fn snapshot(&self, kind: Kind, id: &str) -> Result<Option<Snap>, StepError> {
        Ok(self.snapshots(kind, Some(id), None, None).await?.pop())
    }

    /// Snapshots of `kind`, every page, optionally one (`id`), those of one database (`db`)
    /// or of one type (`snapshot_type`).
    pub async fn snapshots(
        &self,
        kind: Kind,
        id: Option<&str>,
        db: Option<&str>,
        snapshot_type: Option<&str>,
    ) -> Result<Vec<Snap>, StepError> {
        let mut all = Vec::new();
        let what = id.or(db).unwrap_or("(all)");
        match kind {
            Kind::Instance => {
                let mut pages = self
                    .client
                    .describe_db_snapshots()
                    .set_db_snapshot_identifier(id.map(str::to_owned))
                    .set_db_instance_identifier(db.map(str::to_owned))
                    .set_snapshot_type(snapshot_type.map(str::to_owned))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = match page {
                        Ok(p) => p,
                        Err(e) if not_found(&e) => return Ok(Vec::new()),
                        Err(e) => return Err(aws_error("DescribeDBSnapshots", what, e)),
                    };
                    all.extend(page.db_snapshots().iter().map(|s| Snap {
                        id: s.db_snapshot_identifier().unwrap_or_default().to_owned(),
                        arn: s.db_snapshot_arn().unwrap_or_default().to_owned(),
                        status: s.status().unwrap_or_default().to_owned(),
                        created: secs(s.snapshot_create_time()),
                        tags: pairs(Some(s.tag_list())),
                        db: s.db_instance_identifier().unwrap_or_default().to_owned(),
                        kind: s.snapshot_type().unwrap_or_default().to_owned(),
                        encrypted: s.encrypted().unwrap_or(false),
                    }));
                }
            }
            Kind::Cluster => {
                let mut pages = self
                    .client
                    .describe_db_cluster_snapshots()
                    .set_db_cluster_snapshot_identifier(id.map(str::to_owned))
                    .set_db_cluster_identifier(db.map(str::to_owned))
                    .set_snapshot_type(snapshot_type.map(str::to_owned))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = match page {
                        Ok(p) => p,
                        Err(e) if not_found(&e) => return Ok(Vec::new()),
                        Err(e) => return Err(aws_error("DescribeDBClusterSnapshots", what, e)),
                    };
                    all.extend(page.db_cluster_snapshots().iter().map(|s| {
                        Snap {
                            id: s
                                .db_cluster_snapshot_identifier()
                                .unwrap_or_default()
                                .to_owned(),
                            arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_owned(),
                            status: s.status().unwrap_or_default().to_owned(),
                            created: secs(s.snapshot_create_time()),
                            tags: pairs(Some(s.tag_list())),
                            db: s.db_cluster_identifier().unwrap_or_default().to_owned(),
                            kind: s.snapshot_type().unwrap_or_default().to_owned(),
                            encrypted: s.storage_encrypted().unwrap_or(false),
                        }
                    }));
                }
            }
        }
        Ok(all)
    }

    /// Starts a snapshot `snap` of database `db`; an existing one of the same id is returned
    /// as is (the caller checks whose it is).
    pub async fn create_snapshot(
        &self,
        kind: Kind,
        snap: &str,
        db: &str,
        tags: &[(&str, &str)],
    ) -> Result<(), StepError> {
        match kind {
            Kind::Instance => made(
                "CreateDBSnapshot",
                snap,
                self.client
                    .create_db_snapshot()
                    .db_snapshot_identifier(snap)
                    .db_instance_identifier(db)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
            Kind::Cluster => made(
                "CreateDBClusterSnapshot",
                snap,
                self.client
                    .create_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(snap)
                    .db_cluster_identifier(db)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
        }
    }

    /// Copies snapshot `source` (id or ARN) to `target` under `kms_key`.
    pub async fn copy_snapshot(
        &self,
        kind: Kind,
        source: &str,
        target: &str,
        kms_key: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<(), StepError> {
        match kind {
            Kind::Instance => made(
                "CopyDBSnapshot",
                target,
                self.client
                    .copy_db_snapshot()
                    .source_db_snapshot_identifier(source)
                    .target_db_snapshot_identifier(target)
                    .set_kms_key_id(kms_key.map(str::to_owned))
                    .copy_tags(false)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
            Kind::Cluster => made(
                "CopyDBClusterSnapshot",
                target,
                self.client
                    .copy_db_cluster_snapshot()
                    .source_db_cluster_snapshot_identifier(source)
                    .target_db_cluster_snapshot_identifier(target)
                    .set_kms_key_id(kms_key.map(str::to_owned))
                    .copy_tags(false)
                    .set_tags(Some(rds_tags(tags)))
                    .send()
                    .await,
            ),
        }
    }

    /// Adds `add` to and removes `remove` from the snapshot's `restore` attribute.
    pub async fn share(
        &self,
        kind: Kind,
        snap: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), StepError> {
        let add = (!add.is_empty()).then(|| add.to_vec());
        let remove = (!remove.is_empty()).then(|| remove.to_vec());
        match kind {
            Kind::Instance => self
                .client
                .modify_db_snapshot_attribute()
                .db_snapshot_identifier(snap)
                .attribute_name("restore")
                .set_values_to_add(add)
                .set_values_to_remove(remove)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("ModifyDBSnapshotAttribute", snap, e)),
            Kind::Cluster => self
                .client
                .modify_db_cluster_snapshot_attribute()
                .db_cluster_snapshot_identifier(snap)
                .attribute_name("restore")
                .set_values_to_add(add)
                .set_values_to_remove(remove)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("ModifyDBClusterSnapshotAttribute", snap, e)),
        }
    }

    /// The accounts a snapshot is shared with.
    pub async fn shared_with(&self, kind: Kind, snap: &str) -> Result<Vec<String>, StepError> {
        let values = match kind {
            Kind::Instance => self
                .client
                .describe_db_snapshot_attributes()
                .db_snapshot_identifier(snap)
                .send()
                .await
                .map_err(|e| aws_error("DescribeDBSnapshotAttributes", snap, e))?
                .db_snapshot_attributes_result()
                .map(|r| {
                    r.db_snapshot_attributes()
                        .iter()
                        .filter(|a| a.attribute_name() == Some("restore"))
                        .flat_map(|a| a.attribute_values().to_vec())
                        .collect()
                })
                .unwrap_or_default(),
            Kind::Cluster => self
                .client
                .describe_db_cluster_snapshot_attributes()
                .db_cluster_snapshot_identifier(snap)
                .send()
                .await
                .map_err(|e| aws_error("DescribeDBClusterSnapshotAttributes", snap, e))?
                .db_cluster_snapshot_attributes_result()
                .map(|r| {
                    r.db_cluster_snapshot_attributes()
                        .iter()
                        .filter(|a| a.attribute_name() == Some("restore"))
                        .flat_map(|a| a.attribute_values().to_vec())
                        .collect()
                })
                .unwrap_or_default(),
        };
        Ok(values)
    }

    /// Deletes a snapshot; one already gone counts as deleted.
    pub async fn delete_snapshot(&self, kind: Kind, snap: &str) -> Result<(), StepError> {
        match kind {
            Kind::Instance => gone(
                "DeleteDBSnapshot",
                snap,
                self.client
                    .delete_db_snapshot()
                    .db_snapshot_identifier(snap)
                    .send()
                    .await,
            ),
            Kind::Cluster => gone(
                "DeleteDBClusterSnapshot",
                snap,
                self.client
                    .delete_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(snap)
                    .send()
                    .await,
            ),
        }
    }

    /// Deletes a database without a final snapshot; one already gone counts as deleted.
    pub async fn delete_db(&self, kind: Kind, id: &str) -> Result<(), StepError> {
        match kind {
            Kind::Instance => gone(
                "DeleteDBInstance",
                id,
                self.client
                    .delete_db_instance()
                    .db_instance_identifier(id)
                    .skip_final_snapshot(true)
                    .delete_automated_backups(true)
                    .send()
                    .await,
            ),
            Kind::Cluster => gone(
                "DeleteDBCluster",
                id,
                self.client
                    .delete_db_cluster()
                    .db_cluster_identifier(id)
                    .skip_final_snapshot(true)
                    .send()
                    .await,
            ),
        }
    }
}
