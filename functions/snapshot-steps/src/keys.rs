//! The run's KMS keys, checked by `validate` before anything is created:
//!
//! - the source's key is one the stack may use: AWS managed, or the customer managed key
//!   declared as `SOURCE_KMS_KEY_ARN` (`SnapshotSourceKmsKeyArn`, which is what the template
//!   grants RDS the use of);
//! - the re-encrypting copy's key (`KMS_KEY_ARN`) is an enabled customer managed key, whatever
//!   form its id takes (a snapshot under `aws/rds` can never be shared), and Aurora is not asked
//!   to copy an unencrypted cluster snapshot under it (AWS refuses that copy);
//! - a kept snapshot that is encrypted and copied to a DR region has a key there.
//!
//! `DescribeKey` says whether a key is AWS or customer managed; only its metadata is read.

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::KeyManagerType;
use sluice_runtime::StepError;

use crate::aws::{Db, aws_error, code};
use crate::config::Config;
use crate::state::Kind;

/// What `DescribeKey` says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described {
    /// An AWS managed key, such as `aws/rds`.
    AwsManaged,
    /// A customer managed key, in the key state given (`Enabled`, `Disabled`, …).
    Customer {
        /// Its key state.
        state: String,
    },
    /// The role may not describe it, or it does not exist (AWS's code and message).
    Unusable(String),
}

/// Answers from KMS that mean "not a key this stack can use", not a passing failure.
const UNUSABLE: &[&str] = &[
    "AccessDeniedException",
    "NotFoundException",
    "InvalidArnException",
];

/// Describes `key` (an ARN, id or alias).
pub async fn describe(kms: &aws_sdk_kms::Client, key: &str) -> Result<Described, StepError> {
    match kms.describe_key().key_id(key).send().await {
        Ok(out) => {
            let meta = out.key_metadata();
            Ok(match meta.and_then(|m| m.key_manager()) {
                Some(KeyManagerType::Aws) => Described::AwsManaged,
                _ => Described::Customer {
                    state: meta
                        .and_then(|m| m.key_state())
                        .map_or("Unknown", |s| s.as_str())
                        .to_owned(),
                },
            })
        }
        Err(e) if code(&e).is_some_and(|c| UNUSABLE.contains(&c)) => {
            let why = e
                .as_service_error()
                .map(|s| {
                    format!(
                        "{}: {}",
                        s.code().unwrap_or_default(),
                        s.message().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            Ok(Described::Unusable(why))
        }
        Err(e) => Err(aws_error("DescribeKey", key, e)),
    }
}

pub use crate::config::mapping::same_key;

/// Refuses a source key the stack cannot use; `described` is asked only when no key is declared.
pub async fn check_source_key(
    c: &Config,
    kind: Kind,
    db: &Db,
    kms: &aws_sdk_kms::Client,
) -> Result<(), StepError> {
    if !db.encrypted {
        return Ok(());
    }
    let what = format!("the source {} {}", kind.as_str(), db.id);
    let Some(key) = db.kms_key.as_deref() else {
        return Err(StepError::config(format!(
            "{what} is encrypted but RDS names no KMS key for it"
        )));
    };
    if let Some(declared) = &c.source_kms_key {
        if same_key(declared, key) {
            return Ok(());
        }
        return Err(StepError::config(format!(
            "{what} is encrypted with KMS key {key}, but SnapshotSourceKmsKeyArn \
             (SOURCE_KMS_KEY_ARN) is {declared}: set it to the source's key"
        )));
    }
    match describe(kms, key).await? {
        Described::AwsManaged => Ok(()),
        Described::Customer { .. } => Err(StepError::config(format!(
            "{what} is encrypted with the customer managed KMS key {key}: set \
             SnapshotSourceKmsKeyArn to it, so that the stack lets RDS use it for the restore \
             and the copies (and add the key policy statements `make key-policies` prints)"
        ))),
        Described::Unusable(why) => Err(StepError::config(format!(
            "{what} is encrypted with KMS key {key}, which this stack's role cannot describe \
             ({why}): if it is a customer managed key, set SnapshotSourceKmsKeyArn to it and let \
             the role use it in its key policy (`make key-policies`)"
        ))),
    }
}

/// Refuses a re-encryption key (`kms_key`, the run's resolved one) that cannot do its job,
/// and a DR copy without a key there.
pub async fn check_copy_keys(
    c: &Config,
    kms_key: Option<&str>,
    kind: Kind,
    db: &Db,
    kms: &aws_sdk_kms::Client,
) -> Result<(), StepError> {
    if let Some(key) = kms_key {
        if kind == Kind::Cluster && !db.encrypted {
            return Err(StepError::config(format!(
                "the source cluster {} is not encrypted, and Aurora cannot copy an unencrypted \
                 cluster snapshot under a KMS key (CopyDBClusterSnapshot refuses KmsKeyId for \
                 it): leave SnapshotKmsKeyArn (KMS_KEY_ARN) empty, or encrypt the source",
                db.id
            )));
        }
        match describe(kms, key).await? {
            Described::AwsManaged => {
                return Err(StepError::config(format!(
                    "SnapshotKmsKeyArn (KMS_KEY_ARN) {key} is an AWS managed key: a snapshot \
                     encrypted with it can never be shared; give a customer managed key"
                )));
            }
            Described::Customer { state } if state != "Enabled" => {
                return Err(StepError::config(format!(
                    "SnapshotKmsKeyArn (KMS_KEY_ARN) {key} is {state}: the copy needs an \
                     enabled key"
                )));
            }
            Described::Customer { .. } => {}
            Described::Unusable(why) => {
                return Err(StepError::config(format!(
                    "SnapshotKmsKeyArn (KMS_KEY_ARN) {key} cannot be described by this \
                     stack's role ({why})"
                )));
            }
        }
    }
    let kept_encrypted = db.encrypted || kms_key.is_some();
    if c.dr_region.is_some() && kept_encrypted && c.dr_kms_key.is_none() {
        return Err(StepError::config(
            "DR_REGION is set and the kept snapshot is encrypted: DR_KMS_KEY_ARN (a key in that \
             region) is required",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_arn_and_bare_id_of_one_key_then_same_key() {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(same_key(arn, "1234ABCD-12ab-34cd-56ef-1234567890ab"));
        assert!(same_key(arn, arn));
        assert!(!same_key(
            arn,
            "arn:aws:kms:eu-west-1:111122223333:key/other"
        ));
        assert!(!same_key("alias/aws/rds", arn));
    }
}
