//! covers: NAV-05. Traffic in all five areas, then the residency audit over every data
//! dir finds nothing foreign; a record of another area's app planted in one area's state
//! is found, named with the app's home area.

use std::path::Path;
use std::process::Command;

use meridian_client::server_api::{form, post_form};
use meridian_testkit::DevDeployment;
use serde_json::Value;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

const AREAS: [&str; 5] = ["CN", "SG", "SG-B", "NA", "SA"];

/// Runs the audit; (success, JSON lines).
fn audit(data_dir: &Path) -> (bool, Vec<Value>) {
    let output = Command::new(binary())
        .args(["audit", "residency", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run the audit");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (output.status.success(), lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_in_every_area_stays_home_and_a_planted_foreign_record_is_found() {
    let dev = DevDeployment::start(binary(), &AREAS.join(","), 1).await;
    let mut keys = Vec::new();
    for area in AREAS {
        let (key, secret) = dev.app(area, "prod");
        let api = dev.api(area);
        let call = |path: &'static str, body: String| {
            let (api, key, secret) = (api.clone(), key.clone(), secret.clone());
            async move {
                post_form(&api, &key, &secret, path, &body)
                    .await
                    .unwrap_or_else(|e| panic!("{area} {path}: {e}"))
            }
        };
        for user in ["alice", "bob", "carol"] {
            call("/user/getToken.json", form(&[("userId", user)])).await;
        }
        let text = |n: &str| format!("{{\"content\":\"{area} {n}\"}}");
        call(
            "/message/private/publish.json",
            form(&[
                ("fromUserId", "alice"),
                ("toUserId", "bob"),
                ("objectName", "RC:TxtMsg"),
                ("content", &text("private")),
            ]),
        )
        .await;
        call(
            "/group/create.json",
            form(&[
                ("userId", "alice"),
                ("userId", "bob"),
                ("userId", "carol"),
                ("groupId", "g1"),
                ("groupName", "G"),
            ]),
        )
        .await;
        call(
            "/message/group/publish.json",
            form(&[
                ("fromUserId", "bob"),
                ("toGroupId", "g1"),
                ("objectName", "RC:TxtMsg"),
                ("content", &text("group")),
            ]),
        )
        .await;
        call("/chatroom/create.json", form(&[("chatroom[r1]", "room")])).await;
        call(
            "/message/chatroom/publish.json",
            form(&[
                ("fromUserId", "carol"),
                ("toChatroomId", "r1"),
                ("objectName", "RC:TxtMsg"),
                ("content", &text("chatroom")),
            ]),
        )
        .await;
        call(
            "/ultragroup/create.json",
            form(&[("userId", "alice"), ("groupId", "ug1")]),
        )
        .await;
        // A photo in the area's file store.
        let token = call("/user/getToken.json", form(&[("userId", "alice")])).await;
        let token = token["token"].as_str().expect("token");
        let edge = meridian_client::files::edge_base(&dev.ws(area));
        let bytes = bytes::Bytes::from(format!("{area} minutes").into_bytes());
        let kind = meridian_proto::files::FileKind::File;
        meridian_client::files::upload(&edge, token, kind, "m.txt", "text/plain", None, bytes)
            .await
            .unwrap_or_else(|e| panic!("{area} upload: {e}"));
        keys.push((area, key));
    }
    let data_dir = dev.endpoints_file.parent().unwrap().to_path_buf();
    let (stopped, _kept) = dev.stop_keeping_data();
    assert!(stopped.success());

    let (clean, lines) = audit(&data_dir);
    let summary = lines.last().expect("summary");
    assert!(clean, "{lines:?}");
    assert_eq!(summary["nodes"], 5, "{summary}");
    assert_eq!(summary["apps"], 5, "{summary}");
    assert_eq!(summary["foreign"], 0);
    assert!(summary["bytes"].as_u64().unwrap() > 0);
    assert_eq!(summary["stores"], 5, "{summary}");
    assert_eq!(summary["objects"], 5, "{summary}");

    // Plant a user record of NA's app in SG's state machine.
    let na_key = &keys.iter().find(|(a, _)| *a == "NA").unwrap().1;
    let sled_dir = data_dir
        .join("SG")
        .join("node-1")
        .join("state")
        .join("sled");
    {
        let db = sled::open(&sled_dir).expect("open SG's state");
        let tree = db.open_tree("state").unwrap();
        tree.insert(
            format!("user/{na_key}/mallory").as_bytes(),
            b"planted".as_slice(),
        )
        .unwrap();
        db.flush().unwrap();
    }
    // And an object of NA's app in SG's file store.
    let na_files = data_dir.join("NA").join("files").join(na_key);
    let planted = data_dir.join("SG").join("files").join(na_key);
    std::fs::create_dir_all(&planted).unwrap();
    for object in std::fs::read_dir(&na_files).unwrap() {
        let object = object.unwrap();
        std::fs::copy(object.path(), planted.join(object.file_name())).unwrap();
    }
    let (clean, lines) = audit(&data_dir);
    assert!(!clean, "{lines:?}");
    let findings: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("app_key").is_some())
        .collect();
    assert!(!findings.is_empty(), "{lines:?}");
    let in_store = |f: &&&Value| f["file"].as_str().unwrap().contains("files");
    assert_eq!(findings.iter().filter(in_store).count(), 1, "{lines:?}");
    for finding in &findings {
        assert_eq!(finding["app_key"], na_key.as_str());
        assert_eq!(finding["home"], "NA");
        assert_eq!(finding["node_area"], "SG");
        assert!(
            finding["node"].as_str().unwrap().contains("SG"),
            "{finding}"
        );
    }
}
