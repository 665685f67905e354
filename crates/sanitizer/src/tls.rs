//! TLS for both engine families: rustls with the ring provider the AWS SDK client uses too.
//!
//! `require` encrypts without checking the certificate (what `sslmode=require` does);
//! `verify-full` checks the chain against the given CA bundle (the RDS bundle) and the host
//! name against the endpoint.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// A TLS set-up that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA bundle cannot be read or holds no usable certificate.
    #[error("CA bundle {path}: {reason}")]
    Bundle {
        /// The bundle's path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto provider every TLS connection of the task uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process-wide default, which libraries that call `ClientConfig::builder()`
/// (mysql_async) take; set explicitly so that a second provider compiled in later cannot
/// leave them without one.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The roots in a PEM bundle.
pub fn load_bundle(path: &Path) -> Result<RootCertStore, TlsError> {
    let bundle_error = |reason: String| TlsError::Bundle {
        path: path.display().to_string(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| bundle_error(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| bundle_error(e.to_string()))?;
        roots.add(cert).map_err(|e| bundle_error(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bundle_error("no certificates".into()));
    }
    Ok(roots)
}

/// A client configuration that verifies the server against `bundle`.
pub fn verifying_config(bundle: &Path) -> Result<ClientConfig, TlsError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(load_bundle(bundle)?)
        .with_no_client_auth())
}

/// A client configuration that encrypts but accepts any server certificate (`require`).
pub fn encrypting_config() -> Result<ClientConfig, TlsError> {
    let provider = provider();
    Ok(ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        .with_no_client_auth())
}

/// Accepts any certificate, but still checks the handshake signatures (so the session key
/// is bound to the certificate the server sent).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_missing_or_empty_bundle_then_error_names_the_path() {
        let err = load_bundle(Path::new("/nonexistent/rds-ca.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/rds-ca.pem"), "{err}");
        let dir = std::env::temp_dir().join(format!("sanitizer-empty-{}.pem", std::process::id()));
        std::fs::write(&dir, "not a certificate\n").expect("write");
        let err = load_bundle(&dir).unwrap_err();
        assert!(err.to_string().contains("no certificates"), "{err}");
        let _ = std::fs::remove_file(dir);
    }

    #[test]
    fn given_require_mode_then_a_config_builds() {
        assert!(encrypting_config().is_ok());
    }
}
