//! KMS behind a small trait: decrypting a record's `key` into the wrapping key, and telling a
//! refusal (this record cannot be processed) from an outage (retry the whole invocation).
//!
//! [`KmsKeyDecryptor`] is the real adapter over `aws-sdk-kms`; tests and the benchmark use fakes.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;

/// A boxed, sendable future (keeps [`KeyDecryptor`] usable as `&dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why KMS did not return a data key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// KMS answered and refused this ciphertext (wrong context, not ours, access denied, key
    /// disabled): only the record carrying it fails.
    #[error("KMS refused the data key ({code}): {message}")]
    Refused {
        /// The KMS error code, e.g. `InvalidCiphertextException`.
        code: String,
        /// KMS's message (never key material).
        message: String,
    },
    /// KMS could not be reached or asked us to slow down (throttling, 5xx, network): the whole
    /// invocation fails so Firehose retries it.
    #[error("KMS unavailable ({code}): {message}")]
    Unavailable {
        /// The KMS error code, or the SDK failure class.
        code: String,
        /// What happened.
        message: String,
    },
}

/// Decrypts a DAS record's `key` under an encryption context.
pub trait KeyDecryptor: Send + Sync {
    /// The plaintext wrapping key for `ciphertext`, decrypted under `context`.
    fn decrypt_data_key<'a>(
        &'a self,
        ciphertext: &'a [u8],
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<u8>, KmsError>>;
}

/// KMS error codes that mean "retry later" rather than "this ciphertext will never decrypt".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "KMSInternalException",
    "KMSInternal",
    "DependencyTimeoutException",
    "KeyUnavailableException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
];

/// Classifies a KMS service error by its code: retryable codes (and a missing code) are
/// [`KmsError::Unavailable`], everything else [`KmsError::Refused`].
pub fn classify_code(code: Option<&str>, message: Option<&str>) -> KmsError {
    let message = message.unwrap_or_default().to_owned();
    match code {
        Some(c) if !RETRYABLE_CODES.contains(&c) => KmsError::Refused {
            code: c.to_owned(),
            message,
        },
        c => KmsError::Unavailable {
            code: c.unwrap_or("Unknown").to_owned(),
            message,
        },
    }
}

/// Maps an SDK failure of `Decrypt`: service errors by code, transport failures as unavailable.
pub fn classify_sdk_error<R: std::fmt::Debug + Send + Sync + 'static>(
    err: SdkError<DecryptError, R>,
) -> KmsError {
    let class = match &err {
        SdkError::ServiceError(_) => None,
        SdkError::TimeoutError(_) => Some("Timeout"),
        SdkError::DispatchFailure(_) => Some("DispatchFailure"),
        SdkError::ResponseError(_) => Some("ResponseError"),
        SdkError::ConstructionFailure(_) => Some("ConstructionFailure"),
        _ => Some("SdkError"),
    };
    if let Some(class) = class {
        return KmsError::Unavailable {
            code: class.to_owned(),
            message: format!("{}", aws_sdk_kms::error::DisplayErrorContext(&err)),
        };
    }
    let service = err.into_service_error();
    classify_code(service.code(), service.message())
}

/// The real adapter: `kms:Decrypt` with the record's ciphertext and encryption context.
#[derive(Debug, Clone)]
pub struct KmsKeyDecryptor {
    client: aws_sdk_kms::Client,
}

impl KmsKeyDecryptor {
    /// Wraps a KMS client built once at cold start.
    pub fn new(client: aws_sdk_kms::Client) -> Self {
        Self { client }
    }
}

impl KeyDecryptor for KmsKeyDecryptor {
    fn decrypt_data_key<'a>(
        &'a self,
        ciphertext: &'a [u8],
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<u8>, KmsError>> {
        Box::pin(async move {
            let out = self
                .client
                .decrypt()
                .ciphertext_blob(Blob::new(ciphertext))
                .set_encryption_context(Some(context.clone().into_iter().collect()))
                .send()
                .await
                .map_err(classify_sdk_error)?;
            out.plaintext
                .map(|b| b.into_inner())
                .ok_or_else(|| KmsError::Unavailable {
                    code: "EmptyResponse".into(),
                    message: "Decrypt returned no plaintext".into(),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_invalid_ciphertext_then_refused() {
        let e = classify_code(Some("InvalidCiphertextException"), Some("bad context"));
        assert!(
            matches!(e, KmsError::Refused { ref code, .. } if code == "InvalidCiphertextException")
        );
        assert!(matches!(
            classify_code(Some("AccessDeniedException"), None),
            KmsError::Refused { .. }
        ));
    }

    #[test]
    fn given_throttling_or_no_code_then_unavailable() {
        for code in [
            Some("ThrottlingException"),
            Some("KMSInternalException"),
            None,
        ] {
            assert!(matches!(
                classify_code(code, None),
                KmsError::Unavailable { .. }
            ));
        }
    }
}
