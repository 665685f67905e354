//! The template's security defaults that no parameter turns off.

use sluice_testbed::template::{load, resources_of};

#[test]
fn bucket_is_encrypted_versioned_private_and_tls_only() {
    let template = load();
    let buckets = resources_of(template, "AWS::S3::Bucket");
    assert!(!buckets.is_empty());
    for (id, b) in buckets {
        let p = &b["Properties"];
        assert!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"].is_array(),
            "{id}: not encrypted"
        );
        let pab = &p["PublicAccessBlockConfiguration"];
        for k in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(pab[k], true, "{id}: {k}");
        }
        assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled", "{id}");
        let policies = resources_of(template, "AWS::S3::BucketPolicy");
        let tls_only = policies.iter().any(|(_, pol)| {
            pol["Properties"]["Bucket"] == serde_json::json!({"Ref": id})
                && pol["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| {
                        s["Effect"] == "Deny"
                            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                    })
        });
        assert!(tls_only, "{id}: no TLS-only bucket policy");
    }
}
