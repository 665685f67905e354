//! The S3 adapter: objects under one bucket, through the SDK client.
//!
//! Object bodies (`PutObject`, `UploadPart`) are sent with `UNSIGNED-PAYLOAD`: SigV4 still
//! signs the request, but the body is not SHA-256 hashed a second time on the way out (the
//! most expensive step of the copy otherwise). Integrity is kept by TLS to S3 and by the
//! CRC32 flexible checksum the SDK computes for every body and S3 verifies. A multipart copy
//! declares CRC32 when it is created, as S3 documents for uploads whose parts carry CRC32 and
//! whose completion lists them: the object keeps S3's composite CRC32 of its parts.
//!
//! Each body upload runs as a task of its own: checksumming and sending a part take a core
//! of their own while the copy that produced it reads on, and the copies of several files
//! do not take turns on the one task that drives a sync.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_smithy_runtime_api::client::result::CreateUnhandledError;
use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::StoreError;
use crate::ports::{Conditional, KeyPage, ObjectStore, Part, Precondition, Tagged};

/// One bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// The store for `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

fn err<E>(operation: &'static str, key: &str, error: E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError {
        operation,
        key: key.to_owned(),
        source: Box::new(error),
    }
}

/// Runs an SDK request on a task of its own and waits for it.
async fn spawned<T, E, R>(
    operation: &'static str,
    key: &str,
    request: impl Future<Output = Result<T, SdkError<E, R>>> + Send + 'static,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    E: std::error::Error + CreateUnhandledError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match tokio::spawn(request).await {
        Ok(result) => result.map_err(|e| err(operation, key, e.into_service_error())),
        Err(joined) => Err(err(operation, key, joined)),
    }
}

impl ObjectStore for S3Store {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Tagged>, StoreError>> {
        Box::pin(async move {
            let out = match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    let e = e.into_service_error();
                    // Without s3:ListBucket on the key's prefix (the function has it only on
                    // its log prefix), S3 answers a missing key with 403 AccessDenied instead
                    // of NoSuchKey.
                    let missing = e.is_no_such_key() || e.code() == Some("AccessDenied");
                    return if missing {
                        Ok(None)
                    } else {
                        Err(err("GetObject", key, e))
                    };
                }
            };
            let etag = out.e_tag.unwrap_or_default();
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| err("GetObject", key, e))?;
            Ok(Some(Tagged {
                body: body.into_bytes(),
                etag,
            }))
        })
    }

    /// `ListObjectsV2` with S3's default page of 1,000 keys (needs `s3:ListBucket`).
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<KeyPage, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.map(str::to_owned))
                .send()
                .await
                .map_err(|e| err("ListObjectsV2", prefix, e.into_service_error()))?;
            let keys = out
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect();
            let next = if out.is_truncated() == Some(true) {
                out.next_continuation_token().map(str::to_owned)
            } else {
                None
            };
            Ok(KeyPage { keys, next })
        })
    }

    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .customize()
            .disable_payload_signing()
            .send();
        Box::pin(async move {
            spawned("PutObject", key, request).await?;
            Ok(())
        })
    }

    /// A small object (the state): sent signed and whole, on this task.
    fn put_if<'a>(
        &'a self,
        key: &'a str,
        body: Bytes,
        precondition: Precondition,
    ) -> BoxFuture<'a, Result<Conditional, StoreError>> {
        Box::pin(async move {
            let request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(body));
            let request = match precondition {
                Precondition::Absent => request.if_none_match("*"),
                Precondition::Matches(etag) => request.if_match(etag),
            };
            match request.send().await {
                Ok(out) => Ok(Conditional::Written(out.e_tag.unwrap_or_default())),
                Err(e) => {
                    let e = e.into_service_error();
                    // 412: the precondition failed; 409: a conditional write to the key raced
                    // this one; 404 (If-Match): the object was deleted meanwhile.
                    let lost = matches!(
                        e.code(),
                        Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")
                    );
                    if lost {
                        Ok(Conditional::Lost)
                    } else {
                        Err(err("PutObject", key, e))
                    }
                }
            }
        })
    }

    fn create_multipart<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                // The parts carry CRC32 and the completion lists each part's: declared here,
                // as the API reference requires for `CompletedPart.ChecksumCRC32`.
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .send()
                .await
                .map_err(|e| err("CreateMultipartUpload", key, e.into_service_error()))?;
            out.upload_id.ok_or_else(|| {
                err(
                    "CreateMultipartUpload",
                    key,
                    std::io::Error::other("no upload id"),
                )
            })
        })
    }

    fn upload_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        number: i32,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Part, StoreError>> {
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body))
            .customize()
            .disable_payload_signing()
            .send();
        Box::pin(async move {
            let out = spawned("UploadPart", key, request).await?;
            Ok(Part {
                number,
                etag: out.e_tag.unwrap_or_default(),
                crc32: out.checksum_crc32,
            })
        })
    }

    fn complete_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        parts: Vec<Part>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let parts = parts
                .into_iter()
                .map(|p| {
                    CompletedPart::builder()
                        .part_number(p.number)
                        .e_tag(p.etag)
                        .set_checksum_crc32(p.crc32)
                        .build()
                })
                .collect();
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| err("CompleteMultipartUpload", key, e.into_service_error()))?;
            Ok(())
        })
    }

    fn abort_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
                .map_err(|e| err("AbortMultipartUpload", key, e.into_service_error()))?;
            Ok(())
        })
    }
}
