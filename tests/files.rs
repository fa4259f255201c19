//! The file service through a real `meridian dev` (FILE-01..03): a photo uploaded by one
//! user reaches another as an `RC:ImgMsg` whose link serves the identical bytes, with a
//! thumbnail and a preview; a video's length, size and first frame are read; links are
//! signed and expire; limits and quotas refuse before anything is stored.

mod common;

use std::io::Cursor;

use bytes::Bytes;
use common::{admin_json, binary, connect, synced, Api, FRAME_WAIT};
use image::{ImageFormat, RgbImage};
use meridian_client::files;
use meridian_files::store::sha256_hex;
use meridian_proto::files::{FileKind, Uploaded};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_testkit::{eventually, raw_http, raw_http_with_head, DevDeployment, Moto};
use serde_json::{json, Value};

/// Sweeps run every 200 ms in these tests; a file kept 1 s is gone well within this.
const SWEPT_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

fn png(width: u32, height: u32) -> Bytes {
    let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 99]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    Bytes::from(out.into_inner())
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String, Bytes) {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let (answer, head) = raw_http_with_head(url, "GET", &headers, b"").await;
    (answer.status, head.to_ascii_lowercase(), answer.body)
}

/// `POST /files/v1/grants` as a user; the status and the answer.
async fn grant(edge: &str, token: &str, body: Value) -> (u16, Value) {
    let headers = vec![("Authorization".to_string(), format!("Bearer {token}"))];
    let (answer, _) = raw_http_with_head(
        &format!("{edge}/files/v1/grants"),
        "POST",
        &headers,
        body.to_string().as_bytes(),
    )
    .await;
    (
        answer.status,
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
    )
}

// covers: FILE-01, FILE-02, FILE-03
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_travels_from_upload_to_message_to_identical_download() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let edge = files::edge_base(&ws);
    let alice_token = api.token("alice").await;

    // Upload a 2000×1000 photo: it gets a thumbnail and a preview.
    let photo = png(2000, 1000);
    let uploaded = files::upload(
        &edge,
        &alice_token,
        FileKind::Image,
        "beach.png",
        "image/png",
        None,
        photo.clone(),
    )
    .await
    .expect("upload");
    assert_eq!(uploaded.size, photo.len() as u64);
    assert_eq!(uploaded.sha256, sha256_hex(&photo));
    assert_eq!((uploaded.width, uploaded.height), (Some(2000), Some(1000)));
    let thumbnail = base64_decode(uploaded.thumbnail.as_deref().expect("thumbnail"));
    let thumbnail = image::load_from_memory(&thumbnail).expect("a JPEG thumbnail");
    assert_eq!((thumbnail.width(), thumbnail.height()), (240, 120));

    // Sent as an image message, it reaches bob, whose download of the link is identical.
    let mut alice = connect(&ws, &api, "alice", "alice-phone", "iOS", None).await;
    synced(&mut alice).await;
    let mut bob = connect(&ws, &api, "bob", "bob-phone", "Android", None).await;
    synced(&mut bob).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "img-1".into(),
            conversation_type: 1,
            target_id: "bob".into(),
            channel_id: String::new(),
            object_name: FileKind::Image.object_name().into(),
            content: files::message_content(&uploaded).to_string(),
            push_content: None,
            push_data: None,
            to_user_ids: Vec::new(),
        })
        .await
        .unwrap();
    let received = loop {
        match bob
            .next_within(FRAME_WAIT)
            .await
            .expect("the image message")
        {
            ServerFrame::Message(message) => break message,
            _ => continue,
        }
    };
    assert_eq!(received.object_name, "RC:ImgMsg");
    let content: Value = serde_json::from_str(&received.content).unwrap();
    let link = content["imageUri"].as_str().expect("imageUri").to_string();
    let downloaded = files::download(&link, None).await.expect("download");
    assert_eq!(sha256_hex(&downloaded), uploaded.sha256);

    // The preview is a 1080-wide JPEG.
    let preview = files::download(uploaded.preview_url.as_deref().expect("preview"), None)
        .await
        .unwrap();
    let preview = image::load_from_memory(&preview).expect("a JPEG preview");
    assert_eq!((preview.width(), preview.height()), (1080, 540));

    // One byte range, with its headers; a range past the end is refused.
    let (status, head, body) = get(&link, &[("Range", "bytes=100-199")]).await;
    assert_eq!(status, 206, "{head}");
    assert_eq!(&body[..], &photo[100..200]);
    assert!(
        head.contains(&format!("content-range: bytes 100-199/{}", photo.len())),
        "{head}"
    );
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let (status, head, _) = get(&link, &[("Range", &format!("bytes={}-", photo.len()))]).await;
    assert_eq!(status, 416, "{head}");

    // A tampered link (another file's id, or a changed expiry) is refused.
    let tampered = link.replace(&uploaded.file_id, &"0".repeat(32));
    assert_eq!(get(&tampered, &[]).await.0, 403);
    let expiry = link.split("e=").nth(1).unwrap().split('&').next().unwrap();
    let later = (expiry.parse::<u64>().unwrap() + 1).to_string();
    assert_eq!(get(&link.replace(expiry, &later), &[]).await.0, 403);
    // An expired link, signed as the service signs (see docs/files.md), is refused too.
    let expired_at = 1_000u64;
    let text = format!("file\n{}\n{}\n{expired_at}", api.key, uploaded.file_id);
    let signature = meridian_access::token::sign(&api.secret, &text);
    let expired = format!(
        "{edge}/files/v1/{}/{}?e={expired_at}&s={signature}",
        api.key, uploaded.file_id
    );
    let (status, _, body) = get(&expired, &[]).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    // The same signing with a live expiry is accepted: the refusal above was the expiry.
    let live_at = meridian_clock::now_ms() + 60_000;
    let text = format!("file\n{}\n{}\n{live_at}", api.key, uploaded.file_id);
    let signature = meridian_access::token::sign(&api.secret, &text);
    let live = format!(
        "{edge}/files/v1/{}/{}?e={live_at}&s={signature}",
        api.key, uploaded.file_id
    );
    assert_eq!(get(&live, &[]).await.0, 200);

    // A file downloads as an attachment under its name; the app server uploads too.
    let report = Bytes::from_static(b"%PDF-1.4 quarterly numbers");
    let filed = upload_as_app_server(&api, &edge, "季度报告.pdf", report.clone()).await;
    assert_eq!(filed.kind, FileKind::File);
    let (status, head, body) = get(&filed.url, &[]).await;
    assert_eq!((status, &body[..]), (200, &report[..]));
    assert!(
        head.contains("content-disposition: attachment; filename=\"____.pdf\"; filename*=utf-8''%e5%ad%a3%e5%ba%a6%e6%8a%a5%e5%91%8a.pdf"),
        "{head}"
    );

    // Usage counts both files.
    let path = format!("/admin/v1/apps/{}/file-limits", api.key);
    let (status, budget) = admin_json(&dev, "GET", &path, Value::Null).await;
    assert_eq!(status, 200, "{budget}");
    assert_eq!(
        budget["usage"],
        json!({"bytes": photo.len() + report.len(), "files": 2})
    );

    limits_refuse_before_anything_is_stored(&dev, &api, &edge, &alice_token, &budget).await;
    private_mode_serves_only_the_conversation(&dev, &Api::new(&dev, "SG", "dev"), &edge).await;
}

/// Uploads `bytes` as a user for a conversation: the status and the answer.
async fn upload_for(edge: &str, token: &str, conversation: Value, bytes: &[u8]) -> (u16, Value) {
    let ask = json!({"kind": "file", "size": bytes.len(), "name": "plan.txt",
                     "conversation": conversation});
    let (status, granted) = grant(edge, token, ask).await;
    if status != 200 {
        return (status, granted);
    }
    let url = granted["uploadUrl"].as_str().unwrap();
    let (answer, _) = raw_http_with_head(url, "PUT", &[], bytes).await;
    (
        answer.status,
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
    )
}

/// In private mode a link is not enough: only the uploader, the app server and the
/// members of the conversation the upload was for may fetch the file.
async fn private_mode_serves_only_the_conversation(dev: &DevDeployment, api: &Api, edge: &str) {
    let path = format!("/admin/v1/apps/{}/file-access", api.key);
    let (status, answer) = admin_json(dev, "PUT", &path, json!({"private": "yes"})).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = admin_json(dev, "PUT", &path, json!({"private": true})).await;
    assert_eq!(status, 200, "{answer}");
    let (_, answer) = admin_json(dev, "GET", &path, Value::Null).await;
    assert_eq!(answer["fileAccess"], json!({"private": true}));
    api.ok(
        "/group/create.json",
        "userId=alice&userId=bob&groupId=team&groupName=Team",
    )
    .await;
    let [alice, bob, carol] = [
        api.token("alice").await,
        api.token("bob").await,
        api.token("carol").await,
    ];
    let bearer = |token: &str| format!("Bearer {token}");

    // A user's upload names a conversation it is in.
    let (status, answer) = grant(edge, &alice, json!({"kind": "file", "size": 4})).await;
    assert_eq!(
        (status, &answer["code"]),
        (400, &json!("invalid")),
        "{answer}"
    );
    let (status, answer) =
        upload_for(edge, &carol, json!({"type": 3, "targetId": "team"}), b"x").await;
    assert_eq!(
        (status, &answer["code"]),
        (403, &json!("not_member")),
        "{answer}"
    );
    let (status, answer) =
        upload_for(edge, &alice, json!({"type": 2, "targetId": "team"}), b"x").await;
    assert_eq!(
        (status, &answer["code"]),
        (400, &json!("invalid")),
        "{answer}"
    );

    let plan = b"the plan";
    let (status, in_group) =
        upload_for(edge, &alice, json!({"type": 3, "targetId": "team"}), plan).await;
    assert_eq!(status, 200, "{in_group}");
    let url = in_group["url"].as_str().unwrap();
    assert!(url.contains("&ct=3&c1=team&c2="), "{url}");
    // Without credentials, with a non-member's, or with the link's scope changed: refused.
    assert_eq!(get(url, &[]).await.0, 401);
    let (status, _, body) = get(url, &[("Authorization", &bearer(&carol))]).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let widened = url.replace("c1=team", "c1=other");
    assert_eq!(
        get(&widened, &[("Authorization", &bearer(&carol))]).await.0,
        403
    );
    // A member, the uploader and the app server read it.
    for reader in [bob.as_str(), alice.as_str()] {
        let (status, _, body) = get(url, &[("Authorization", &bearer(reader))]).await;
        assert_eq!((status, &body[..]), (200, &plan[..]));
    }
    assert_eq!(
        files::download(url, Some(&bob))
            .await
            .expect("bob's download"),
        &plan[..]
    );
    let headers = api.headers();
    let app_server: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(get(url, &app_server).await.0, 200);

    // A private conversation's file is for its two users.
    let (status, private) =
        upload_for(edge, &alice, json!({"type": 1, "targetId": "bob"}), plan).await;
    assert_eq!(status, 200, "{private}");
    let url = private["url"].as_str().unwrap();
    assert_eq!(get(url, &[("Authorization", &bearer(&bob))]).await.0, 200);
    assert_eq!(get(url, &[("Authorization", &bearer(&carol))]).await.0, 403);

    // Leaving the group ends a member's access; private mode off, the link is enough.
    api.ok("/group/quit.json", "userId=bob&groupId=team").await;
    let group_url = in_group["url"].as_str().unwrap();
    assert_eq!(
        get(group_url, &[("Authorization", &bearer(&bob))]).await.0,
        403
    );
    let (status, _) = admin_json(dev, "PUT", &path, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(get(group_url, &[]).await.0, 200);

    media_follow_history_and_their_uploader(dev, api, edge).await;
}

/// The expiry a link carries.
fn link_expiry(url: &str) -> u64 {
    let e = url.split("e=").nth(1).unwrap().split('&').next().unwrap();
    e.parse().unwrap()
}

/// A file sent in a conversation lives no longer than the conversation type's history,
/// and erasing a user forgets what it uploaded.
async fn media_follow_history_and_their_uploader(dev: &DevDeployment, api: &Api, edge: &str) {
    let hank = api.token("hank").await;
    let day_ms = 24 * 3600 * 1000;
    let started = meridian_clock::now_ms();
    // An ultra group keeps 7 days of history by default; a file for no conversation, the
    // app's 180-day link lifetime.
    let (status, in_ultra) = upload_for(
        edge,
        &hank,
        json!({"type": 10, "targetId": "hub"}),
        b"notes",
    )
    .await;
    assert_eq!(status, 200, "{in_ultra}");
    let unscoped = upload_kept(edge, &hank, "loose.txt", None).await;
    let uploaded_between = started..=meridian_clock::now_ms();
    let ultra_expiry = link_expiry(in_ultra["url"].as_str().unwrap());
    assert!(
        uploaded_between.contains(&(ultra_expiry - 7 * day_ms)),
        "{ultra_expiry}"
    );
    let loose_expiry = link_expiry(&unscoped.url);
    assert!(
        uploaded_between.contains(&(loose_expiry - 180 * day_ms)),
        "{loose_expiry}"
    );

    let path = format!("/admin/v1/apps/{}/file-limits", api.key);
    let (_, before) = admin_json(dev, "GET", &path, Value::Null).await;
    assert_eq!(get(&unscoped.url, &[]).await.0, 200);
    api.ok("/user/delusers.json", "userId=hank").await;
    for url in [&unscoped.url, in_ultra["url"].as_str().unwrap()] {
        let (status, _, body) = get(url, &[]).await;
        assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    }
    let (_, after) = admin_json(dev, "GET", &path, Value::Null).await;
    let freed = unscoped.size + 5;
    assert_eq!(
        after["usage"]["bytes"].as_u64().unwrap(),
        before["usage"]["bytes"].as_u64().unwrap() - freed
    );
}

/// Over a kind's limit or the quota, nothing is stored and usage does not move.
async fn limits_refuse_before_anything_is_stored(
    dev: &DevDeployment,
    api: &Api,
    edge: &str,
    token: &str,
    budget: &Value,
) {
    let path = format!("/admin/v1/apps/{}/file-limits", api.key);
    let used = budget["usage"]["bytes"].as_u64().unwrap();
    for bad in [
        json!({"maxBytes": {"image": 0}}),
        json!({"quotaBytes": 0}),
        json!({"linkValidDays": 0}),
        json!({"quota": 1}),
    ] {
        let (status, answer) = admin_json(dev, "PUT", &path, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let limits = json!({"maxBytes": {"image": 1000, "file": 100}, "quotaBytes": used + 150});
    let (status, answer) = admin_json(dev, "PUT", &path, limits).await;
    assert_eq!(status, 200, "{answer}");

    // At the edge of a kind's limit: 100 bytes of file is granted, 101 is not.
    let (status, answer) = grant(
        edge,
        token,
        json!({"kind": "file", "size": 101, "name": "a.bin"}),
    )
    .await;
    assert_eq!(
        (status, &answer["code"], &answer["limit"]),
        (413, &json!("too_large"), &json!(100)),
        "{answer}"
    );
    let (status, granted) = grant(
        edge,
        token,
        json!({"kind": "file", "size": 100, "name": "a.bin"}),
    )
    .await;
    assert_eq!(status, 200, "{granted}");
    // Sending more than granted is refused before a byte is stored.
    let upload_url = granted["uploadUrl"].as_str().unwrap();
    let (answer, _) = raw_http_with_head(upload_url, "PUT", &[], &[7u8; 101]).await;
    assert_eq!(answer.status, 413, "{}", answer.text());
    let files_dir = dev
        .endpoints_file
        .parent()
        .unwrap()
        .join("SG")
        .join("files")
        .join(&api.key);
    let file_id = granted["fileId"].as_str().unwrap();
    assert!(!files_dir.join(file_id).exists());
    // Over the quota: 150 bytes remain, so 151 is refused at the grant.
    let (status, answer) = grant(edge, token, json!({"kind": "image", "size": 151})).await;
    assert_eq!(
        (status, &answer["code"]),
        (403, &json!("quota")),
        "{answer}"
    );
    // Not an image: refused, nothing kept.
    let (status, granted) = grant(edge, token, json!({"kind": "image", "size": 12})).await;
    assert_eq!(status, 200, "{granted}");
    let (answer, _) = raw_http_with_head(
        granted["uploadUrl"].as_str().unwrap(),
        "PUT",
        &[],
        b"not an image",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(!files_dir.join(granted["fileId"].as_str().unwrap()).exists());
    // A bad token gets no grant.
    let (status, _) = grant(edge, "bm90IGEgdG9rZW4", json!({"kind": "file", "size": 1})).await;
    assert_eq!(status, 401);

    let (_, after) = admin_json(dev, "GET", &path, Value::Null).await;
    assert_eq!(after["usage"], budget["usage"]);
}

// covers: FILE-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_files_and_orphaned_objects_are_swept() {
    let dev = DevDeployment::start_with(binary(), "SG", 1, &["--file-sweep-ms", "200"]).await;
    let api = Api::new(&dev, "SG", "prod");
    let edge = files::edge_base(&dev.ws("SG"));
    let token = api.token("alice").await;
    let store_dir = dev
        .endpoints_file
        .parent()
        .unwrap()
        .join("SG")
        .join("files");

    // A lifetime is 1 second up to the app's link lifetime (180 days by default).
    let lifetime = 180 * 24 * 3600;
    for bad in [0, lifetime + 1] {
        let ask = json!({"kind": "file", "size": 5, "name": "a.txt", "keepSeconds": bad});
        let (status, answer) = grant(&edge, &token, ask).await;
        assert_eq!(
            (status, &answer["code"]),
            (400, &json!("invalid")),
            "{answer}"
        );
    }
    let short = upload_kept(&edge, &token, "short.txt", Some(1)).await;
    let kept = upload_kept(&edge, &token, "kept.txt", None).await;
    let app_dir = store_dir.join(&api.key);
    assert!(app_dir.join(&short.file_id).exists());

    // Objects without a record: a day old (one of this app, one of an app long gone)
    // and a young one, whose upload may still be recording it.
    let two_days_ago = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(meridian_clock::now_ms() - 2 * 24 * 3600 * 1000);
    let orphan = |dir: &std::path::Path, id: &str, old: bool| {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(id);
        let file = std::fs::File::create(&path).unwrap();
        if old {
            file.set_modified(two_days_ago).unwrap();
        }
        path
    };
    let old_orphan = orphan(&app_dir, &"a".repeat(32), true);
    let gone_app_orphan = orphan(&store_dir.join("goneapp01"), &"b".repeat(32), true);
    let young_orphan = orphan(&app_dir, &"c".repeat(32), false);
    // Chunks of resumable uploads: one a day old (never finished), one in progress.
    let first_part = "0".repeat(20);
    let stale_part = orphan(
        &app_dir.join(format!("{}.parts", "d".repeat(32))),
        &first_part,
        true,
    );
    let young_part = orphan(
        &app_dir.join(format!("{}.parts", "e".repeat(32))),
        &first_part,
        false,
    );

    // The sweep (every 200 ms here) removes the expired file and the old orphans.
    let swept = || {
        !app_dir.join(&short.file_id).exists()
            && !old_orphan.exists()
            && !gone_app_orphan.exists()
            && !stale_part.exists()
    };
    eventually(SWEPT_WITHIN, "the sweep", || async {
        swept().then_some(())
    })
    .await;
    assert!(app_dir.join(&kept.file_id).exists());
    assert!(young_orphan.exists());
    assert!(young_part.exists());
    assert_eq!(get(&kept.url, &[]).await.0, 200);
    // The expired file's bytes are back in the quota once its record is forgotten.
    let path = format!("/admin/v1/apps/{}/file-limits", api.key);
    let usage = json!({"bytes": kept.size, "files": 1});
    eventually(SWEPT_WITHIN, "usage without the expired file", || async {
        let (_, budget) = admin_json(&dev, "GET", &path, Value::Null).await;
        (budget["usage"] == usage).then_some(())
    })
    .await;
    let metrics_url = dev.endpoints["areas"]["SG"]["edges"][0]["metrics"]
        .as_str()
        .unwrap()
        .to_string();
    // Counted once each, by reason (a chunk is counted after its objects are deleted).
    let series = [("expired", 1), ("orphan", 2), ("stale_part", 1)].map(|(reason, files)| {
        format!("meridian_edge_files_swept_total{{area=\"SG\",reason=\"{reason}\"}} {files}\n")
    });
    eventually(SWEPT_WITHIN, "the sweep's counters", || async {
        let metrics = raw_http(&metrics_url, "GET", &[], b"").await.text();
        series
            .iter()
            .all(|s| metrics.contains(s.as_str()))
            .then_some(())
    })
    .await;
}

// covers: FILE-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_whose_files_are_in_an_s3_bucket_serves_them_as_a_local_one_does() {
    let moto = Moto::start();
    moto.bucket("meridian-sg-files").await;
    let s3 = format!("http://testing:testing@127.0.0.1:{}", moto.port);
    let dev = DevDeployment::start_with(binary(), "SG", 1, &["--files-s3", &s3]).await;
    let api = Api::new(&dev, "SG", "prod");
    let edge = files::edge_base(&dev.ws("SG"));
    let token = api.token("alice").await;

    // A photo: its thumbnail and preview, the identical bytes back, one range.
    let photo = png(1600, 900);
    let kind = FileKind::Image;
    let uploaded = files::upload(
        &edge,
        &token,
        kind,
        "p.png",
        "image/png",
        None,
        photo.clone(),
    )
    .await
    .expect("upload");
    assert_eq!(uploaded.sha256, sha256_hex(&photo));
    assert!(uploaded.thumbnail.is_some());
    assert_eq!(files::download(&uploaded.url, None).await.unwrap(), photo);
    let preview = files::download(uploaded.preview_url.as_deref().unwrap(), None)
        .await
        .unwrap();
    let preview = image::load_from_memory(&preview).expect("a JPEG preview");
    assert_eq!((preview.width(), preview.height()), (1080, 608));
    let (status, _, body) = get(&uploaded.url, &[("Range", "bytes=10-19")]).await;
    assert_eq!((status, &body[..]), (206, &photo[10..20]));

    // A resumable upload: its chunks wait in the bucket until the last one.
    let payload: Vec<u8> = (0..(3 << 20) + 7).map(|i| (i % 241) as u8).collect();
    let ask = json!({"kind": "file", "size": payload.len(), "name": "big.bin"});
    let (status, granted) = grant(&edge, &token, ask).await;
    assert_eq!(status, 200, "{granted}");
    let url = granted["uploadUrl"].as_str().unwrap();
    let half = payload.len() / 2;
    let (status, answer) = put_chunk(url, 0, &payload[..half], payload.len()).await;
    assert_eq!(
        (status, &answer["received"]),
        (202, &json!(half)),
        "{answer}"
    );
    assert_eq!(received(url).await, half);
    let (status, big) = put_chunk(url, half, &payload[half..], payload.len()).await;
    assert_eq!(status, 200, "{big}");
    let link = big["url"].as_str().unwrap();
    assert_eq!(files::download(link, None).await.unwrap(), payload);

    // The objects are in the bucket, the parts gone; nothing went to the local disk.
    let bucket = meridian_files::Store::open(&meridian_files::StoreConfig::S3 {
        bucket: "meridian-sg-files".into(),
        region: "us-east-1".into(),
        endpoint: Some(moto.endpoint()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    })
    .unwrap();
    let sizes = [
        (&uploaded.file_id[..], photo.len()),
        (big["fileId"].as_str().unwrap(), payload.len()),
    ];
    for (file_id, size) in sizes {
        let app_key = api.key.as_str();
        let object = meridian_files::ObjectName::Original { app_key, file_id };
        assert_eq!(bucket.size(object).await.unwrap(), size as u64);
        assert_eq!(bucket.parts(app_key, file_id).await.unwrap(), []);
    }
    let local = dev
        .endpoints_file
        .parent()
        .unwrap()
        .join("SG")
        .join("files");
    assert!(!local.exists(), "{}", local.display());
}

/// PUTs one chunk of a resumable upload: the status and the answer.
async fn put_chunk(upload_url: &str, first: usize, bytes: &[u8], total: usize) -> (u16, Value) {
    let last = first + bytes.len() - 1;
    let range = vec![(
        "Content-Range".to_string(),
        format!("bytes {first}-{last}/{total}"),
    )];
    let (answer, _) = raw_http_with_head(upload_url, "PUT", &range, bytes).await;
    (
        answer.status,
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
    )
}

async fn received(upload_url: &str) -> Value {
    let (answer, _) = raw_http_with_head(upload_url, "GET", &[], b"").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_slice::<Value>(&answer.body).unwrap()["received"].clone()
}

// covers: FILE-01, FILE-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumable_upload_keeps_every_acknowledged_chunk_across_a_killed_deployment() {
    let mut dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let edge = files::edge_base(&dev.ws("SG"));
    let token = api.token("alice").await;
    const MIB: usize = 1 << 20;
    let payload: Vec<u8> = (0..3 * MIB + 123).map(|i| (i % 253) as u8).collect();
    let total = payload.len();
    let ask = json!({"kind": "file", "size": total, "name": "backup.tar"});
    let (status, granted) = grant(&edge, &token, ask).await;
    assert_eq!(status, 200, "{granted}");
    let url = granted["uploadUrl"].as_str().unwrap().to_string();
    assert_eq!(received(&url).await, 0);

    // A chunk is held once acknowledged; sent again, it changes nothing.
    for _ in 0..2 {
        let (status, answer) = put_chunk(&url, 0, &payload[..MIB], total).await;
        assert_eq!(
            (status, &answer["received"]),
            (202, &json!(MIB)),
            "{answer}"
        );
    }
    // Out of order, past the grant, malformed or longer than its range: refused.
    let (status, answer) = put_chunk(&url, 2 * MIB, &payload[2 * MIB..], total).await;
    assert_eq!(
        (status, &answer["code"], &answer["received"]),
        (409, &json!("offset"), &json!(MIB))
    );
    let (status, answer) = put_chunk(&url, MIB, &payload[MIB..2 * MIB], total + 1).await;
    assert_eq!(
        (status, &answer["code"]),
        (413, &json!("too_large")),
        "{answer}"
    );
    for range in ["bytes 5-1/10", "bytes 0-9", "items 0-9/10"] {
        let header = vec![("Content-Range".to_string(), range.to_string())];
        let (answer, _) = raw_http_with_head(&url, "PUT", &header, b"0123456789").await;
        assert_eq!(answer.status, 400, "{range}: {}", answer.text());
    }
    let header = vec![(
        "Content-Range".to_string(),
        format!("bytes {MIB}-{}/{total}", MIB + 9),
    )];
    let (answer, _) = raw_http_with_head(&url, "PUT", &header, &[1u8; 11]).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(received(&url).await, MIB);

    // The deployment dies while the second chunk is half sent: the first is still held.
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let path = &url[url.find("/files/").unwrap()..];
    let mut half_sent = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Range: bytes {MIB}-{}/{total}\r\nContent-Length: {MIB}\r\n\r\n",
        2 * MIB - 1
    );
    use tokio::io::AsyncWriteExt;
    half_sent.write_all(head.as_bytes()).await.unwrap();
    half_sent
        .write_all(&payload[MIB..MIB + MIB / 2])
        .await
        .unwrap();
    half_sent.flush().await.unwrap();
    dev.kill_and_restart().await;
    drop(half_sent);
    assert_eq!(received(&url).await, MIB);

    // The rest goes up; the last chunk answers as a whole upload does.
    let (status, answer) = put_chunk(&url, MIB, &payload[MIB..2 * MIB], total).await;
    assert_eq!(
        (status, &answer["received"]),
        (202, &json!(2 * MIB)),
        "{answer}"
    );
    let (status, uploaded) = put_chunk(&url, 2 * MIB, &payload[2 * MIB..], total).await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["sha256"], json!(sha256_hex(&payload)));
    assert_eq!(uploaded["size"], json!(total));
    let link = uploaded["url"].as_str().unwrap();
    let downloaded = files::download(link, None).await.expect("download");
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&payload));
    // The parts are gone; the last chunk sent again (its answer lost) gets the same file,
    // and the upload says all of it is held.
    let (status, again) = put_chunk(&url, 2 * MIB, &payload[2 * MIB..], total).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["fileId"], &again["url"]),
        (&uploaded["fileId"], &uploaded["url"])
    );
    assert_eq!(received(&url).await, total);
    // So is a whole upload sent twice.
    let ask = json!({"kind": "file", "size": 5, "name": "twice.txt"});
    let (_, granted) = grant(&edge, &token, ask).await;
    let once_url = granted["uploadUrl"].as_str().unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let (answer, _) = raw_http_with_head(once_url, "PUT", &[], b"hello").await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        answers.push(serde_json::from_slice::<Value>(&answer.body).unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    // The app's usage counts each file once.
    let path = format!("/admin/v1/apps/{}/file-limits", api.key);
    let (_, budget) = admin_json(&dev, "GET", &path, Value::Null).await;
    assert_eq!(budget["usage"], json!({"bytes": total + 5, "files": 2}));
}

/// Uploads a small text file as a user, kept `keep_seconds` when given.
async fn upload_kept(edge: &str, token: &str, name: &str, keep_seconds: Option<u64>) -> Uploaded {
    let ask = json!({"kind": "file", "size": 5, "name": name, "keepSeconds": keep_seconds});
    let (status, granted) = grant(edge, token, ask).await;
    assert_eq!(status, 200, "{granted}");
    let url = granted["uploadUrl"].as_str().unwrap();
    let (answer, _) = raw_http_with_head(url, "PUT", &[], b"hello").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_slice(&answer.body).unwrap()
}

async fn upload_as_app_server(api: &Api, edge: &str, name: &str, bytes: Bytes) -> Uploaded {
    let body = json!({"kind": "file", "size": bytes.len(), "name": name, "contentType": "application/pdf"});
    let (answer, _) = raw_http_with_head(
        &format!("{edge}/files/v1/grants"),
        "POST",
        &api.headers(),
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let grant: Value = serde_json::from_slice(&answer.body).unwrap();
    let (answer, _) =
        raw_http_with_head(grant["uploadUrl"].as_str().unwrap(), "PUT", &[], &bytes).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_slice(&answer.body).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

// covers: FILE-03
#[tokio::test]
async fn a_video_gets_its_length_size_and_first_frame_and_unreadable_bytes_are_still_stored() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let edge = files::edge_base(&dev.ws("SG"));
    let token = api.token("alice").await;

    // Two seconds of ffmpeg's test picture, 320×240.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg("testsrc=duration=2:size=320x240:rate=25")
        .args(["-c:v", "mpeg4", "-f", "mp4"])
        .arg(&path)
        .status()
        .expect("ffmpeg (scripts/test installs it)");
    assert!(made.success());
    let clip = Bytes::from(std::fs::read(&path).unwrap());
    let upload = |name: &'static str, bytes: Bytes| {
        let (edge, token) = (edge.clone(), token.clone());
        async move {
            files::upload(
                &edge,
                &token,
                FileKind::Video,
                name,
                "video/mp4",
                None,
                bytes,
            )
            .await
            .expect("upload")
        }
    };
    let uploaded = upload("clip.mp4", clip.clone()).await;
    assert_eq!(uploaded.sha256, sha256_hex(&clip));
    let duration = uploaded.duration_ms.expect("a length");
    assert!((1900..=2100).contains(&duration), "{duration} ms");
    assert_eq!((uploaded.width, uploaded.height), (Some(320), Some(240)));
    let frame = base64_decode(uploaded.thumbnail.as_deref().expect("a first frame"));
    let frame = image::load_from_memory(&frame).expect("a JPEG first frame");
    assert_eq!((frame.width(), frame.height()), (240, 180));
    // The sight message carries them as the commercial SDKs read it.
    let content = files::message_content(&uploaded);
    assert_eq!(content["duration"], 2);
    assert_eq!(content["content"], uploaded.thumbnail.clone().unwrap());

    // Bytes no tool can read are stored all the same, with nothing read from them.
    let garbage = Bytes::from_static(b"not a video at all");
    let kept = upload("broken.mp4", garbage.clone()).await;
    assert_eq!(kept.size, garbage.len() as u64);
    assert_eq!(
        (kept.duration_ms, kept.thumbnail, kept.width),
        (None, None, None)
    );
    assert_eq!(
        files::download(&kept.url, None).await.expect("download"),
        garbage
    );
}
