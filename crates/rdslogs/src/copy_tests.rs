//! Unit tests of the streaming copy against the in-memory store.

use std::io::Read;

use bytes::Bytes;

use super::*;
use crate::error::DownloadError;
use crate::memory::{ChunkStream, MemoryStore};

const MIB: usize = 1024 * 1024;

fn source(listed: usize) -> Source<'static> {
    Source {
        instance: "db1",
        file: "error/a.log",
        listed: listed as u64,
    }
}

fn chunks(data: &[u8], size: usize) -> ChunkStream {
    ChunkStream::new(
        data.chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect(),
    )
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn given_small_file_when_copied_then_single_put_with_exact_bytes() {
    let store = MemoryStore::default();
    let mut bytes = "héllo wörld ✓\n\u{1F600}".as_bytes().to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x80]);
    let out = copy(
        &mut chunks(&bytes, 3),
        &store,
        "k",
        source(bytes.len()),
        CopyOptions::default(),
    )
    .await
    .expect("copy");
    assert_eq!(out.parts, 1);
    assert_eq!(store.objects()["k"], Bytes::from(bytes));
}

#[tokio::test]
async fn given_file_larger_than_a_part_when_copied_then_multipart_with_all_bytes() {
    let store = MemoryStore::default();
    let bytes = data(12 * MIB + 17);
    let opts = CopyOptions {
        part_size: 5 * MIB,
        gzip: false,
    };
    let out = copy(
        &mut chunks(&bytes, 64 * 1024),
        &store,
        "k",
        source(bytes.len()),
        opts,
    )
    .await
    .expect("copy");
    assert_eq!(out.parts, 3);
    assert_eq!(out.source_bytes, bytes.len() as u64);
    assert_eq!(store.objects()["k"].as_ref(), bytes.as_slice());
    assert_eq!(store.open_uploads(), 0);
}

#[tokio::test]
async fn given_gzip_when_copied_then_object_decompresses_to_the_source() {
    let store = MemoryStore::default();
    let bytes = data(11 * MIB);
    let opts = CopyOptions {
        part_size: 5 * MIB,
        gzip: true,
    };
    let out = copy(
        &mut chunks(&bytes, 100_000),
        &store,
        "k.gz",
        source(bytes.len()),
        opts,
    )
    .await
    .expect("copy");
    assert_eq!(out.source_bytes, bytes.len() as u64);
    let object = store.objects()["k.gz"].clone();
    assert_eq!(out.object_bytes, object.len() as u64);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(object.as_ref())
        .read_to_end(&mut plain)
        .expect("gunzip");
    assert_eq!(plain, bytes);
}

#[tokio::test]
async fn given_stream_breaks_after_a_part_when_copied_then_upload_aborted_and_no_object() {
    let store = MemoryStore::default();
    let mut items: Vec<_> = data(6 * MIB)
        .chunks(MIB)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    items.push(Err(DownloadError::Status {
        instance: "db1".into(),
        file: "error/a.log".into(),
        status: 500,
        body: "gone".into(),
    }));
    let opts = CopyOptions {
        part_size: 5 * MIB,
        gzip: false,
    };
    let err = copy(
        &mut ChunkStream::new(items),
        &store,
        "k",
        source(8 * MIB),
        opts,
    )
    .await
    .expect_err("must fail");
    assert!(matches!(err, CopyError::Download(_)), "{err}");
    assert!(store.objects().is_empty());
    assert_eq!(store.open_uploads(), 0);
}

#[tokio::test]
async fn given_fewer_bytes_than_listed_when_copied_then_short_and_nothing_written() {
    let store = MemoryStore::default();
    for len in [0, 100, 6 * MIB] {
        let opts = CopyOptions {
            part_size: 5 * MIB,
            gzip: false,
        };
        let err = copy(
            &mut chunks(&data(len), MIB),
            &store,
            "k",
            source(len + 1),
            opts,
        )
        .await
        .expect_err("short");
        assert!(
            matches!(err, CopyError::Short { got, .. } if got == len as u64),
            "{err}"
        );
    }
    assert!(store.objects().is_empty());
    assert_eq!(store.open_uploads(), 0);
}

#[tokio::test]
async fn given_more_bytes_than_listed_when_copied_then_everything_is_kept() {
    let store = MemoryStore::default();
    let bytes = data(1000);
    let out = copy(
        &mut chunks(&bytes, 10),
        &store,
        "k",
        source(500),
        CopyOptions::default(),
    )
    .await
    .expect("copy");
    assert_eq!(out.source_bytes, 1000);
    assert_eq!(store.objects()["k"].len(), 1000);
}

#[tokio::test]
async fn given_chunks_straddling_part_boundaries_when_copied_then_parts_are_cut_at_part_size() {
    let store = MemoryStore::default();
    let bytes = data(15 * MIB);
    let opts = CopyOptions {
        part_size: 5 * MIB,
        gzip: false,
    };
    let out = copy(
        &mut chunks(&bytes, 4 * MIB),
        &store,
        "k",
        source(bytes.len()),
        opts,
    )
    .await
    .expect("copy");
    assert_eq!(
        out.parts, 3,
        "three exact 5 MiB parts, not two overgrown ones"
    );
    assert_eq!(out.object_bytes, bytes.len() as u64);
    assert_eq!(store.objects()["k"].as_ref(), bytes.as_slice());
    assert_eq!(store.open_uploads(), 0);
}
