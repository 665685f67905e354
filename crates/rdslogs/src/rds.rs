//! The RDS adapter: instances from `DescribeDBInstances` (tags from its `TagList`), log files
//! from `DescribeDBLogFiles` (every page), bytes from the REST download in [`crate::download`].
//!
//! API: <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBLogFiles.html>

use aws_config::SdkConfig;
use aws_sdk_rds::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use futures_util::future::BoxFuture;

use crate::download::RdsDownloader;
use crate::error::DownloadError;
use crate::ports::{BoxError, ListFilter, LogSource, LogStream, Selection};
use crate::state::LogFile;

/// The RDS endpoint to download from: `override_url` (e.g. `AWS_ENDPOINT_URL_RDS`) when set,
/// else what the SDK's RDS endpoint resolver gives for the region (FIPS and dual-stack
/// settings honoured), e.g. `https://rds.eu-west-1.amazonaws.com`.
pub async fn resolve_endpoint(
    sdk: &SdkConfig,
    override_url: Option<&str>,
) -> Result<String, BoxError> {
    let params = Params::builder()
        .set_region(sdk.region().map(ToString::to_string))
        .set_use_fips(sdk.use_fips())
        .set_use_dual_stack(sdk.use_dual_stack())
        .set_endpoint(override_url.map(str::to_owned))
        .build()?;
    let endpoint = DefaultResolver::new().resolve_endpoint(&params).await?;
    Ok(endpoint.url().trim_end_matches('/').to_owned())
}

/// Reads instances, log files and log bytes from RDS.
#[derive(Debug, Clone)]
pub struct RdsSource {
    client: aws_sdk_rds::Client,
    downloader: RdsDownloader,
    page_size: Option<i32>,
}

impl RdsSource {
    /// An adapter over `client` (listing) and `downloader` (bytes).
    pub fn new(client: aws_sdk_rds::Client, downloader: RdsDownloader) -> Self {
        Self {
            client,
            downloader,
            page_size: None,
        }
    }

    /// Asks for at most `n` records per `DescribeDBLogFiles` page (`MaxRecords`); tests use it
    /// to force pagination.
    pub fn with_page_size(mut self, n: i32) -> Self {
        self.page_size = Some(n);
        self
    }

    async fn discover(&self, selection: &Selection) -> Result<Vec<String>, BoxError> {
        let mut found = Vec::new();
        let mut pages = self.client.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Box::new(e.into_service_error()))?;
            for db in page.db_instances() {
                let Some(id) = db.db_instance_identifier() else {
                    continue;
                };
                let engine_ok = selection.engines.is_empty()
                    || db
                        .engine()
                        .is_some_and(|e| selection.engines.iter().any(|want| want == e));
                let tag_ok = selection.tag.as_ref().is_none_or(|(k, v)| {
                    db.tag_list()
                        .iter()
                        .any(|t| t.key() == Some(k.as_str()) && t.value() == Some(v.as_str()))
                });
                if engine_ok && tag_ok {
                    found.push(id.to_owned());
                }
            }
        }
        Ok(found)
    }
}

impl LogSource for RdsSource {
    fn instances<'a>(
        &'a self,
        selection: &'a Selection,
    ) -> BoxFuture<'a, Result<Vec<String>, BoxError>> {
        Box::pin(async move {
            let mut out: Vec<String> = Vec::new();
            let discovered = if selection.needs_discovery() {
                self.discover(selection).await?
            } else {
                Vec::new()
            };
            for id in selection.explicit.iter().chain(&discovered) {
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
            Ok(out)
        })
    }

    fn log_files<'a>(
        &'a self,
        instance: &'a str,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, Result<Vec<LogFile>, BoxError>> {
        Box::pin(async move {
            let mut files = Vec::new();
            let mut pages = self
                .client
                .describe_db_log_files()
                .db_instance_identifier(instance)
                .set_filename_contains(filter.filename_contains.clone())
                .set_file_last_written(filter.last_written_since)
                .set_max_records(self.page_size)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| Box::new(e.into_service_error()))?;
                for d in page.describe_db_log_files() {
                    if let Some(name) = d.log_file_name() {
                        files.push(LogFile {
                            name: name.to_owned(),
                            size: d.size().unwrap_or(0),
                            last_written: d.last_written().unwrap_or(0),
                        });
                    }
                }
            }
            Ok(files)
        })
    }

    fn open<'a>(
        &'a self,
        instance: &'a str,
        file: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn LogStream>, DownloadError>> {
        Box::pin(async move {
            let stream = self.downloader.open(instance, file).await?;
            Ok(Box::new(stream) as Box<dyn LogStream>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::{BehaviorVersion, Region};

    fn sdk(region: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .build()
    }

    #[tokio::test]
    async fn given_region_without_override_then_regional_endpoint() {
        let url = resolve_endpoint(&sdk("eu-west-1"), None)
            .await
            .expect("endpoint");
        assert_eq!(url, "https://rds.eu-west-1.amazonaws.com");
        let china = resolve_endpoint(&sdk("cn-north-1"), None)
            .await
            .expect("endpoint");
        assert_eq!(china, "https://rds.cn-north-1.amazonaws.com.cn");
    }

    #[tokio::test]
    async fn given_override_then_it_wins() {
        let url = resolve_endpoint(&sdk("us-east-1"), Some("http://127.0.0.1:9/"))
            .await
            .expect("endpoint");
        assert_eq!(url, "http://127.0.0.1:9");
    }
}
