//! The one AWS SDK configuration load every function makes at cold start.
//!
//! Endpoints come only from the standard variables the SDK already honours:
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_RDS`). That is
//! the only switch between an AWS account and the local test bed; product code has no other.

use crate::config::Env;

pub use aws_config::SdkConfig;
use aws_smithy_http_client::tls;
pub use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Loads region, credentials, retry settings and endpoint overrides from the environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The one HTTPS client of every AWS SDK client: the SDK's own (hyper 1 + rustls), with the
/// ring provider. The SDK crates are built without their default client, so every SDK
/// configuration, in tests too, takes this one.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Whether S3 must use path-style addressing: true when a custom S3 endpoint is configured
/// (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`), since local stand-ins serve no
/// virtual-hosted bucket names.
pub fn s3_path_style(env: &Env) -> bool {
    env.optional("AWS_ENDPOINT_URL_S3").is_some() || env.optional("AWS_ENDPOINT_URL").is_some()
}

/// Builds an S3 client from the shared config, path-style when an endpoint is configured.
#[cfg(feature = "s3")]
pub fn s3_client(config: &SdkConfig, env: &Env) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(s3_path_style(env))
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style_only_with_a_custom_endpoint() {
        assert!(!s3_path_style(&Env::from_pairs([])));
        assert!(s3_path_style(&Env::from_pairs([(
            "AWS_ENDPOINT_URL",
            "http://127.0.0.1:5000"
        )])));
        assert!(s3_path_style(&Env::from_pairs([(
            "AWS_ENDPOINT_URL_S3",
            "http://127.0.0.1:5000"
        )])));
        assert!(!s3_path_style(&Env::from_pairs([(
            "AWS_ENDPOINT_URL_RDS",
            "http://127.0.0.1:5000"
        )])));
    }
}
