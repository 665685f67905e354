//! Fuzz target: any bytes through `sluice_esdk::decrypt` with the fixtures' keyring must return
//! (Ok or Err), never panic, hang or read out of bounds.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_esdk::{RawAesKeyring, decrypt, parse_header};

/// The keyring of `fixtures/manifest.json`, so seeds from the good fixtures reach the body.
fn keyring() -> &'static RawAesKeyring {
    static KEYRING: OnceLock<RawAesKeyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let key: Vec<u8> = (0u8..32).collect();
        RawAesKeyring::new("sluice-test", "fixture-key-1", &key).expect("32-byte key")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_header(data);
    let _ = decrypt(data, keyring());
});
