//! Unit tests of header parsing: real fixtures for the happy paths, hand-built headers for each
//! rule the parser enforces.

use super::*;

const HOT: &[u8] = include_bytes!("../fixtures/messages/0178-f4096-empty-1.bin");
const V2_CTX: &[u8] = include_bytes!("../fixtures/messages/0478-nf-full-4096.bin");

/// Fields of a hand-built v1 header; `build` serializes them followed by a dummy IV and tag.
struct V1 {
    version: u8,
    kind: u8,
    suite: u16,
    context: Vec<u8>,
    edk_count: u16,
    content_type: u8,
    reserved: u32,
    iv_len: u8,
    frame_length: u32,
}

impl Default for V1 {
    fn default() -> Self {
        V1 {
            version: 1,
            kind: 0x80,
            suite: 0x0178,
            context: Vec::new(),
            edk_count: 1,
            content_type: 2,
            reserved: 0,
            iv_len: 12,
            frame_length: 4096,
        }
    }
}

impl V1 {
    fn build(&self) -> Vec<u8> {
        let mut m = vec![self.version, self.kind];
        m.extend_from_slice(&self.suite.to_be_bytes());
        m.extend_from_slice(&[0xAB; 16]);
        m.extend_from_slice(&(self.context.len() as u16).to_be_bytes());
        m.extend_from_slice(&self.context);
        m.extend_from_slice(&self.edk_count.to_be_bytes());
        for _ in 0..self.edk_count {
            for field in [&b"prov"[..], b"info", b"edk-bytes"] {
                m.extend_from_slice(&(field.len() as u16).to_be_bytes());
                m.extend_from_slice(field);
            }
        }
        m.push(self.content_type);
        m.extend_from_slice(&self.reserved.to_be_bytes());
        m.push(self.iv_len);
        m.extend_from_slice(&self.frame_length.to_be_bytes());
        m.extend_from_slice(&[0x11; 12]);
        m.extend_from_slice(&[0x22; 16]);
        m
    }
}

fn malformed(h: V1) -> &'static str {
    match parse_header(&h.build()) {
        Err(Error::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn given_the_hot_fixture_when_parsed_then_fields_match_v1_framed() {
    let h = parse_header(HOT).expect("header");
    assert_eq!(h.version, 1);
    assert_eq!(h.suite, AlgorithmSuite::Aes256GcmHkdfSha256);
    assert_eq!(h.message_id.len(), 16);
    assert!(h.encryption_context.is_empty());
    assert_eq!(h.encrypted_data_keys.len(), 1);
    assert_eq!(h.encrypted_data_keys[0].provider_id, b"sluice-test");
    assert!(
        h.encrypted_data_keys[0]
            .provider_info
            .starts_with(b"fixture-key-1")
    );
    assert_eq!(h.encrypted_data_keys[0].ciphertext.len(), 32 + 16);
    assert_eq!(h.content_type, ContentType::Framed);
    assert_eq!(h.frame_length, 4096);
    assert_eq!(h.commitment, None);
    assert_eq!(h.len, h.body_len + 12 + 16);
    assert_eq!(h.authenticated_bytes(HOT).len(), h.body_len);
}

#[test]
fn given_a_v2_fixture_when_parsed_then_commitment_and_zero_iv() {
    let h = parse_header(V2_CTX).expect("header");
    assert_eq!(h.version, 2);
    assert_eq!(h.suite.id(), 0x0478);
    assert_eq!(h.message_id.len(), 32);
    assert_eq!(
        h.encryption_context.get("tenant").map(String::as_str),
        Some("acme")
    );
    assert_eq!(h.content_type, ContentType::NonFramed);
    assert_eq!(h.frame_length, 0);
    assert!(h.commitment.is_some());
    assert_eq!(h.auth_iv, [0u8; 12]);
    assert_eq!(h.len, h.body_len + 16);
}

#[test]
fn given_a_hand_built_header_when_parsed_then_it_is_accepted() {
    let m = V1::default().build();
    let h = parse_header(&m).expect("header");
    assert_eq!(h.len, m.len());
    assert_eq!(h.auth_iv, [0x11; 12]);
    assert_eq!(h.auth_tag, &[0x22; 16]);
}

#[test]
fn given_every_prefix_of_a_header_then_truncated_never_panics() {
    for m in [V1::default().build(), HOT.to_vec(), V2_CTX.to_vec()] {
        let full = parse_header(&m).expect("header").len;
        for cut in 0..full {
            let err = parse_header(&m[..cut]).expect_err("prefix must fail");
            assert_eq!(err.kind(), "truncated", "cut at {cut}: {err}");
        }
    }
}

#[test]
fn given_a_header_cut_in_the_auth_then_truncated_names_header_authentication() {
    let m = V1::default().build();
    let err = parse_header(&m[..m.len() - 1]).expect_err("cut");
    assert_eq!(
        err,
        Error::Truncated {
            what: Part::HeaderAuth
        }
    );
    let err = parse_header(&m[..4]).expect_err("cut");
    assert_eq!(err, Error::Truncated { what: Part::Header });
}

#[test]
fn given_an_unknown_version_then_unsupported_version() {
    let m = V1 {
        version: 3,
        ..V1::default()
    }
    .build();
    assert_eq!(parse_header(&m), Err(Error::UnsupportedVersion(3)));
    assert_eq!(parse_header(&[0]), Err(Error::UnsupportedVersion(0)));
}

#[test]
fn given_an_unknown_suite_then_unsupported_suite() {
    let m = V1 {
        suite: 0x0179,
        ..V1::default()
    }
    .build();
    assert_eq!(parse_header(&m), Err(Error::UnsupportedSuite(0x0179)));
}

#[test]
fn given_a_committing_suite_in_a_v1_header_then_malformed() {
    let reason = malformed(V1 {
        suite: 0x0478,
        ..V1::default()
    });
    assert!(reason.contains("version"), "{reason}");
}

#[test]
fn given_each_bad_fixed_field_then_malformed_with_its_reason() {
    assert!(
        malformed(V1 {
            kind: 0x81,
            ..V1::default()
        })
        .contains("type")
    );
    assert!(
        malformed(V1 {
            edk_count: 0,
            ..V1::default()
        })
        .contains("count")
    );
    assert!(
        malformed(V1 {
            content_type: 3,
            ..V1::default()
        })
        .contains("content type")
    );
    assert!(
        malformed(V1 {
            reserved: 1,
            ..V1::default()
        })
        .contains("reserved")
    );
    assert!(
        malformed(V1 {
            iv_len: 16,
            ..V1::default()
        })
        .contains("IV length")
    );
    assert!(
        malformed(V1 {
            content_type: 1,
            ..V1::default()
        })
        .contains("non-framed")
    );
    assert!(
        malformed(V1 {
            frame_length: 0,
            ..V1::default()
        })
        .contains("frame length 0")
    );
}

#[test]
fn given_a_bad_context_in_the_header_then_the_context_is_named() {
    let err = parse_header(
        &V1 {
            context: vec![0, 0],
            ..V1::default()
        }
        .build(),
    )
    .expect_err("count 0");
    assert_eq!(err.part(), Some(Part::EncryptionContext));
}

#[test]
fn given_a_lying_edk_count_then_truncated_in_encrypted_data_keys() {
    let mut m = V1::default().build();
    // The EDK count sits right after the (empty) context length: 1 + 1 + 2 + 16 + 2.
    m[22..24].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(
        parse_header(&m),
        Err(Error::Truncated {
            what: Part::EncryptedDataKeys
        })
    );
}
