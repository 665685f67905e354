//! Who a sanitized snapshot is shared with, and what sharing requires.
//!
//! RDS shares a manual snapshot by adding account ids to its `restore` attribute: at most 20
//! accounts, each a 12-digit id. An encrypted snapshot can be shared only when its KMS key is
//! a customer-managed key the other accounts may use; one encrypted with the AWS-managed
//! `aws/rds` key cannot be shared at all, so it must first be copied under a customer-managed key.

/// RDS's limit on accounts in a snapshot's `restore` attribute.
pub const MAX_SHARED_ACCOUNTS: usize = 20;

/// Why a sharing configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// Not a 12-digit account id.
    #[error("share account {0:?} is not a 12-digit AWS account id")]
    NotAnAccount(String),
    /// More accounts than RDS allows.
    #[error(
        "{count} share accounts given; RDS shares a snapshot with at most {MAX_SHARED_ACCOUNTS}"
    )]
    TooMany {
        /// Distinct accounts given.
        count: usize,
    },
    /// Encrypted, shared, and no customer-managed key to copy it under.
    #[error(
        "the source is encrypted and sharing is on, but no customer-managed KMS key is configured \
         (snapshots under the AWS-managed aws/rds key cannot be shared): set the re-encryption key"
    )]
    NeedsCustomerKey,
    /// The configured re-encryption key is the AWS-managed one.
    #[error("re-encryption key {0:?} is the AWS-managed aws/rds key, which cannot be shared")]
    AwsManagedKey(String),
}

/// The distinct accounts of `accounts` (a list as configured), in order; refused when one is
/// not an account id or there are more than 20.
pub fn accounts<'a>(
    accounts: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, ShareError> {
    let mut out: Vec<String> = Vec::new();
    for a in accounts {
        let a = a.trim();
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ShareError::NotAnAccount(a.to_owned()));
        }
        if !out.iter().any(|o| o == a) {
            out.push(a.to_owned());
        }
    }
    if out.len() > MAX_SHARED_ACCOUNTS {
        return Err(ShareError::TooMany { count: out.len() });
    }
    Ok(out)
}

/// Whether `key` (an id, ARN or alias) names the AWS-managed RDS key.
pub fn is_aws_managed_rds_key(key: &str) -> bool {
    key == "alias/aws/rds" || key.ends_with(":alias/aws/rds")
}

/// Checks that an encrypted source can be shared: with accounts to share with, a re-encryption
/// key must be given and must not be `aws/rds`. (The key of the source snapshot itself is only
/// known at run time; the pipeline always copies under `reencrypt_key` before sharing.)
pub fn check_encryption(
    encrypted: bool,
    shared_with: &[String],
    reencrypt_key: Option<&str>,
) -> Result<(), ShareError> {
    if let Some(key) = reencrypt_key
        && is_aws_managed_rds_key(key)
    {
        return Err(ShareError::AwsManagedKey(key.to_owned()));
    }
    if encrypted && !shared_with.is_empty() && reencrypt_key.is_none() {
        return Err(ShareError::NeedsCustomerKey);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_account_list_when_checked_then_deduplicated_and_validated() {
        assert_eq!(
            accounts(["111122223333", " 444455556666", "111122223333"]).unwrap(),
            ["111122223333", "444455556666"]
        );
        assert_eq!(
            accounts(["11112222333x"]),
            Err(ShareError::NotAnAccount("11112222333x".into()))
        );
        assert!(accounts(["1234"]).is_err());
        let many: Vec<String> = (0..21)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i))
            .collect();
        assert_eq!(
            accounts(many.iter().map(String::as_str)),
            Err(ShareError::TooMany { count: 21 })
        );
        assert_eq!(
            accounts(many.iter().take(20).map(String::as_str))
                .unwrap()
                .len(),
            20
        );
    }

    #[test]
    fn given_encrypted_shared_source_then_customer_key_required() {
        let to = vec!["111122223333".to_owned()];
        assert_eq!(
            check_encryption(true, &to, None),
            Err(ShareError::NeedsCustomerKey)
        );
        assert!(check_encryption(true, &to, Some("arn:aws:kms:eu-west-1:1:key/abc")).is_ok());
        assert!(check_encryption(true, &[], None).is_ok());
        assert!(check_encryption(false, &to, None).is_ok());
        assert!(matches!(
            check_encryption(true, &to, Some("arn:aws:kms:eu-west-1:1:alias/aws/rds")),
            Err(ShareError::AwsManagedKey(_))
        ));
        let msg = ShareError::NeedsCustomerKey.to_string();
        assert!(msg.contains("customer-managed"), "{msg}");
    }
}
