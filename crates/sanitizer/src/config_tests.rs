use super::*;

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        (ENGINE, "postgres"),
        (ENDPOINT, "db.example"),
        (DATABASE, "app"),
        (
            SECRET_ARN,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
        ),
        (SCRIPT, "UPDATE t SET a = 1"),
    ]
}

fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
    let mut pairs = base();
    for (k, v) in extra {
        pairs.retain(|(bk, _)| bk != k);
        pairs.push((k, v));
    }
    Config::from_env(&Env::from_pairs(pairs))
}

#[test]
fn given_minimal_env_then_defaults_are_require_tls_engine_port_and_one_hour() {
    let c = with(&[]).expect("config");
    assert_eq!(c.port, 5432);
    assert_eq!(c.tls, TlsMode::Require);
    assert_eq!(c.statement_timeout_seconds, 3600);
    assert!(!c.dry_run);
    assert_eq!(c.script, ScriptSource::Inline("UPDATE t SET a = 1".into()));
    assert_eq!(with(&[(ENGINE, "mariadb")]).expect("maria").port, 3306);
}

#[test]
fn given_each_required_variable_missing_then_error_names_it() {
    for var in [ENGINE, ENDPOINT, DATABASE, SECRET_ARN, SCRIPT] {
        let pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != var).collect();
        let err = Config::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.to_string().contains(var), "{var}: {err}");
    }
}

#[test]
fn given_script_uri_then_bucket_and_key_are_split_and_bad_uris_named() {
    let pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != SCRIPT).collect();
    let mut ok = pairs.clone();
    ok.push((SCRIPT_URI, "s3://scripts/prod/sanitize.sql"));
    let c = Config::from_env(&Env::from_pairs(ok)).expect("config");
    assert_eq!(
        c.script,
        ScriptSource::S3 {
            bucket: "scripts".into(),
            key: "prod/sanitize.sql".into()
        }
    );
    let mut bad = pairs;
    bad.push((SCRIPT_URI, "https://x/y"));
    let err = Config::from_env(&Env::from_pairs(bad)).unwrap_err();
    assert!(err.to_string().contains(SCRIPT_URI), "{err}");
    assert!(with(&[(SCRIPT_URI, "s3://a/b")]).is_err(), "both set");
}

#[test]
fn given_invalid_values_then_errors_name_the_variable() {
    for (var, value) in [
        (ENGINE, "oracle"),
        (PORT, "0"),
        (PORT, "http"),
        (STATEMENT_TIMEOUT_SECONDS, "0"),
        (DRY_RUN, "yes"),
        (TLS, "prefer"),
    ] {
        let err = with(&[(var, value)]).unwrap_err();
        assert!(err.to_string().contains(var), "{var}={value}: {err}");
    }
}

#[test]
fn given_verify_full_without_bundle_then_error_names_the_bundle_variable() {
    let err = with(&[(TLS, "verify-full")]).unwrap_err();
    assert!(err.to_string().contains(CA_BUNDLE), "{err}");
    let c = with(&[
        (TLS, "verify-full"),
        (CA_BUNDLE, "/etc/rds/global-bundle.pem"),
    ])
    .expect("config");
    assert_eq!(
        c.ca_bundle,
        Some(PathBuf::from("/etc/rds/global-bundle.pem"))
    );
}
