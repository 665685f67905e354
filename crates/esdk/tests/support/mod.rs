//! A test-only ESDK encryptor, written from the spec independently of the crate's decrypt code,
//! so tests can build messages the Python library will not make (unsorted context, a public key
//! on an unsigned suite, several EDKs, any frame length) and run round-trip properties.
#![allow(dead_code, clippy::unwrap_used)]

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aes::Aes192;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, AesGcm, KeyInit};
use base64::Engine as _;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer as _;
use sha2::{Sha256, Sha384, Sha512};
use sluice_esdk::{AlgorithmSuite, PUBLIC_KEY_FIELD, RawAesKeyring};

pub const PROVIDER_ID: &str = "sluice-test";
pub const KEY_NAME: &str = "fixture-key-1";
pub const WRAPPING_KEY: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];

/// The keyring matching every message `encrypt` makes (and the Python fixtures).
pub fn keyring() -> RawAesKeyring {
    RawAesKeyring::new(PROVIDER_ID, KEY_NAME, &WRAPPING_KEY).unwrap()
}

/// What to encrypt and how; `Spec::new` gives the defaults of a well-formed message.
#[derive(Debug, Clone)]
pub struct Spec {
    pub suite: AlgorithmSuite,
    /// 0 = non-framed.
    pub frame_length: u32,
    /// Written in this order (sorted unless a test wants otherwise).
    pub context: Vec<(String, String)>,
    /// Add `aws-crypto-public-key` (defaults to whether the suite signs).
    pub public_key: bool,
    pub message_id_byte: u8,
    pub data_key_byte: u8,
    /// EDKs written before ours: (provider id, provider info, ciphertext).
    pub extra_edks: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    /// Sort the context pairs by key before writing them.
    pub sort_context: bool,
}

impl Spec {
    pub fn new(suite: AlgorithmSuite, frame_length: u32) -> Self {
        Spec {
            suite,
            frame_length,
            context: Vec::new(),
            public_key: suite.is_signing(),
            message_id_byte: 0x5A,
            data_key_byte: 0x3C,
            extra_edks: Vec::new(),
            sort_context: true,
        }
    }
}

fn seal(key: &[u8], iv: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    let nonce = iv.into();
    let tag = match key.len() {
        16 => Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_inout_detached(nonce, aad, InOutBuf::from(buf)),
        24 => AesGcm::<Aes192, U12>::new_from_slice(key)
            .unwrap()
            .encrypt_inout_detached(nonce, aad, InOutBuf::from(buf)),
        _ => Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_inout_detached(nonce, aad, InOutBuf::from(buf)),
    };
    tag.unwrap().into()
}

fn u16_prefixed(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u16).to_be_bytes());
    out.extend_from_slice(field);
}

fn serialize_pairs(pairs: &[(String, String)]) -> Vec<u8> {
    if pairs.is_empty() {
        return Vec::new();
    }
    let mut out = (pairs.len() as u16).to_be_bytes().to_vec();
    for (k, v) in pairs {
        u16_prefixed(&mut out, k.as_bytes());
        u16_prefixed(&mut out, v.as_bytes());
    }
    out
}

enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl SigningKey {
    fn for_suite(suite: AlgorithmSuite) -> Self {
        if suite.id() == 0x0214 {
            SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap())
        } else {
            SigningKey::P384(p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).unwrap())
        }
    }

    fn public_b64(&self) -> String {
        let point = match self {
            SigningKey::P256(k) => k.verifying_key().to_sec1_point(true).as_bytes().to_vec(),
            SigningKey::P384(k) => k.verifying_key().to_sec1_point(true).as_bytes().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(point)
    }

    fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            SigningKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

/// Derived key and, for committing suites, the commitment.
fn derive(suite: AlgorithmSuite, data_key: &[u8], message_id: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let id = suite.id().to_be_bytes();
    let mut key = vec![0u8; suite.key_len()];
    let info = [&id[..], message_id].concat();
    match suite.id() >> 8 {
        0x00 => key.copy_from_slice(data_key),
        0x01 | 0x02 => Hkdf::<Sha256>::new(None, data_key)
            .expand(&info, &mut key)
            .unwrap(),
        0x03 => Hkdf::<Sha384>::new(None, data_key)
            .expand(&info, &mut key)
            .unwrap(),
        _ => {
            let hk = Hkdf::<Sha512>::new(Some(message_id), data_key);
            hk.expand(&[&id[..], b"DERIVEKEY"].concat(), &mut key)
                .unwrap();
            let mut commit = vec![0u8; 32];
            hk.expand(b"COMMITKEY", &mut commit).unwrap();
            return (key, commit);
        }
    }
    (key, Vec::new())
}

fn body_aad(message_id: &[u8], label: &str, seq: u32, len: usize) -> Vec<u8> {
    let mut aad = message_id.to_vec();
    aad.extend_from_slice(label.as_bytes());
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&(len as u64).to_be_bytes());
    aad
}

/// Encrypts `plaintext` as `spec` says, with the fixed wrapping key of `keyring()`.
pub fn encrypt(spec: &Spec, plaintext: &[u8]) -> Vec<u8> {
    let suite = spec.suite;
    let v2 = suite.is_committing();
    let message_id = vec![spec.message_id_byte; if v2 { 32 } else { 16 }];
    let data_key = vec![spec.data_key_byte; suite.key_len()];
    let signer = suite.is_signing().then(|| SigningKey::for_suite(suite));

    let mut pairs = spec.context.clone();
    if spec.public_key {
        let b64 = SigningKey::for_suite(suite).public_b64();
        pairs.push((PUBLIC_KEY_FIELD.to_owned(), b64));
    }
    if spec.sort_context {
        pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    let mut sorted = pairs.clone();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    // Raw AES keyring wrap: AAD is the canonical (sorted) context.
    let wrap_iv = [0x77u8; 12];
    let mut wrapped = data_key.clone();
    let tag = seal(
        &WRAPPING_KEY,
        &wrap_iv,
        &serialize_pairs(&sorted),
        &mut wrapped,
    );
    wrapped.extend_from_slice(&tag);
    let mut info = KEY_NAME.as_bytes().to_vec();
    info.extend_from_slice(&128u32.to_be_bytes());
    info.extend_from_slice(&12u32.to_be_bytes());
    info.extend_from_slice(&wrap_iv);

    let (key, commitment) = derive(suite, &data_key, &message_id);
    let mut m = vec![if v2 { 2 } else { 1 }];
    if !v2 {
        m.push(0x80);
    }
    m.extend_from_slice(&suite.id().to_be_bytes());
    m.extend_from_slice(&message_id);
    u16_prefixed(&mut m, &serialize_pairs(&pairs));
    m.extend_from_slice(&((spec.extra_edks.len() + 1) as u16).to_be_bytes());
    let ours = (PROVIDER_ID.as_bytes().to_vec(), info, wrapped);
    for (p, i, c) in spec.extra_edks.iter().chain(std::iter::once(&ours)) {
        u16_prefixed(&mut m, p);
        u16_prefixed(&mut m, i);
        u16_prefixed(&mut m, c);
    }
    m.push(if spec.frame_length == 0 { 1 } else { 2 });
    if !v2 {
        m.extend_from_slice(&[0, 0, 0, 0, 12]);
    }
    m.extend_from_slice(&spec.frame_length.to_be_bytes());
    m.extend_from_slice(&commitment);
    let header_tag = seal(&key, &[0u8; 12], &m, &mut []);
    if !v2 {
        m.extend_from_slice(&[0u8; 12]);
    }
    m.extend_from_slice(&header_tag);

    let mut iv = [0u8; 12];
    if spec.frame_length == 0 {
        iv[11] = 1;
        let mut ct = plaintext.to_vec();
        let aad = body_aad(
            &message_id,
            "AWSKMSEncryptionClient Single Block",
            1,
            ct.len(),
        );
        let tag = seal(&key, &iv, &aad, &mut ct);
        m.extend_from_slice(&iv);
        m.extend_from_slice(&(ct.len() as u64).to_be_bytes());
        m.extend_from_slice(&ct);
        m.extend_from_slice(&tag);
    } else {
        let fl = spec.frame_length as usize;
        let mut rest = plaintext;
        let mut seq = 1u32;
        loop {
            let is_final = rest.len() < fl;
            let (chunk, tail) = rest.split_at(rest.len().min(fl));
            iv[8..].copy_from_slice(&seq.to_be_bytes());
            let label = if is_final {
                "AWSKMSEncryptionClient Final Frame"
            } else {
                "AWSKMSEncryptionClient Frame"
            };
            let mut ct = chunk.to_vec();
            let tag = seal(
                &key,
                &iv,
                &body_aad(&message_id, label, seq, ct.len()),
                &mut ct,
            );
            if is_final {
                m.extend_from_slice(&u32::MAX.to_be_bytes());
            }
            m.extend_from_slice(&seq.to_be_bytes());
            m.extend_from_slice(&iv);
            if is_final {
                m.extend_from_slice(&(ct.len() as u32).to_be_bytes());
            }
            m.extend_from_slice(&ct);
            m.extend_from_slice(&tag);
            if is_final {
                break;
            }
            rest = tail;
            seq += 1;
        }
    }
    if let Some(signer) = signer {
        let sig = signer.sign_der(&m);
        u16_prefixed(&mut m, &sig);
    }
    m
}
