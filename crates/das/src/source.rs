//! Which database a batch comes from: the resource id (from the DAS Kinesis stream name
//! `aws-rds-das-<resource id>`, or configured) and the KMS encryption context it implies.

use std::collections::BTreeMap;

/// Encryption-context key for an Aurora cluster (`cluster-…` resource ids).
pub const CLUSTER_CONTEXT_KEY: &str = "aws:rds:dbc-id";
/// Encryption-context key for an RDS instance (`db-…` resource ids).
pub const INSTANCE_CONTEXT_KEY: &str = "aws:rds:db-id";
/// The prefix RDS gives every activity stream's Kinesis stream name.
pub const STREAM_NAME_PREFIX: &str = "aws-rds-das-";

/// The resource id in a DAS Kinesis stream ARN
/// (`arn:aws:kinesis:<region>:<account>:stream/aws-rds-das-<resource id>`), if it is one.
pub fn resource_id_from_stream_arn(arn: &str) -> Option<&str> {
    let (_, name) = arn.rsplit_once(":stream/")?;
    name.strip_prefix(STREAM_NAME_PREFIX)
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// The encryption-context key for `resource_id`: `aws:rds:db-id` for `db-…`, otherwise the
/// cluster key `aws:rds:dbc-id` (Aurora, the common case).
pub fn context_key_for(resource_id: &str) -> &'static str {
    if resource_id.starts_with("db-") {
        INSTANCE_CONTEXT_KEY
    } else {
        CLUSTER_CONTEXT_KEY
    }
}

/// The KMS encryption context `{context_key: resource_id}`.
pub fn encryption_context(context_key: &str, resource_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(context_key.to_owned(), resource_id.to_owned())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_das_stream_arn_then_resource_id() {
        let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-cluster-ABCD1234";
        assert_eq!(resource_id_from_stream_arn(arn), Some("cluster-ABCD1234"));
        assert_eq!(
            resource_id_from_stream_arn("arn:aws:kinesis:us-east-1:1:stream/other"),
            None
        );
        assert_eq!(resource_id_from_stream_arn("not an arn"), None);
    }

    #[test]
    fn given_resource_kinds_then_context_keys() {
        assert_eq!(context_key_for("cluster-ABC"), CLUSTER_CONTEXT_KEY);
        assert_eq!(context_key_for("db-ABC"), INSTANCE_CONTEXT_KEY);
        assert_eq!(
            encryption_context("aws:rds:dbc-id", "cluster-1"),
            BTreeMap::from([("aws:rds:dbc-id".to_owned(), "cluster-1".to_owned())])
        );
    }
}
