//! Properties: any bytes give an error and never a panic; a valid message with any byte changed
//! never decrypts; encrypt → decrypt round-trips for every suite, framing and context.

mod support;

use proptest::prelude::*;
use sluice_esdk::{AlgorithmSuite, decrypt, parse_header};
use support::{Spec, encrypt, keyring};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/messages")
        .join(name);
    std::fs::read(path).expect("fixture")
}

/// Valid messages to mutate: Python fixtures across versions, framings and signatures.
fn bases() -> Vec<Vec<u8>> {
    [
        "0178-f4096-empty-4096.bin",
        "0178-f1-empty-1.bin",
        "0014-nf-full-1.bin",
        "0214-f4096-full-1.bin",
        "0378-nf-empty-1.bin",
        "0478-f1-full-1.bin",
        "0578-f4096-full-1.bin",
    ]
    .into_iter()
    .map(fixture)
    .collect()
}

fn suite() -> impl Strategy<Value = AlgorithmSuite> {
    prop::sample::select(AlgorithmSuite::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn given_arbitrary_bytes_then_an_error_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(decrypt(&bytes, &keyring()).is_err());
        let _ = parse_header(&bytes);
    }

    #[test]
    fn given_a_real_header_and_an_arbitrary_tail_then_an_error(
        base in 0usize..7,
        tail in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let m = &bases()[base];
        let header_len = parse_header(m).expect("header").len;
        let mut bytes = m[..header_len].to_vec();
        bytes.extend_from_slice(&tail);
        prop_assert!(decrypt(&bytes, &keyring()).is_err());
    }

    #[test]
    fn given_one_changed_byte_then_never_decrypts(base in 0usize..7, at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let mut m = bases()[base].clone();
        let i = at.index(m.len());
        m[i] ^= xor;
        let r = decrypt(&m, &keyring());
        prop_assert!(r.is_err(), "byte {} ^ {:#04x} still decrypted", i, xor);
    }

    #[test]
    fn given_several_edits_and_a_cut_then_never_wrong_plaintext(
        base in 0usize..7,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let original = bases()[base].clone();
        let expected = decrypt(&original, &keyring()).expect("base decrypts").plaintext;
        let mut m = original.clone();
        for (at, value) in edits {
            let i = at.index(m.len());
            m[i] = value;
        }
        if do_cut {
            m.truncate(cut.index(m.len()));
        }
        if let Ok(out) = decrypt(&m, &keyring()) {
            prop_assert_eq!(&m, &original, "a changed message decrypted");
            prop_assert_eq!(out.plaintext, expected);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn given_any_suite_framing_and_context_then_encrypt_decrypt_round_trips(
        suite in suite(),
        frame_length in prop_oneof![Just(0u32), 1u32..48, Just(4096u32)],
        plaintext in prop::collection::vec(any::<u8>(), 0..600),
        context in prop::collection::btree_map("[a-z\u{e0}-\u{ff}]{0,6}", ".{0,8}", 0..4),
        message_id_byte in any::<u8>(),
        data_key_byte in any::<u8>(),
    ) {
        let mut spec = Spec::new(suite, frame_length);
        spec.context = context.clone().into_iter().collect();
        spec.message_id_byte = message_id_byte;
        spec.data_key_byte = data_key_byte;
        let out = decrypt(&encrypt(&spec, &plaintext), &keyring()).expect("round trip");
        prop_assert_eq!(out.plaintext, plaintext);
        prop_assert_eq!(out.suite, suite);
        for (k, v) in &context {
            prop_assert_eq!(out.encryption_context.get(k), Some(v));
        }
        prop_assert_eq!(
            out.encryption_context.contains_key(sluice_esdk::PUBLIC_KEY_FIELD),
            suite.is_signing()
        );
    }
}
