//! The commercial service's official Web SDK, `@rongcloud/imlib-next` 5.38 with
//! `@rongcloud/engine`, installed from npm and unmodified, in Debian's chromium
//! (`tests/commercial_web/imlib_next.mjs`, puppeteer-core) against a `meridian dev`: it
//! finds the edge through Meridian's nav (`navigators`, across origins), connects with a
//! token from the Server API over the commercial protocol (edge/COMMERCIAL-PROTOCOL.md),
//! and exchanges text messages with a client of Meridian's Rust SDK.
//! `scripts/test` installs Node.js, npm and chromium; this test runs `npm ci` in
//! tests/commercial_web when its packages are missing or older than the lock file.
// covers: WEB-06

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{binary, text, Api};
use meridian_client::Connection;
use meridian_proto::ServerFrame;
use meridian_testkit::DevDeployment;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The browser starts, loads the SDK, asks nav and connects within this.
const WAIT: Duration = Duration::from_secs(60);

fn page_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/commercial_web")
}

/// The page's script, reporting one JSON event per line.
struct Page {
    child: Child,
    events: Lines<BufReader<ChildStdout>>,
}

impl Page {
    async fn start(script: &str, nav: &str, api: &Api, token: &str, peer: &str) -> Self {
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(page_dir())
            .env("NAV", nav)
            .env("APP_KEY", &api.key)
            .env("TOKEN", token)
            .env("PEER", peer)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node (scripts/test installs Node.js)");
        let events = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self { child, events }
    }

    /// The next event named `name`; the script's errors fail the test.
    async fn event(&mut self, name: &str) -> Value {
        loop {
            let line = tokio::time::timeout(WAIT, self.events.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within {WAIT:?}"))
                .expect("the script's output")
                .unwrap_or_else(|| panic!("the script ended before {name}"));
            let event: Value = serde_json::from_str(&line).expect("a JSON line");
            match event["event"].as_str() {
                Some(found) if found == name => return event,
                Some("error") => panic!("the page failed: {event}"),
                _ => continue,
            }
        }
    }

    async fn quit(mut self) {
        let mut stdin = self.child.stdin.take().expect("stdin");
        stdin.write_all(b"quit\n").await.expect("quit");
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the script ends")
            .expect("its status");
        assert!(status.success(), "the script failed: {status}");
    }
}

async fn message(connection: &mut Connection) -> meridian_client::MessageBody {
    loop {
        match connection.next_within(WAIT).await.expect("a frame") {
            ServerFrame::Message(body) => return body,
            ServerFrame::Synced { .. } | ServerFrame::Ack { .. } => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_official_imlib_next_in_chromium_chats_with_a_meridian_client() {
    common::npm_install(&page_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut alice = common::connect(&ws, &api, "alice", "alice-phone", "iOS", None).await;
    common::synced(&mut alice).await;

    let nav = dev.endpoints["nav"][0].as_str().expect("a nav");
    let token = api.token("bob").await;
    let mut page = Page::start("imlib_next.mjs", nav, &api, &token, "alice").await;
    assert_eq!(page.event("connected").await["userId"], "bob");

    // The page sends; the Meridian client receives it.
    let sent = page.event("sent").await;
    let got = message(&mut alice).await;
    assert_eq!(Some(got.msg_uid.as_str()), sent["messageUId"].as_str());
    assert_eq!(
        (got.sender_user_id.as_str(), got.object_name.as_str()),
        ("bob", "RC:TxtMsg")
    );
    let content: Value = serde_json::from_str(&got.content).expect("JSON content");
    assert_eq!(content["content"], "hello from imlib-next");

    // The Meridian client answers; the page receives it.
    alice
        .send(&text("a1", 1, "bob", r#"{"content":"hi from meridian"}"#))
        .await
        .unwrap();
    let reply_uid = loop {
        match alice.next_within(WAIT).await.expect("ack") {
            ServerFrame::Ack { msg_uid, .. } => break msg_uid,
            ServerFrame::Message(_) | ServerFrame::Synced { .. } => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    };
    let received = page.event("received").await;
    assert_eq!(received["messageUId"], reply_uid.as_str());
    assert_eq!(received["senderUserId"], "alice");
    assert_eq!(received["content"]["content"], "hi from meridian");
    page.quit().await;
}
