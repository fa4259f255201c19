//! The leader's callback dispatcher (HOOK-01, HOOK-03, HOOK-04) and the signature every
//! callback carries (HOOK-05).
//!
//! Jobs wait in the replicated outbox (`state::outbox`). The leader reads them in id
//! order and keeps one job in flight per lane, so each conversation, user and room
//! arrives in order; different lanes go out side by side. The outcome of every attempt
//! is written back through Raft before the lane moves on, so a new leader resumes
//! exactly where the old one had certainly got to: at worst it repeats the job that was
//! in flight, which carries the same `X-Meridian-Event-Id` both times.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meridian_push::{Notification, Outcome, PushClient};
use meridian_rpc::OutboundClient;
use serde_json::json;
use sha1::{Digest, Sha1};
use tokio::sync::mpsc;

use crate::node::NodeCore;
use crate::state::{
    self, AppSettings, ConversationType, Envelope, HookEvent, Job, Message, PushJob, PushProvider,
    Query, QueryOutput,
};

/// The header carrying a job's stable id: a repeated delivery has the same one.
pub const EVENT_ID_HEADER: &str = "x-meridian-event-id";
/// Lanes with a callback in flight at once.
const MAX_IN_FLIGHT: usize = 64;
/// Jobs read per pass: lanes beyond these wait for a later pass.
const PASS_JOBS: usize = 5_000;
/// A pass also runs this often when nothing new arrives (backoffs run out).
const IDLE_PASS: Duration = Duration::from_millis(250);
/// How long an app server may take to answer a callback.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Lowercase hex SHA-1 of `secret + nonce + timestamp`: the Server API's signature
/// (API-02) and the callbacks' (HOOK-05).
pub fn signature(app_secret: &str, nonce: &str, timestamp: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(app_secret.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.update(timestamp.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `url` with the callback signature in its query: `appKey`, `nonce`, `signTimestamp`,
/// `signature` (COMPAT.md, "Callbacks to the app server").
pub fn signed_url(url: &str, app_key: &str, app_secret: &str, now_ms: u64) -> String {
    let nonce = rand::random::<u32>().to_string();
    let timestamp = now_ms.to_string();
    let signature = signature(app_secret, &nonce, &timestamp);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}appKey={app_key}&nonce={nonce}&signTimestamp={timestamp}&signature={signature}"
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A callback's body as the commercial service sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: String,
}

/// The commercial service's `channelType` names.
pub fn channel_type(kind: ConversationType) -> &'static str {
    match kind {
        ConversationType::Private => "PERSON",
        ConversationType::Group => "GROUP",
        ConversationType::Chatroom => "TEMPGROUP",
        ConversationType::System => "NOTIFY",
        ConversationType::UltraGroup => "ULTRAGROUP",
    }
}

/// The id a message was sent to, as its sender sees the conversation.
pub fn target_id(message: &Message) -> &str {
    let conversation = &message.conversation;
    match conversation.kind {
        ConversationType::Private if conversation.first == message.sender => &conversation.second,
        ConversationType::Private => &conversation.first,
        ConversationType::System => &conversation.second,
        _ => &conversation.first,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` escaping.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The body of a callback to the app server (`None` for a push, which is not one).
pub fn render(event: &HookEvent) -> Option<Rendered> {
    Some(match event {
        HookEvent::Message(message) => {
            let time = message.sent_time_ms.to_string();
            let seq = message.seq.to_string();
            let group_user_ids = message.visible_to.join(",");
            let source = if message.sender_device.is_some() {
                "Websocket"
            } else {
                "Server"
            };
            Rendered {
                content_type: "application/x-www-form-urlencoded",
                body: form(&[
                    ("fromUserId", &message.sender),
                    ("toUserId", target_id(message)),
                    ("objectName", &message.object_name),
                    ("content", &message.content),
                    ("channelType", channel_type(message.conversation.kind)),
                    ("msgTimestamp", &time),
                    ("msgUID", &message.msg_uid),
                    ("sensitiveType", "0"),
                    ("source", source),
                    ("groupUserIds", &group_user_ids),
                    ("busChannel", &message.conversation.channel),
                    ("seq", &seq),
                ]),
            }
        }
        HookEvent::Status(change) => Rendered {
            content_type: "application/json",
            body: json!([{
                "userid": change.user_id,
                "status": (change.status as u8).to_string(),
                "os": change.platform,
                "time": change.time_ms,
                "clientIp": change.client_ip,
                "sessionId": change.session_id,
            }])
            .to_string(),
        },
        HookEvent::Chatroom(change) => Rendered {
            content_type: "application/json",
            body: json!([{
                "chatRoomId": change.room_id,
                "userIds": change.user_ids,
                "status": change.cause as u8,
                "type": change.event as u8,
                "time": change.time_ms,
            }])
            .to_string(),
        },
        HookEvent::Push(_) => return None,
    })
}

/// Where a job goes under the app's current settings; `None`: the app stopped asking
/// for it, and the job is dropped.
fn destination<'a>(settings: &'a AppSettings, event: &HookEvent) -> Option<&'a str> {
    let callbacks = &settings.callbacks;
    match event {
        HookEvent::Message(m) if callbacks.routes(m.conversation.kind) => {
            callbacks.routing_url.as_deref()
        }
        HookEvent::Message(_) => None,
        HookEvent::Status(_) => callbacks.online_status_url.as_deref(),
        HookEvent::Chatroom(_) => callbacks.chatroom_state_url.as_deref(),
        HookEvent::Push(_) => None,
    }
}

/// What became of one attempt.
enum Attempt {
    Delivered,
    /// The app no longer wants it (or no longer exists).
    Dropped,
    Failed(String),
    /// The push provider will never take it (e.g. too large): dropped.
    Rejected(String),
    /// The push provider no longer knows the device: its token is removed.
    TokenGone,
}

/// The two clients jobs go out through.
#[derive(Clone)]
pub(crate) struct Senders {
    pub callbacks: OutboundClient,
    pub push: PushClient,
}

/// One attempt at one job, with its outcome reported back to the dispatcher loop.
struct Finished {
    job: Job,
    attempt: Attempt,
}

/// Runs on every node; does its work while this node leads.
pub(crate) async fn dispatch(
    core: Arc<NodeCore>,
    senders: Senders,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut head = core.state_machine.outbox_head();
    let (finished_tx, mut finished_rx) = mpsc::channel::<Finished>(MAX_IN_FLIGHT);
    // Lanes with a job in flight, and the jobs: a job stays here until its outcome is
    // committed, so no pass sends it again meanwhile.
    let mut busy_lanes: HashSet<(String, String)> = HashSet::new();
    let mut in_flight: HashSet<u64> = HashSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            changed = head.changed() => if changed.is_err() { return },
            finished = finished_rx.recv() => {
                let Some(finished) = finished else { return };
                record(&core, &finished).await;
                busy_lanes.remove(&(finished.job.app_key.clone(), finished.job.lane.clone()));
                in_flight.remove(&finished.job.id);
            }
            _ = tokio::time::sleep(IDLE_PASS) => {}
        }
        core.metrics
            .callbacks_waiting
            .set(waiting(&core).unwrap_or(0) as i64);
        if !core.raft.is_leader() || in_flight.len() >= MAX_IN_FLIGHT {
            continue;
        }
        let Ok(QueryOutput::Jobs { jobs, .. }) = state::query(
            core.state_machine.state(),
            &Query::Outbox {
                after: 0,
                limit: PASS_JOBS,
            },
        ) else {
            continue;
        };
        let now = now_ms();
        // The first job of each lane is its head; only a head may go.
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut settings: HashMap<String, Option<(AppSettings, String)>> = HashMap::new();
        for job in jobs {
            let lane = (job.app_key.clone(), job.lane.clone());
            if !seen.insert(lane.clone()) || busy_lanes.contains(&lane) {
                continue;
            }
            if job.next_attempt_ms > now || in_flight.contains(&job.id) {
                continue;
            }
            if in_flight.len() >= MAX_IN_FLIGHT {
                break;
            }
            let app = settings
                .entry(job.app_key.clone())
                .or_insert_with(|| app_settings(&core, &job.app_key))
                .clone();
            busy_lanes.insert(lane);
            in_flight.insert(job.id);
            let senders = senders.clone();
            let finished_tx = finished_tx.clone();
            let metrics = core.metrics.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let attempt = attempt(&senders, &job, app).await;
                metrics
                    .callback_seconds
                    .with_label_values(&[job.event.kind()])
                    .observe(started.elapsed().as_secs_f64());
                let _ = finished_tx.send(Finished { job, attempt }).await;
            });
        }
    }
}

fn waiting(core: &NodeCore) -> Result<u64, state::CommandError> {
    state::outbox::waiting_count(core.state_machine.state())
}

/// The app's settings and secret, read once per pass.
fn app_settings(core: &NodeCore, app_key: &str) -> Option<(AppSettings, String)> {
    let tree = core.state_machine.state();
    let Ok(QueryOutput::App(app, env)) = state::query(
        tree,
        &Query::GetApp {
            app_key: app_key.to_string(),
        },
    ) else {
        return None;
    };
    let secret = app.credentials(env).app_secret.clone();
    match state::query(
        tree,
        &Query::AppSettings {
            app_key: app_key.to_string(),
        },
    ) {
        Ok(QueryOutput::Settings(settings)) => Some((settings, secret)),
        _ => None,
    }
}

async fn attempt(senders: &Senders, job: &Job, app: Option<(AppSettings, String)>) -> Attempt {
    let Some((settings, secret)) = app else {
        return Attempt::Dropped;
    };
    if let HookEvent::Push(push) = &job.event {
        return send_push(&senders.push, &settings, &job.app_key, &secret, push).await;
    }
    let Some(url) = destination(&settings, &job.event) else {
        return Attempt::Dropped;
    };
    let Some(rendered) = render(&job.event) else {
        return Attempt::Dropped;
    };
    let url = signed_url(url, &job.app_key, &secret, now_ms());
    let client = &senders.callbacks;
    let id = job.id.to_string();
    let headers = [(EVENT_ID_HEADER, id.as_str())];
    match client
        .post(
            &url,
            rendered.content_type,
            &headers,
            rendered.body.into(),
            CALLBACK_TIMEOUT,
        )
        .await
    {
        Ok(answer) if (200..300).contains(&answer.status) => Attempt::Delivered,
        Ok(answer) => Attempt::Failed(format!("HTTP {}", answer.status)),
        Err(e) => Attempt::Failed(e),
    }
}

/// PUSH-02: one notification through the provider the device registered with, using the
/// credentials of its app identifier (PUSH-04) as they are now.
async fn send_push(
    client: &PushClient,
    settings: &AppSettings,
    app_key: &str,
    secret: &str,
    job: &PushJob,
) -> Attempt {
    let notification = Notification {
        device_token: job.device.token.clone(),
        title: job.title.clone(),
        body: job.body.clone(),
        data: job.data.clone(),
        id: job.msg_uid.clone(),
        user_id: job.user_id.clone(),
    };
    let push = &settings.push;
    let credentials = push.app(&job.device.app_id);
    let outcome = match job.device.provider {
        PushProvider::Apns => match credentials.and_then(|c| c.apns.as_ref()) {
            Some(apns) => client.send_apns(apns, &notification).await,
            None => return Attempt::Dropped,
        },
        PushProvider::Fcm => match credentials.and_then(|c| c.fcm.as_ref()) {
            Some(fcm) => client.send_fcm(fcm, &notification).await,
            None => return Attempt::Dropped,
        },
        PushProvider::Webhook => match &push.webhook_url {
            Some(url) => {
                let url = signed_url(url, app_key, secret, now_ms());
                client.send_webhook(&url, &notification).await
            }
            None => return Attempt::Dropped,
        },
    };
    match outcome {
        Outcome::Delivered => Attempt::Delivered,
        Outcome::TokenGone => Attempt::TokenGone,
        Outcome::Retry { reason, .. } => Attempt::Failed(reason),
        Outcome::Rejected { reason } => Attempt::Rejected(reason),
    }
}

/// Writes an attempt's outcome through Raft (a failed write leaves the job as it was:
/// it is simply tried again).
async fn record(core: &NodeCore, finished: &Finished) {
    let job = &finished.job;
    let kind = job.event.kind();
    let done = state::Command::OutboxDelivered { ids: vec![job.id] };
    let (commands, outcome) = match &finished.attempt {
        Attempt::Delivered => (vec![done], "delivered"),
        Attempt::Dropped => (vec![done], "dropped"),
        Attempt::Rejected(reason) => {
            tracing::debug!(id = job.id, kind, %reason, "push rejected by its provider");
            (vec![done], "rejected")
        }
        Attempt::TokenGone => {
            let mut commands = vec![done];
            if let HookEvent::Push(push) = &job.event {
                commands.push(state::Command::UnregisterPushToken {
                    app_key: job.app_key.clone(),
                    user_id: push.user_id.clone(),
                    device_id: push.device.device_id.clone(),
                    token: Some(push.device.token.clone()),
                });
            }
            (commands, "token_gone")
        }
        Attempt::Failed(error) => {
            tracing::debug!(id = job.id, kind, %error, "callback failed");
            let failed = state::Command::OutboxFailed {
                failures: vec![(job.id, error.clone())],
            };
            (vec![failed], "failed")
        }
    };
    core.metrics
        .callback_attempts_total
        .with_label_values(&[kind, outcome])
        .inc();
    let envelopes = commands
        .into_iter()
        .map(|command| Envelope {
            area: core.config.area,
            command,
        })
        .collect();
    match core.writer.write(envelopes).await {
        Ok(results) => {
            if let Some(Ok(state::Output::Count(dead))) = results.first() {
                let dead = *dead;
                core.metrics
                    .callback_dead_letters_total
                    .with_label_values(&[kind])
                    .inc_by(dead);
            }
        }
        Err(e) => tracing::debug!(id = job.id, error = ?e, "callback outcome not committed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Conversation, DeviceStatus, StatusChange};

    fn query_param<'a>(url: &'a str, name: &str) -> &'a str {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{name} missing from {url}"))
    }

    // covers: HOOK-05
    #[test]
    fn callbacks_carry_the_server_api_signature_in_their_query() {
        // printf 'secret12314314%s' 1408710653491 | sha1sum
        assert_eq!(
            signature("secret123", "14314", "1408710653491"),
            "d23bc516c97098f423a6232cd807815884653e93"
        );
        for url in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
        ] {
            let signed = signed_url(url, "key1", "secret123", 1_408_710_653_491);
            assert!(signed.starts_with(url));
            assert_eq!(query_param(&signed, "appKey"), "key1");
            assert_eq!(query_param(&signed, "signTimestamp"), "1408710653491");
            let nonce = query_param(&signed, "nonce");
            assert_eq!(
                query_param(&signed, "signature"),
                signature("secret123", nonce, "1408710653491")
            );
        }
    }

    fn message(conversation: Conversation, sender: &str) -> Message {
        Message {
            msg_uid: "UID1".into(),
            conversation,
            sender: sender.into(),
            object_name: "RC:TxtMsg".into(),
            content: r#"{"content":"hi & bye"}"#.into(),
            sent_time_ms: 1_700_000_000_000,
            seq: 7,
            counted: true,
            push_content: None,
            push_data: None,
            recalled: false,
            modified: false,
            visible_to: Vec::new(),
            pos: 1,
            sender_device: Some("phone".into()),
        }
    }

    // covers: HOOK-01
    #[test]
    fn a_routed_message_is_the_commercial_form() {
        let routed = render(&HookEvent::Message(Box::new(message(
            Conversation::private("ann", "bob", ""),
            "bob",
        ))))
        .unwrap();
        assert_eq!(routed.content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            routed.body,
            "fromUserId=bob&toUserId=ann&objectName=RC%3ATxtMsg\
             &content=%7B%22content%22%3A%22hi+%26+bye%22%7D&channelType=PERSON\
             &msgTimestamp=1700000000000&msgUID=UID1&sensitiveType=0&source=Websocket\
             &groupUserIds=&busChannel=&seq=7"
        );
    }

    // covers: HOOK-03
    #[test]
    fn a_status_change_is_the_commercial_json() {
        let rendered = render(&HookEvent::Status(StatusChange {
            user_id: "ann".into(),
            status: DeviceStatus::Offline,
            platform: "iOS".into(),
            client_ip: "10.0.0.1:4242".into(),
            session_id: "4-9".into(),
            time_ms: 5,
        }))
        .unwrap();
        let body: serde_json::Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(
            body,
            json!([{"userid": "ann", "status": "1", "os": "iOS", "time": 5,
                    "clientIp": "10.0.0.1:4242", "sessionId": "4-9"}])
        );
    }
}
