//! What a session hands its device: the catch-up sync from the device's cursor, then the
//! live feed events the registry queues for it, each message at most once and in feed
//! order.

use meridian_cluster::state::{
    Conversation, ConversationType, FeedEvent, Message, Query, QueryOutput, SyncRequest,
};
use meridian_proto::{MessageBody, ServerFrame};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::error::SessionError;
use super::registry::Delivery;
use super::session::Session;
use super::socket::{End, Wire};
use crate::now_ms;

/// Queued deliveries written with one flush, at most.
const DELIVERY_BATCH: usize = 16;

impl Session<'_> {
    /// Sends what this device missed after `delivered`, page by page, then `synced`.
    pub(super) async fn sync(&mut self) -> Result<(), End> {
        // The app's offline window (PRV-02), never longer than this edge's bound.
        let window_secs = u64::from(self.identity.settings.offline_window_days) * 24 * 3600;
        let window_secs = window_secs.min(self.shared.settings.offline_window_secs);
        let since_ms = now_ms().saturating_sub(window_secs.saturating_mul(1000));
        let from = self.delivered;
        let mut handed_out = 0;
        loop {
            let read = self
                .identity
                .client
                .read(Query::Sync {
                    app_key: self.identity.app_key.clone(),
                    request: SyncRequest {
                        user_id: self.identity.user_id.clone(),
                        after: self.delivered,
                        since_ms,
                        limit: meridian_cluster::state::feed::MAX_SYNC_PAGE,
                    },
                })
                .await;
            let page = match read {
                Ok(QueryOutput::Sync(page)) => page,
                Ok(_) | Err(_) => {
                    // The area is unreachable: the client reconnects and syncs again.
                    let why = SessionError::Unavailable("sync failed; reconnect".into());
                    self.out.refuse(why).await?;
                    return Err(End::Closed);
                }
            };
            // The device that sent a message had its ack, not a copy, and keeps it so
            // when it syncs (PROTOCOL.md); the sender's other devices get it.
            let (user, device) = (&self.identity.user_id, &self.handle.device_id);
            for message in page.messages.iter().filter(|m| m.copied_to(user, device)) {
                let frame = ServerFrame::Message(body(message, user, message.pos));
                self.out.send(&frame).await?;
                handed_out += 1;
            }
            self.delivered = self.delivered.max(page.cursor);
            if !page.more {
                break;
            }
        }
        tracing::debug!(
            session = self.handle.id,
            user = %self.identity.user_id,
            device = %self.handle.device_id,
            from,
            to = self.delivered,
            handed_out,
            "synced"
        );
        self.out
            .send(&ServerFrame::Synced {
                cursor: self.delivered,
            })
            .await
    }

    /// Writes `first` and what else waits in the queue (up to [`DELIVERY_BATCH`]) with
    /// one flush: members of a busy room get several messages per system call. Times the
    /// write by its oldest event, once per write rather than per frame (a room of
    /// thousands is written to a million times a second).
    pub(super) async fn deliver(
        &mut self,
        first: Delivery,
        queue: &mut mpsc::Receiver<Delivery>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        let mut batched = 0;
        let mut oldest: Option<Instant> = None;
        while let Some(delivery) = next.take() {
            let arrived = match &delivery {
                Delivery::Event(dispatched) => Some(dispatched.arrived),
                Delivery::RoomLeft(_) => None,
            };
            if let Some(frame) = self.frame_of(delivery)? {
                self.out.feed(frame).await?;
                // Queued in feed order: the first written arrived first.
                oldest = oldest.or(arrived);
            }
            batched += 1;
            if batched < DELIVERY_BATCH {
                next = queue.try_recv().ok();
            }
        }
        self.out.flush().await?;
        if let Some(arrived) = oldest {
            let seconds = arrived.elapsed().as_secs_f64();
            self.shared.metrics.delivery_seconds.observe(seconds);
        }
        Ok(())
    }

    /// The frame a delivery makes for this session, if any. A frame that cannot be made
    /// ends the session (as in a sync), so the device resyncs rather than missing it.
    fn frame_of(&mut self, delivery: Delivery) -> Result<Option<WsMessage>, End> {
        let unwritable = |e: serde_json::Error| {
            tracing::error!(error = %e, "a delivery could not be serialized");
            End::Closed
        };
        let frame = match delivery {
            Delivery::Event(dispatched) => {
                let pos = dispatched.pos;
                if pos <= self.delivered {
                    return Ok(None);
                }
                tracing::trace!(session = self.handle.id, pos, "delivered live");
                self.delivered = pos;
                let message = match &dispatched.event {
                    FeedEvent::Message { message, .. } => message,
                    FeedEvent::Rtc {
                        room_id,
                        version,
                        notice,
                        ..
                    } => {
                        // The commercial protocol carries no room events (its RTC SDK is
                        // not served); a JSON session's members all get the same frame.
                        if let Wire::Commercial(_) = &self.out.wire {
                            return Ok(None);
                        }
                        #[cfg(feature = "planted-bug")]
                        if self.shared.drop_room_notices && pos % super::DROPPED_NOTICE_EVERY == 0 {
                            return Ok(None);
                        }
                        let frame = || ServerFrame::RtcEvent {
                            cursor: pos,
                            room_id: room_id.clone(),
                            version: *version,
                            notice: notice.clone(),
                        };
                        let shared = dispatched.shared_frame(|| serde_json::to_string(&frame()));
                        return shared
                            .map(|text| Some(WsMessage::Text(text)))
                            .map_err(unwritable);
                    }
                    _ => return Ok(None),
                };
                let viewer = &self.identity.user_id;
                if let Wire::Commercial(wire) = &mut self.out.wire {
                    // A chatroom's messages are pulled from the room and an ultra group's
                    // from the session's own (neither syncs), status messages (never
                    // synced) go whole, anything else is a notice to sync.
                    let stored = message.seq > 0;
                    let bytes = if message.conversation.kind == ConversationType::Chatroom && stored
                    {
                        wire.room_message(&body(message, viewer, pos))
                    } else if message.conversation.kind == ConversationType::UltraGroup && stored {
                        wire.ultra_group_message(&body(message, viewer, pos))
                    } else if !stored {
                        wire.message(&body(message, viewer, pos))
                    } else {
                        wire.notify(pos)
                    };
                    return Ok(bytes.map(|b| WsMessage::Binary(b.into())));
                }
                let frame = || ServerFrame::Message(body(message, viewer, pos));
                if looks_the_same_to_all(&message.conversation) {
                    // Made once for every receiver, by the first that asks.
                    let shared = dispatched.shared_frame(|| serde_json::to_string(&frame()));
                    return shared
                        .map(|text| Some(WsMessage::Text(text)))
                        .map_err(unwritable);
                }
                frame()
            }
            Delivery::RoomLeft(left) => {
                let (chatroom_id, code) = *left;
                ServerFrame::ChatroomLeft { chatroom_id, code }
            }
        };
        self.out.frame(&frame)
    }
}

/// Group-like conversations (and broadcasts) name the same target for every receiver, so
/// one serialized frame serves them all; a private chat's target is the other side.
fn looks_the_same_to_all(conversation: &Conversation) -> bool {
    match conversation.kind {
        ConversationType::Private => false,
        ConversationType::System => conversation.second.is_empty(),
        ConversationType::Group | ConversationType::UltraGroup | ConversationType::Chatroom => true,
    }
}

/// A message as `viewer` sees it; `cursor` is its feed position when it is delivered as
/// part of the feed, else 0.
pub(super) fn body(message: &Message, viewer: &str, cursor: u64) -> MessageBody {
    MessageBody {
        cursor,
        msg_uid: message.msg_uid.clone(),
        seq: message.seq,
        conversation_type: message.conversation.kind.code(),
        target_id: message.conversation.target_for(viewer).to_string(),
        channel_id: message.conversation.channel.clone(),
        sender_user_id: message.sender.clone(),
        object_name: message.object_name.clone(),
        content: message.content.clone(),
        sent_time: message.sent_time_ms,
        push_content: message.push_content.clone(),
        push_data: message.push_data.clone(),
        recalled: message.recalled,
        modified: message.modified,
    }
}
