//! The real [`Reingest`] adapter: `PutRecordBatch` on a delivery stream, `PutRecords` on a Kinesis
//! stream. Per-record failures come back as error codes; call failures keep the SDK error.

use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::primitives::Blob;

use crate::reingest::{BoxFuture, Piece, Reingest, ReingestError, Target};

/// Re-ingests through the AWS SDK clients built once at cold start.
#[derive(Debug, Clone)]
pub struct AwsReingest {
    firehose: aws_sdk_firehose::Client,
    kinesis: aws_sdk_kinesis::Client,
}

impl AwsReingest {
    /// Builds both clients from the shared SDK config.
    pub fn new(config: &sluice_runtime::aws::SdkConfig) -> Self {
        Self {
            firehose: aws_sdk_firehose::Client::new(config),
            kinesis: aws_sdk_kinesis::Client::new(config),
        }
    }

    async fn put_firehose(
        &self,
        name: &str,
        pieces: &[Piece],
    ) -> Result<Vec<Option<String>>, ReingestError> {
        let fail =
            |code: Option<&str>, source| ReingestError::new("PutRecordBatch", name, code, source);
        let records = pieces
            .iter()
            .map(|p| {
                aws_sdk_firehose::types::Record::builder()
                    .data(Blob::new(p.data.clone()))
                    .build()
                    .map_err(|e| fail(Some("BuildRecord"), e.into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .firehose
            .put_record_batch()
            .delivery_stream_name(name)
            .set_records(Some(records))
            .send()
            .await
            .map_err(|e| {
                let e = e.into_service_error();
                let code = e.code().map(str::to_owned);
                fail(code.as_deref(), e.into())
            })?;
        Ok(out
            .request_responses()
            .iter()
            .map(|r| r.error_code().map(str::to_owned))
            .collect())
    }

    async fn put_kinesis(
        &self,
        name: &str,
        pieces: &[Piece],
    ) -> Result<Vec<Option<String>>, ReingestError> {
        let fail =
            |code: Option<&str>, source| ReingestError::new("PutRecords", name, code, source);
        let records = pieces
            .iter()
            .map(|p| {
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .data(aws_sdk_kinesis::primitives::Blob::new(p.data.clone()))
                    .partition_key(&p.partition_key)
                    .build()
                    .map_err(|e| fail(Some("BuildRecord"), e.into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .kinesis
            .put_records()
            .stream_name(name)
            .set_records(Some(records))
            .send()
            .await
            .map_err(|e| {
                let e = e.into_service_error();
                let code =
                    aws_sdk_kinesis::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
                fail(code.as_deref(), e.into())
            })?;
        Ok(out
            .records()
            .iter()
            .map(|r| r.error_code().map(str::to_owned))
            .collect())
    }
}

impl Reingest for AwsReingest {
    fn put_batch<'a>(
        &'a self,
        target: &'a Target,
        pieces: &'a [Piece],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, ReingestError>> {
        Box::pin(async move {
            match target {
                Target::DeliveryStream(name) => self.put_firehose(name, pieces).await,
                Target::KinesisStream(name) => self.put_kinesis(name, pieces).await,
            }
        })
    }
}
