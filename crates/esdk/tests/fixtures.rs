//! Every fixture in `fixtures/manifest.json` (made by the Python aws-encryption-sdk, see
//! `fixtures/README.md`): good messages decrypt to the recipe plaintext and recorded context,
//! tampered ones fail with the recorded error kind (and part, where recorded).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use sluice_esdk::{RawAesKeyring, decrypt};

#[derive(Deserialize)]
struct Manifest {
    library: String,
    wrapping_key_hex: String,
    provider_id: String,
    key_name: String,
    fixtures: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    file: String,
    suite: String,
    frame_length: u32,
    outcome: String,
    plaintext_len: Option<usize>,
    plaintext_sha256: Option<String>,
    encryption_context: Option<BTreeMap<String, String>>,
    error: Option<String>,
    detail: Option<String>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest parses")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The manifest's plaintext recipe: byte i = (i * 31 + 7) mod 251.
fn recipe(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

fn keyring(m: &Manifest) -> RawAesKeyring {
    RawAesKeyring::new(&*m.provider_id, &*m.key_name, &unhex(&m.wrapping_key_hex)).expect("keyring")
}

#[test]
fn given_the_manifest_then_it_records_the_library_and_covers_every_suite() {
    let m = manifest();
    assert!(
        m.library.starts_with("aws-encryption-sdk (Python) "),
        "{}",
        m.library
    );
    for id in [
        "0x0014", "0x0046", "0x0078", "0x0114", "0x0146", "0x0178", "0x0214", "0x0346", "0x0378",
        "0x0478", "0x0578",
    ] {
        for frame_length in [0, 1, 4096] {
            assert!(
                m.fixtures
                    .iter()
                    .any(|f| f.suite == id && f.frame_length == frame_length && f.outcome == "ok"),
                "no good fixture for suite {id} frame length {frame_length}"
            );
        }
    }
}

#[test]
fn given_each_good_fixture_when_decrypted_then_plaintext_and_context_match() {
    let m = manifest();
    let keyring = keyring(&m);
    let mut checked = 0;
    for f in m.fixtures.iter().filter(|f| f.outcome == "ok") {
        let message = std::fs::read(dir().join(&f.file)).expect("fixture file");
        let out = decrypt(&message, &keyring).unwrap_or_else(|e| panic!("{}: {e}", f.file));
        let len = f.plaintext_len.expect("plaintext_len");
        assert_eq!(out.plaintext.len(), len, "{}", f.file);
        assert_eq!(out.plaintext, recipe(len), "{}", f.file);
        assert_eq!(
            Some(hex(&Sha256::digest(&out.plaintext))),
            f.plaintext_sha256,
            "{}",
            f.file
        );
        assert_eq!(
            Some(&out.encryption_context),
            f.encryption_context.as_ref(),
            "{}",
            f.file
        );
        assert_eq!(format!("0x{:04X}", out.suite.id()), f.suite, "{}", f.file);
        checked += 1;
    }
    assert!(checked >= 200, "only {checked} good fixtures");
}

#[test]
fn given_each_tampered_fixture_when_decrypted_then_the_recorded_error() {
    let m = manifest();
    let keyring = keyring(&m);
    let mut checked = 0;
    for f in m.fixtures.iter().filter(|f| f.outcome == "error") {
        let message = std::fs::read(dir().join(&f.file)).expect("fixture file");
        let err = match decrypt(&message, &keyring) {
            Ok(_) => panic!("{}: tampered fixture decrypted", f.file),
            Err(e) => e,
        };
        assert_eq!(Some(err.kind()), f.error.as_deref(), "{}: {err}", f.file);
        if let Some(detail) = &f.detail {
            let part = err.part().map(|p| p.to_string());
            assert_eq!(part.as_deref(), Some(detail.as_str()), "{}: {err}", f.file);
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} tampered fixtures");
}

#[test]
fn given_a_good_fixture_when_the_keyring_differs_then_the_keyring_error() {
    let m = manifest();
    let message =
        std::fs::read(dir().join("messages/0178-f4096-full-10000-base.bin")).expect("fixture file");
    let key = unhex(&m.wrapping_key_hex);

    let other_name = RawAesKeyring::new(&*m.provider_id, "other-key", &key).expect("keyring");
    assert_eq!(
        decrypt(&message, &other_name)
            .map(|_| ())
            .expect_err("must fail")
            .kind(),
        "no_matching_data_key"
    );
    let other_provider = RawAesKeyring::new("other", &*m.key_name, &key).expect("keyring");
    assert_eq!(
        decrypt(&message, &other_provider)
            .map(|_| ())
            .expect_err("must fail")
            .kind(),
        "no_matching_data_key"
    );
    let wrong_key = RawAesKeyring::new(&*m.provider_id, &*m.key_name, &[0x42; 32]).expect("kr");
    assert_eq!(
        decrypt(&message, &wrong_key)
            .map(|_| ())
            .expect_err("must fail")
            .to_string(),
        "authentication failed for the data key"
    );
}
