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
    assert_eq!(c.mode, Mode::Sanitize);
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
    ok.push((SCRIPT_SHA256, PIN));
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
        (MODE, "verify"),
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

/// SHA-256 of `abc`.
const PIN: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn from_s3(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
    let mut pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != SCRIPT).collect();
    pairs.push((SCRIPT_URI, "s3://scripts/prod/sanitize.sql"));
    pairs.extend_from_slice(extra);
    Config::from_env(&Env::from_pairs(pairs))
}

#[test]
fn given_script_uri_without_a_pin_then_the_pin_variable_is_named_as_required() {
    let err = from_s3(&[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Missing { var } if var.contains(SCRIPT_SHA256)),
        "{err}"
    );
    let c = from_s3(&[(SCRIPT_SHA256, PIN)]).expect("pinned");
    assert_eq!(c.script_sha256.map(|p| p.to_string()).as_deref(), Some(PIN));
}

#[test]
fn given_a_malformed_pin_then_error_names_the_variable_and_an_inline_script_needs_none() {
    let err = from_s3(&[(SCRIPT_SHA256, "d41d8cd98f00b204e9800998ecf8427e")]).unwrap_err();
    assert!(err.to_string().contains(SCRIPT_SHA256), "{err}");
    assert_eq!(with(&[]).expect("inline").script_sha256, None);
    assert!(
        with(&[(SCRIPT_SHA256, PIN)])
            .expect("inline pinned")
            .script_sha256
            .is_some()
    );
}

#[test]
fn given_leak_settings_then_defaults_apply_and_bad_values_name_the_variable() {
    let c = with(&[]).expect("config");
    assert_eq!(c.leak, LeakSettings::default());
    assert_eq!((c.leak.sample_values, c.leak.scan_rows), (1000, 10_000));
    assert!(c.leak.patterns.is_empty());

    let c = with(&[
        (LEAK_SAMPLE_VALUES, "50"),
        (LEAK_SCAN_ROWS, "200"),
        (LEAK_PATTERNS, r#"{"ssn": "\\d{3}-\\d{2}-\\d{4}"}"#),
    ])
    .expect("config");
    assert_eq!((c.leak.sample_values, c.leak.scan_rows), (50, 200));
    assert_eq!(
        c.leak.patterns,
        vec![("ssn".to_owned(), r"\d{3}-\d{2}-\d{4}".to_owned())]
    );

    for (var, value) in [
        (LEAK_SAMPLE_VALUES, "0"),
        (LEAK_SCAN_ROWS, "many"),
        (LEAK_PATTERNS, r#"{"ssn": "(open"}"#),
        (LEAK_PATTERNS, "not json"),
    ] {
        let err = with(&[(var, value)]).expect_err(value).to_string();
        assert!(err.contains(var), "{err}");
    }
}

#[test]
fn given_validate_mode_then_it_is_read_and_a_dry_run_with_it_is_refused_naming_both() {
    assert_eq!(
        with(&[(MODE, "validate")]).expect("validate").mode,
        Mode::Validate
    );
    let err = with(&[(MODE, "validate"), (DRY_RUN, "true")]).unwrap_err();
    assert!(
        err.to_string().contains(DRY_RUN) && err.to_string().contains(MODE),
        "{err}"
    );
}
