//! Decrypt throughput against a bare AES-256-GCM pass over the same frames: the hot case of
//! message format v1, suite 0x0178, 4096-byte frames, unsigned, empty context, 1 MiB.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice_esdk::{AlgorithmSuite, decrypt};
use support::{Spec, encrypt, keyring};

const SIZE: usize = 1 << 20;
const FRAME: usize = 4096;

fn bench(c: &mut Criterion) {
    let plaintext: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let keyring = keyring();
    let mut group = c.benchmark_group("1MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));

    for (name, suite) in [
        ("esdk 0x0178 f4096", AlgorithmSuite::Aes256GcmHkdfSha256),
        (
            "esdk 0x0478 f4096",
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        ),
        (
            "esdk 0x0378 f4096 (signed)",
            AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384,
        ),
    ] {
        let message = encrypt(&Spec::new(suite, FRAME as u32), &plaintext);
        group.bench_function(name, |b| {
            b.iter(|| decrypt(std::hint::black_box(&message), &keyring).unwrap())
        });
    }

    // Baseline: the same number of 4096-byte AES-256-GCM opens into one output buffer.
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    let iv = [0u8; 12];
    let mut sealed = plaintext.clone();
    let tags: Vec<_> = sealed
        .chunks_mut(FRAME)
        .map(|chunk| {
            cipher
                .encrypt_inout_detached((&iv).into(), b"aad", InOutBuf::from(chunk))
                .unwrap()
        })
        .collect();
    group.bench_function("bare aes-256-gcm f4096", |b| {
        b.iter(|| {
            let mut out = vec![0u8; SIZE];
            for ((ct, pt), tag) in sealed.chunks(FRAME).zip(out.chunks_mut(FRAME)).zip(&tags) {
                let buf = InOutBuf::new(ct, pt).unwrap();
                cipher
                    .decrypt_inout_detached((&iv).into(), b"aad", buf, tag)
                    .unwrap();
            }
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
