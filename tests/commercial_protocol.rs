//! The commercial SDKs' protocol (edge/COMMERCIAL-PROTOCOL.md) at a real `meridian dev`
//! edge, spoken by a raw client built on `meridian-rmtp`, beside a JSON client of the
//! Rust SDK on the same `/websocket`: connect and its refusal codes, ping, a private send
//! and its PUBACK, the "notify then pull" delivery from the feed position, status messages
//! pushed whole, the kick of a session logged in elsewhere, and a malformed frame ending
//! the session with nothing stored.
// covers: WEB-06

mod common;

use std::time::Duration;

use common::{binary, text, Api};
use futures::{SinkExt, StreamExt};
use meridian_client::Connection;
use meridian_proto::ServerFrame as Json;
use meridian_rmtp::body::{self, DownStreamMessages, NotifyMsg, SyncRequestMsg, UpStreamMessage};
use meridian_rmtp::{ClientFrame, ConnAckLayout, Flags, Request, ServerFrame};
use meridian_testkit::DevDeployment;
use prost::Message as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);

/// A client speaking the commercial protocol, as the Web SDK does.
struct Rmtp {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u16,
}

impl Rmtp {
    /// Opens `/websocket` with the SDK's query; the edge answers with a CONNACK.
    async fn open(ws: &str, app_key: &str, token: &str, device: &str) -> (Self, ServerFrame) {
        let url = format!(
            "{ws}?appId={app_key}&token={}&sdkVer=5.38.0&pid=&deviceId={device}&apiVer=browser%7C%7C&protocolVer=3",
            token.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
        );
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        let mut client = Self { ws, next_id: 0 };
        let ack = client.next().await.expect("a CONNACK");
        (client, ack)
    }

    async fn send(&mut self, frame: ClientFrame) {
        let bytes = frame.encode().expect("encodable");
        self.send_bytes(bytes).await;
    }

    async fn send_bytes(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(WsMessage::Binary(bytes.into()))
            .await
            .expect("sent");
    }

    fn request(&mut self, topic: &str, target: &str, body: Vec<u8>) -> Request {
        self.next_id += 1;
        Request {
            flags: Flags {
                qos: 1,
                ..Flags::default()
            },
            topic: topic.into(),
            target_id: target.into(),
            message_id: self.next_id,
            body,
        }
    }

    /// The next frame, or `None` once the edge closed the socket.
    async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time");
            match message {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    return Some(ServerFrame::decode(&bytes, ConnAckLayout::Plain).expect("frame"))
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends a private text to `peer`; the PUBACK's (status, msgUId).
    async fn send_text(&mut self, peer: &str, content: &str, unique: i64) -> (u16, String) {
        let up = UpStreamMessage {
            session_id: body::up_flags::PERSISTED | body::up_flags::COUNTED,
            classname: "RC:TxtMsg".into(),
            content: content.into(),
            push_text: None,
            app_data: None,
            to_user_ids: vec![],
            client_unique_id: Some(unique),
            bus_channel: None,
        };
        let request = self.request("ppMsgP", peer, up.encode_to_vec());
        let id = request.message_id;
        self.send(ClientFrame::Publish(request)).await;
        match self.next().await {
            Some(ServerFrame::PubAck {
                message_id,
                status,
                msg_uid,
                ..
            }) if message_id == id => (status, msg_uid),
            other => panic!("expected the PUBACK of {id}, got {other:?}"),
        }
    }

    /// Pulls after `sync_time`.
    async fn pull(&mut self, user: &str, sync_time: i64) -> DownStreamMessages {
        let body = SyncRequestMsg {
            sync_time,
            ispolling: false,
        };
        let request = self.request("pullMsg", user, body.encode_to_vec());
        let id = request.message_id;
        self.send(ClientFrame::Query(request)).await;
        match self.next().await {
            Some(ServerFrame::QueryAck {
                message_id,
                status: 0,
                body,
                ..
            }) if message_id == id => DownStreamMessages::decode(body.as_slice()).expect("body"),
            other => panic!("expected the QUERYACK of {id}, got {other:?}"),
        }
    }
}

async fn json_message(connection: &mut Connection) -> meridian_client::MessageBody {
    loop {
        match connection.next_within(WAIT).await.expect("a frame") {
            Json::Message(body) => return body,
            Json::Synced { .. } => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

struct Area {
    api: Api,
    ws: String,
}

impl Area {
    async fn start() -> (DevDeployment, Self) {
        let dev = DevDeployment::start(binary(), "SG", 1).await;
        let area = Self {
            api: Api::new(&dev, "SG", "prod"),
            ws: dev.ws("SG"),
        };
        (dev, area)
    }

    async fn rmtp(&self, user: &str, device: &str) -> Rmtp {
        let token = self.api.token(user).await;
        let (client, ack) = Rmtp::open(&self.ws, &self.api.key, &token, device).await;
        match ack {
            ServerFrame::ConnAck(ack) => {
                assert_eq!(ack.status, 0, "{ack:?}");
                assert_eq!(ack.accepted.expect("accepted").user_id, user);
            }
            other => panic!("expected a CONNACK, got {other:?}"),
        }
        client
    }
}

#[tokio::test]
async fn a_commercial_client_connects_sends_and_pulls_beside_a_json_client() {
    let (_dev, area) = Area::start().await;

    // A token that does not verify: CONNACK status 4 (the SDK's 31004), then the close.
    let (mut refused, ack) = Rmtp::open(&area.ws, &area.api.key, "not-a-token", "d0").await;
    let ServerFrame::ConnAck(ack) = ack else {
        panic!("expected a CONNACK, got {ack:?}");
    };
    assert_eq!((ack.status, ack.accepted), (4, None));
    assert_eq!(refused.next().await, None);

    let mut bob = common::connect(&area.ws, &area.api, "bob", "bob-phone", "iOS", None).await;
    common::synced(&mut bob).await;
    let mut alice = area.rmtp("alice", "alice-web").await;

    alice.send(ClientFrame::PingReq).await;
    assert_eq!(alice.next().await, Some(ServerFrame::PingResp));

    // The commercial client sends; the JSON client receives it once committed.
    let (status, msg_uid) = alice.send_text("bob", r#"{"content":"hi bob"}"#, 1).await;
    assert_eq!(status, 0);
    let got = json_message(&mut bob).await;
    assert_eq!(
        (
            got.msg_uid.as_str(),
            got.sender_user_id.as_str(),
            got.content.as_str()
        ),
        (msg_uid.as_str(), "alice", r#"{"content":"hi bob"}"#)
    );
    // Sent again with the same unique id (a retry): the same message, stored once.
    let (_, again) = alice.send_text("bob", r#"{"content":"hi bob"}"#, 1).await;
    assert_eq!(again, msg_uid);

    // The JSON client answers: the commercial one hears "pull up to here", pulls from its
    // sync time and gets the reply, once.
    bob.send(&text("b1", 1, "alice", r#"{"content":"hi alice"}"#))
        .await
        .unwrap();
    let reply_uid = loop {
        match bob.next_within(WAIT).await.expect("ack") {
            Json::Ack { msg_uid, .. } => break msg_uid,
            Json::Message(_) => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    };
    let Some(ServerFrame::Publish { topic, body, .. }) = alice.next().await else {
        panic!("expected a notice");
    };
    assert_eq!(topic, "s_ntf");
    let notice = NotifyMsg::decode(body.as_slice()).unwrap();
    assert_eq!(notice.r#type, body::NOTIFY_NEW_MESSAGES);
    let pulled = alice.pull("alice", 0).await;
    let uids: Vec<_> = pulled
        .list
        .iter()
        .map(|m| m.msg_id.clone().unwrap())
        .collect();
    assert_eq!(
        uids,
        [reply_uid.as_str()],
        "alice's own message is not pulled back"
    );
    let reply = &pulled.list[0];
    assert_eq!(
        (
            reply.from_user_id.as_str(),
            reply.channel_type,
            reply.content.as_str()
        ),
        ("bob", 1, r#"{"content":"hi alice"}"#)
    );
    assert_eq!(
        Some(pulled.sync_time),
        notice.time,
        "the notice names the pull's end"
    );
    // From the new sync time there is nothing more.
    assert!(alice.pull("alice", pulled.sync_time).await.list.is_empty());

    // A status message (typing) is never synced: it comes whole, unstored.
    let mut typing = text("b2", 1, "alice", r#"{"typingContentType":"RC:TxtMsg"}"#);
    if let meridian_proto::ClientFrame::Send { object_name, .. } = &mut typing {
        *object_name = "RC:TypSts".into();
    }
    bob.send(&typing).await.unwrap();
    let Some(ServerFrame::Publish { topic, body, .. }) = alice.next().await else {
        panic!("expected the status message");
    };
    assert_eq!(topic, "s_msg");
    let status = body::DownStreamMessage::decode(body.as_slice()).unwrap();
    assert_eq!(
        (
            status.classname.as_str(),
            status.from_user_id.as_str(),
            status.ext_status
        ),
        ("RC:TypSts", "bob", Some(body::ext_flags::STATUS_MESSAGE))
    );

    // Another device of alice's (a new one pulls from 0) sees both, its own one marked sent.
    // It is a web session too, so it logs the first one out (MSG-02): DISCONNECT 1, the
    // SDK's "logged in elsewhere".
    let mut other = area.rmtp("alice", "alice-laptop").await;
    assert_eq!(
        alice.next().await,
        Some(ServerFrame::Disconnect { status: 1 })
    );
    assert_eq!(alice.next().await, None);
    let all = other.pull("alice", 0).await;
    let seen: Vec<_> = all
        .list
        .iter()
        .map(|m| {
            (
                m.msg_id.clone().unwrap(),
                m.from_user_id.clone(),
                m.direction,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (msg_uid, "bob".to_string(), Some(body::DIRECTION_SENT)),
            (reply_uid, "bob".to_string(), Some(body::DIRECTION_RECEIVED)),
        ]
    );
}

#[tokio::test]
async fn a_malformed_frame_ends_the_session_and_stores_nothing() {
    let (_dev, area) = Area::start().await;
    let mut bob = common::connect(&area.ws, &area.api, "bob", "bob-phone", "iOS", None).await;
    common::synced(&mut bob).await;

    // One of each class: empty, truncated, a type no client sends, bad lengths, a body
    // that is not protobuf. Each gets DISCONNECT (status 2, "exception") and the close.
    let good = ClientFrame::Publish(Request {
        flags: Flags::default(),
        topic: "ppMsgP".into(),
        target_id: "bob".into(),
        message_id: 1,
        body: vec![0x0F],
    })
    .encode()
    .unwrap();
    let bad: [(&str, Vec<u8>); 6] = [
        ("empty", vec![]),
        ("truncated", good[..5].to_vec()),
        ("unknown type", vec![0x20, 0, 0]),
        ("length past the end", vec![0x32, 0, 200, b'p']),
        ("bytes after a ping", vec![0xC0, 1]),
        ("not protobuf", good.clone()),
    ];
    for (class, bytes) in bad {
        let mut alice = area.rmtp("alice", "alice-web").await;
        alice.send_bytes(bytes).await;
        assert_eq!(
            alice.next().await,
            Some(ServerFrame::Disconnect { status: 2 }),
            "{class}"
        );
        assert_eq!(alice.next().await, None, "{class}: the socket closes");
    }

    // Nothing reached bob: the next message he gets is the first good one.
    let mut alice = area.rmtp("alice", "alice-web").await;
    let (_, msg_uid) = alice.send_text("bob", r#"{"content":"fine"}"#, 7).await;
    assert_eq!(json_message(&mut bob).await.msg_uid, msg_uid);
}
