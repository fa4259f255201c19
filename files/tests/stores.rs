//! Both kinds of store an area can name (FILE-02) pass the same checks: the local
//! directory `meridian dev` uses, and an S3-compatible bucket — here moto's S3 server
//! (PyPI `moto[server]`, installed by `scripts/test`), a real S3 protocol endpoint.

use bytes::Bytes;
use futures::TryStreamExt;
use meridian_files::store::sha256_hex;
use meridian_files::{ObjectName, Part, Store, StoreConfig, StoreError};
use meridian_testkit::Moto;

/// Larger than the writer's buffer, so an S3 upload goes up in several parts.
const LARGE: usize = 12 << 20;

async fn read_all(store: &Store, name: ObjectName<'_>, range: std::ops::Range<u64>) -> Vec<u8> {
    let parts: Vec<Bytes> = store
        .read(name, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    parts.concat()
}

/// What the edge relies on: streamed uploads hashed on the way and visible only when
/// finished, sizes, ranged reads, whole puts, aborts that leave nothing, idempotent deletes.
async fn keeps_what_was_finished_and_nothing_else(store: &Store) {
    let name = ObjectName::Original {
        app_key: "k",
        file_id: "f1",
    };
    let payload: Vec<u8> = (0..LARGE).map(|i| (i % 251) as u8).collect();
    let mut upload = store.upload(name);
    for chunk in payload.chunks(1 << 20) {
        upload.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert!(
        matches!(store.size(name).await, Err(StoreError::NotFound)),
        "an unfinished upload is not visible"
    );
    assert_eq!(upload.written(), LARGE as u64);
    assert_eq!(upload.finish().await.unwrap(), sha256_hex(&payload));
    assert_eq!(store.size(name).await.unwrap(), LARGE as u64);
    let tail = LARGE as u64 - 100..LARGE as u64;
    assert_eq!(read_all(store, name, tail).await, &payload[LARGE - 100..]);
    assert_eq!(read_all(store, name, 5..9).await, &payload[5..9]);
    // Whole, and from the middle of one read's piece to the middle of another's.
    assert_eq!(read_all(store, name, 0..LARGE as u64).await, payload);
    let span = (1 << 20) + 3..(5 << 20) + 7;
    let expected = &payload[span.start as usize..span.end as usize];
    assert_eq!(read_all(store, name, span).await, expected);

    let preview = ObjectName::Preview {
        app_key: "k",
        file_id: "f1",
    };
    store
        .put(preview, Bytes::from_static(b"small"))
        .await
        .unwrap();
    assert_eq!(read_all(store, preview, 0..5).await, b"small");
    // FILE-04's sweep lists files by age: an original and its preview are one file.
    let file = ("k".to_string(), "f1".to_string());
    let listed = store.files_before(u64::MAX, 10).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&file));
    assert_eq!(store.files_before(0, 10).await.unwrap(), []);

    // A resumable upload's chunks: listed in the order of their offsets, not files to the
    // sweep, removed together, or once stale.
    let part = |offset| ObjectName::Part {
        app_key: "k",
        file_id: "f4",
        offset,
    };
    for (offset, bytes) in [(5, &b"world"[..]), (0, &b"hello"[..])] {
        let bytes = Bytes::copy_from_slice(bytes);
        store.put(part(offset), bytes).await.unwrap();
    }
    let stored = store.parts("k", "f4").await.unwrap();
    let expected = [(0, 5), (5, 5)].map(|(offset, size)| Part { offset, size });
    assert_eq!(stored, expected);
    assert_eq!(read_all(store, part(5), 0..5).await, b"world");
    assert_eq!(store.files_before(u64::MAX, 10).await.unwrap(), [file]);
    store.delete_parts("k", "f4").await.unwrap();
    assert_eq!(store.parts("k", "f4").await.unwrap(), []);
    store.put(part(0), Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(store.delete_parts_before(0, 10).await.unwrap(), 0);
    assert_eq!(store.delete_parts_before(u64::MAX, 10).await.unwrap(), 1);
    assert_eq!(store.parts("k", "f4").await.unwrap(), []);

    let dropped = ObjectName::Original {
        app_key: "k",
        file_id: "f2",
    };
    let mut upload = store.upload(dropped);
    upload.write(Bytes::from_static(b"partial")).await.unwrap();
    upload.abort().await;
    assert!(matches!(
        store.size(dropped).await,
        Err(StoreError::NotFound)
    ));

    store.delete(name).await.unwrap();
    store.delete(name).await.unwrap();
    assert!(matches!(store.size(name).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.read(name, 0..1).await.map(|_| ()),
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_local_directory_store_keeps_what_was_finished() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Local {
        dir: dir.path().join("files"),
    })
    .unwrap();
    keeps_what_was_finished_and_nothing_else(&store).await;
}

#[tokio::test]
async fn an_s3_bucket_store_keeps_what_was_finished() {
    let moto = Moto::start();
    moto.bucket("meridian-sg-files").await;
    let store = Store::open(&StoreConfig::S3 {
        bucket: "meridian-sg-files".into(),
        region: "ap-southeast-1".into(),
        endpoint: Some(moto.endpoint()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    })
    .unwrap();
    keeps_what_was_finished_and_nothing_else(&store).await;
    // A missing bucket is an error, not an empty store.
    let missing = Store::open(&StoreConfig::S3 {
        bucket: "no-such-bucket".into(),
        region: "ap-southeast-1".into(),
        endpoint: Some(moto.endpoint()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    })
    .unwrap();
    let mut upload = missing.upload(ObjectName::Original {
        app_key: "k",
        file_id: "f3",
    });
    upload.write(Bytes::from_static(b"x")).await.unwrap();
    assert!(matches!(upload.finish().await, Err(StoreError::Io(_))));
}
