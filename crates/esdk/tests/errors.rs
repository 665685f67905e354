//! One test per decryption rule, on messages from the test encryptor (`support`) or on the
//! Python fixtures with a surgical edit.

mod support;

use sluice_esdk::{AlgorithmSuite, Error, Part, decrypt, parse_header};
use support::{Spec, encrypt, keyring};

const HOT: AlgorithmSuite = AlgorithmSuite::Aes256GcmHkdfSha256;

fn ctx(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Offset of the first frame (the body) of a message.
fn body_start(m: &[u8]) -> usize {
    parse_header(m).expect("header").len
}

#[test]
fn given_the_test_encryptor_then_every_suite_round_trips() {
    for suite in AlgorithmSuite::ALL {
        for frame_length in [0, 1, 7, 4096] {
            let pt: Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
            let mut spec = Spec::new(suite, frame_length);
            spec.context = ctx(&[("b", "2"), ("a", "1")]);
            let out = decrypt(&encrypt(&spec, &pt), &keyring())
                .unwrap_or_else(|e| panic!("{suite:?} {frame_length}: {e}"));
            assert_eq!(out.plaintext, pt);
            assert_eq!(out.suite, suite);
            assert_eq!(
                out.encryption_context.get("a").map(String::as_str),
                Some("1")
            );
        }
    }
}

#[test]
fn given_an_unsorted_context_in_the_header_then_it_still_decrypts() {
    let mut spec = Spec::new(HOT, 64);
    spec.context = ctx(&[("zeta", "1"), ("alpha", "2")]);
    spec.sort_context = false;
    let out = decrypt(&encrypt(&spec, b"data"), &keyring()).expect("decrypts");
    assert_eq!(out.encryption_context.len(), 2);
}

#[test]
fn given_a_public_key_on_an_unsigned_suite_then_malformed_context() {
    let mut spec = Spec::new(HOT, 64);
    spec.public_key = true;
    let err = decrypt(&encrypt(&spec, b"data"), &keyring()).expect_err("refused");
    assert_eq!(err.kind(), "malformed");
    assert_eq!(err.part(), Some(Part::EncryptionContext));
}

#[test]
fn given_a_signing_suite_without_its_public_key_then_malformed_context() {
    let mut spec = Spec::new(AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384, 64);
    spec.public_key = false;
    let err = decrypt(&encrypt(&spec, b"data"), &keyring()).expect_err("refused");
    assert_eq!(err.part(), Some(Part::EncryptionContext));
}

#[test]
fn given_a_foreign_edk_before_ours_then_ours_is_found() {
    let mut spec = Spec::new(HOT, 64);
    spec.extra_edks = vec![(
        b"aws-kms".to_vec(),
        b"arn:aws:kms:...".to_vec(),
        vec![1; 40],
    )];
    assert!(decrypt(&encrypt(&spec, b"data"), &keyring()).is_ok());
}

#[test]
fn given_a_corrupt_matching_edk_before_a_good_one_then_the_good_one_is_used() {
    let mut spec = Spec::new(HOT, 64);
    let mut info = b"fixture-key-1".to_vec();
    info.extend_from_slice(&128u32.to_be_bytes());
    info.extend_from_slice(&12u32.to_be_bytes());
    info.extend_from_slice(&[9; 12]);
    spec.extra_edks = vec![(b"sluice-test".to_vec(), info, vec![0; 48])];
    assert!(decrypt(&encrypt(&spec, b"data"), &keyring()).is_ok());
}

#[test]
fn given_frames_starting_at_two_then_frame_sequence_error() {
    let mut m = encrypt(&Spec::new(HOT, 16), &[1; 40]);
    let at = body_start(&m);
    m[at..at + 4].copy_from_slice(&2u32.to_be_bytes());
    assert_eq!(
        decrypt(&m, &keyring()),
        Err(Error::FrameSequence {
            expected: 1,
            found: 2
        })
    );
}

#[test]
fn given_a_final_frame_longer_than_the_frame_length_then_malformed_frame() {
    // 10 bytes with frame length 16: a single final frame (marker, seq, IV, length, ...).
    let mut m = encrypt(&Spec::new(HOT, 16), &[1; 10]);
    let at = body_start(&m) + 4 + 4 + 12;
    m[at..at + 4].copy_from_slice(&17u32.to_be_bytes());
    let err = decrypt(&m, &keyring()).expect_err("refused");
    assert_eq!(err.kind(), "malformed");
    assert_eq!(err.part(), Some(Part::Frame(1)));
}

#[test]
fn given_a_huge_non_framed_length_then_malformed_body_without_allocating() {
    let mut m = encrypt(&Spec::new(HOT, 0), &[1; 10]);
    let at = body_start(&m) + 12;
    m[at..at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
    let err = decrypt(&m, &keyring()).expect_err("refused");
    assert_eq!((err.kind(), err.part()), ("malformed", Some(Part::Body)));
}

#[test]
fn given_a_non_framed_length_past_the_end_then_truncated_body() {
    let mut m = encrypt(&Spec::new(HOT, 0), &[1; 10]);
    let at = body_start(&m) + 12;
    m[at..at + 8].copy_from_slice(&(1u64 << 30).to_be_bytes());
    assert_eq!(
        decrypt(&m, &keyring()),
        Err(Error::Truncated { what: Part::Body })
    );
}

#[test]
fn given_a_huge_frame_length_then_truncated_not_out_of_memory() {
    // The frame length is authenticated, so re-encrypt with one that dwarfs the input.
    let m = encrypt(&Spec::new(HOT, u32::MAX), &[1; 10]);
    assert!(decrypt(&m, &keyring()).is_ok());
    let m = encrypt(&Spec::new(HOT, 4), &[1; 10]);
    let cut = &m[..m.len() - 20];
    assert_eq!(
        decrypt(cut, &keyring())
            .map(|_| ())
            .expect_err("must fail")
            .kind(),
        "truncated"
    );
}

#[test]
fn given_an_empty_final_frame_after_full_frames_then_it_decrypts() {
    let out = decrypt(&encrypt(&Spec::new(HOT, 8), &[3; 32]), &keyring()).expect("ok");
    assert_eq!(out.plaintext, vec![3; 32]);
}

#[test]
fn given_trailing_bytes_then_their_count_is_reported() {
    for suite in [HOT, AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384] {
        let mut m = encrypt(&Spec::new(suite, 64), b"data");
        m.extend_from_slice(&[0; 5]);
        assert_eq!(
            decrypt(&m, &keyring()),
            Err(Error::TrailingBytes { count: 5 })
        );
    }
}

#[test]
fn given_every_prefix_of_a_message_then_an_error_never_a_panic() {
    for suite in [HOT, AlgorithmSuite::Aes128GcmHkdfSha256EcdsaP256] {
        for frame_length in [0, 5] {
            let m = encrypt(&Spec::new(suite, frame_length), &[9; 23]);
            for cut in 0..m.len() {
                let err = decrypt(&m[..cut], &keyring()).expect_err("prefix");
                assert_eq!(err.kind(), "truncated", "cut {cut}: {err}");
            }
        }
    }
}

#[test]
fn given_a_v1_message_claiming_version_two_then_malformed_or_unsupported() {
    let mut m = encrypt(&Spec::new(HOT, 64), b"data");
    m[0] = 2;
    assert!(decrypt(&m, &keyring()).is_err());
}
