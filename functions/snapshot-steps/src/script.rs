//! The pinned sanitizing script. `validate` reads it from S3 and refuses it unless its SHA-256
//! is the configured one (`SCRIPT_SHA256`), before anything is created; the task then checks
//! the bytes it runs against the same digest, which `runSanitizer` passes in its overrides.
//! Errors name the object and both digests, never the script's content.

use aws_sdk_s3::operation::get_object::GetObjectError;
use sluice_runtime::StepError;
use sluice_runtime::pin::Sha256Pin;

use crate::aws::aws_error;

/// Largest script read (the sanitizer task's limit too).
pub const MAX_SCRIPT_BYTES: usize = 16 * 1024 * 1024;

/// Splits `s3://bucket/key` into bucket and key.
pub fn split_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let (bucket, key) = uri.strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// Refuses `bytes` (the script at `uri`) unless they have the digest `pin`: a `ConfigError`
/// naming the object and both digests.
pub fn check(uri: &str, pin: &Sha256Pin, bytes: &[u8]) -> Result<(), StepError> {
    pin.check(bytes).map_err(|mismatch| {
        tracing::error!(
            script = uri,
            expected = %mismatch.expected,
            actual = %mismatch.actual,
            "the sanitizing script is not the pinned one"
        );
        StepError::config(format!(
            "sanitizing script {uri} is not the pinned one: {mismatch} (SCRIPT_SHA256, template \
             parameter SnapshotScriptSha256). Nothing was created; upload the reviewed script, \
             or deploy with the digest of the new one"
        ))
    })
}

/// Reads the script at `uri` (at most [`MAX_SCRIPT_BYTES`]) and [`check`]s it against `pin`.
pub async fn check_pinned(
    s3: &aws_sdk_s3::Client,
    uri: &str,
    pin: &Sha256Pin,
) -> Result<(), StepError> {
    let (bucket, key) = split_s3_uri(uri).ok_or_else(|| {
        StepError::config(format!("SCRIPT_URI {uri:?}: expected s3://bucket/key"))
    })?;
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) {
                StepError::config(format!(
                    "sanitizing script {uri} not found: upload the script whose SHA-256 is \
                     SCRIPT_SHA256 ({pin})"
                ))
            } else {
                aws_error("GetObject", uri, e)
            }
        })?;
    let too_big = || {
        StepError::config(format!(
            "sanitizing script {uri} is larger than {MAX_SCRIPT_BYTES} bytes"
        ))
    };
    if usize::try_from(out.content_length().unwrap_or(0)).unwrap_or(usize::MAX) > MAX_SCRIPT_BYTES {
        return Err(too_big());
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| {
            StepError::new(
                sluice_runtime::ErrorKind::Aws,
                format!("GetObject {uri} failed while reading the body: {e}"),
            )
        })?
        .into_bytes();
    if bytes.len() > MAX_SCRIPT_BYTES {
        return Err(too_big());
    }
    check(uri, pin, &bytes)?;
    tracing::info!(script = uri, sha256 = %pin, "the sanitizing script is the pinned one");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &[u8] = b"UPDATE customers SET email = 'x';\n-- @verify\nSELECT 1 WHERE false;\n";

    #[test]
    fn given_s3_uris_then_bucket_and_key_are_split_and_bad_ones_refused() {
        assert_eq!(
            split_s3_uri("s3://data/sanitize/sanitize.sql"),
            Some(("data", "sanitize/sanitize.sql"))
        );
        for bad in ["s3://data", "s3:///k", "s3://data/", "https://data/k", ""] {
            assert_eq!(split_s3_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn given_the_pinned_script_then_check_passes() {
        assert_eq!(check("s3://b/k", &Sha256Pin::of(SCRIPT), SCRIPT), Ok(()));
    }

    #[test]
    fn given_a_changed_script_then_config_error_names_object_and_both_digests_not_the_content() {
        let pin = Sha256Pin::of(SCRIPT);
        let changed = b"-- @verify\n";
        let err = check("s3://b/sanitize.sql", &pin, changed).expect_err("changed");
        assert_eq!(err.kind, sluice_runtime::ErrorKind::Config);
        let m = &err.message;
        assert!(m.contains("s3://b/sanitize.sql"), "{m}");
        assert!(m.contains(&pin.to_string()), "{m}");
        assert!(m.contains(&Sha256Pin::of(changed).to_string()), "{m}");
        assert!(!m.contains("@verify") && !m.contains("UPDATE"), "{m}");
    }
}
