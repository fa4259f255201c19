//! [`Client`]: a session that survives its connection. It reconnects with exponential
//! backoff, resumes sync at the cursor of the last message it handed out, and sends again
//! (same `clientId`, so the edge stores it once) whatever was not acknowledged.

use std::collections::VecDeque;
use std::time::Duration;

use meridian_proto::{codes, ClientFrame, MessageBody, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::nav::{NavError, Navigation};
use crate::{ConnectOptions, Connection};

/// How long to wait before reconnecting: doubling from `first` up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

/// A message to send: the conversation and content of a `send` frame.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub conversation_type: u8,
    pub target_id: String,
    pub channel_id: String,
    pub object_name: String,
    pub content: String,
}

impl Outgoing {
    /// The `send` frame carrying it as `client_id`.
    pub fn frame(self, client_id: &str) -> ClientFrame {
        ClientFrame::Send {
            client_id: client_id.into(),
            conversation_type: self.conversation_type,
            target_id: self.target_id,
            channel_id: self.channel_id,
            object_name: self.object_name,
            content: self.content,
            push_content: None,
            push_data: None,
            to_user_ids: Vec::new(),
        }
    }
}

/// The edge's acknowledgement of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub msg_uid: String,
    pub seq: u64,
    pub sent_time: u64,
}

/// Why a send or the client ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("refused ({code}): {message}")]
    Refused { code: u32, message: String },
    #[error("the session ended ({code}): {reason}")]
    Ended { code: u32, reason: String },
}

struct Pending {
    frame: ClientFrame,
    client_id: String,
    done: oneshot::Sender<Result<Acked, SendError>>,
}

/// A reconnecting session. Messages arrive through [`Client::next_message`] in order and
/// once each; sends (through [`Client::sender`]) complete when the edge acknowledges them.
pub struct Client {
    sender: Sender,
    messages: mpsc::Receiver<MessageBody>,
    reconnects: tokio::sync::watch::Receiver<u64>,
    task: JoinHandle<()>,
}

/// Sends through a [`Client`]; cheap to clone, usable while the client is being read.
#[derive(Clone)]
pub struct Sender {
    sends: mpsc::Sender<Pending>,
    next_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
    id_prefix: String,
}

/// Codes after which reconnecting is pointless: the user or device may not be here.
fn final_code(code: u32) -> bool {
    matches!(
        code,
        codes::TOKEN_INCORRECT | codes::USER_BLOCKED | codes::KICKED_OTHER_LOGIN
    )
}

impl Client {
    /// Starts connecting in the background. `options.cursor` is where sync starts.
    pub fn start(options: ConnectOptions, backoff: Backoff) -> Self {
        Self::start_with(options, backoff, None)
    }

    /// [`Client::start`] dialling the edge `navigation` names each time it connects
    /// (`options.url` is replaced), as the SDKs do.
    pub fn start_navigated(
        options: ConnectOptions,
        backoff: Backoff,
        navigation: Navigation,
    ) -> Self {
        Self::start_with(options, backoff, Some(navigation))
    }

    fn start_with(
        options: ConnectOptions,
        backoff: Backoff,
        navigation: Option<Navigation>,
    ) -> Self {
        let (sends, send_rx) = mpsc::channel(1024);
        let (message_tx, messages) = mpsc::channel(4096);
        let (reconnects_tx, reconnects) = tokio::sync::watch::channel(0);
        let id_prefix = format!("{}-{}", options.device_id, std::process::id());
        let task = tokio::spawn(run(
            options,
            backoff,
            navigation,
            send_rx,
            message_tx,
            reconnects_tx,
        ));
        Self {
            sender: Sender {
                sends,
                next_id: Default::default(),
                id_prefix,
            },
            messages,
            reconnects,
            task,
        }
    }

    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// The next message, or `None` once the session ended for good.
    pub async fn next_message(&mut self) -> Option<MessageBody> {
        self.messages.recv().await
    }

    /// How many times the connection was re-established.
    pub fn reconnects(&self) -> u64 {
        *self.reconnects.borrow()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

impl Sender {
    /// Sends a message and waits for its acknowledgement, across reconnects.
    pub async fn send(&self, message: Outgoing) -> Result<Acked, SendError> {
        let n = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client_id = format!("{}-{n}", self.id_prefix);
        let frame = message.frame(&client_id);
        let (done, answer) = oneshot::channel();
        let ended = || SendError::Ended {
            code: 0,
            reason: "the client stopped".into(),
        };
        self.sends
            .send(Pending {
                frame,
                client_id,
                done,
            })
            .await
            .map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }
}

async fn run(
    mut options: ConnectOptions,
    backoff: Backoff,
    mut navigation: Option<Navigation>,
    mut sends: mpsc::Receiver<Pending>,
    messages: mpsc::Sender<MessageBody>,
    reconnects: tokio::sync::watch::Sender<u64>,
) {
    // Sent or to be sent, oldest first; resent in order after a reconnect.
    let mut unacked: VecDeque<Pending> = VecDeque::new();
    let mut wait = backoff.first;
    let mut connected_once = false;
    loop {
        if let Some(navigation) = &navigation {
            match navigation.next_url(&options.app_key, &options.token).await {
                Ok(url) => options.url = url,
                Err(NavError::Refused { status, body }) => {
                    // The token or the app is refused here: reconnecting cannot help.
                    end_all(&mut unacked, &mut sends, u32::from(status), &body);
                    return;
                }
                Err(NavError::Unreachable(_)) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(backoff.max);
                    continue;
                }
            }
        }
        let mut connection = match Connection::connect(&options).await {
            Ok(connection) => connection,
            Err(_) => {
                if let Some(navigation) = &mut navigation {
                    navigation.failed();
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(backoff.max);
                continue;
            }
        };
        if let Some(navigation) = &mut navigation {
            navigation.connected();
        }
        if connected_once {
            reconnects.send_modify(|n| *n += 1);
        }
        connected_once = true;
        let mut healthy = true;
        for pending in &unacked {
            if connection.send(&pending.frame).await.is_err() {
                healthy = false;
                break;
            }
        }
        while healthy {
            tokio::select! {
                pending = sends.recv() => {
                    let Some(pending) = pending else { return };
                    healthy = connection.send(&pending.frame).await.is_ok();
                    unacked.push_back(pending);
                }
                frame = connection.next() => {
                    let Ok(frame) = frame else { break };
                    match frame {
                        ServerFrame::Connected { .. } | ServerFrame::Synced { .. } => {
                            wait = backoff.first;
                        }
                        ServerFrame::Message(body) => {
                            // The app dropped the client: nobody reads any more.
                            let Ok(()) = messages.send(body).await else { return };
                        }
                        ServerFrame::Ack { client_id, msg_uid, seq, sent_time, .. } => {
                            if let Some(at) = unacked.iter().position(|p| p.client_id == client_id) {
                                let pending = unacked.remove(at).expect("found above");
                                let _ = pending.done.send(Ok(Acked { msg_uid, seq, sent_time }));
                            }
                        }
                        ServerFrame::Error { code, message, client_id: Some(client_id), .. } => {
                            // A retriable refusal stays queued and goes out after a reconnect.
                            if codes::leaves_open(code) {
                                break;
                            }
                            if let Some(at) = unacked.iter().position(|p| p.client_id == client_id) {
                                let pending = unacked.remove(at).expect("found above");
                                let _ = pending.done.send(Err(SendError::Refused { code, message }));
                            }
                        }
                        ServerFrame::Error { code, message, .. } | ServerFrame::Kicked { code, reason: message } => {
                            if final_code(code) {
                                end_all(&mut unacked, &mut sends, code, &message);
                                return;
                            }
                            break;
                        }
                        _ => {}
                    }
                }
            }
        }
        options.cursor = Some(connection.cursor());
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(backoff.max);
    }
}

/// The session ended for good: every send waiting, or still to be picked up, fails.
fn end_all(
    unacked: &mut VecDeque<Pending>,
    sends: &mut mpsc::Receiver<Pending>,
    code: u32,
    reason: &str,
) {
    sends.close();
    while let Ok(pending) = sends.try_recv() {
        unacked.push_back(pending);
    }
    for pending in unacked.drain(..) {
        let _ = pending.done.send(Err(SendError::Ended {
            code,
            reason: reason.to_owned(),
        }));
    }
}
