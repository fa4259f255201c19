//! Who may publish and watch: a request carries the user's own token (the one its client
//! connects with), and the area's cluster says whether that user is a member of the room
//! and in which role (RTC-04). Nothing about rooms is kept here: every transport's member
//! is looked up again every [`CHECK_EVERY`], so a member who left, was kicked or stepped
//! down to the audience loses its transports within a second. The same watch reads which
//! rooms are being recorded (RTC-07) and mixed (RTC-09) for the forwarding task.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use meridian_access::directory::AppDirectory;
use meridian_access::token;
use meridian_cluster::state::{CommandError, Query, QueryOutput};
use meridian_cluster::{ClusterClient, ClusterError};
use meridian_proto::codes;
use meridian_proto::rtc::{Role, RoomInfo};
use tokio::sync::{mpsc, oneshot, watch};

use crate::mixing::MixOrders;
use crate::recording::Orders;
use crate::sfu::{Command, Member, Open, Side};

/// How often open transports are checked against their rooms.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(400);

/// Why a WHIP/WHEP request is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("token incorrect: {0}")]
    Token(String),
    #[error("not a member of the audio/video room")]
    NotMember,
    #[error("the member's role does not publish (observers and the audience only watch)")]
    RoleForbids,
    #[error("the area is unreachable now: {0}")]
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status and the session protocol's code (edge/PROTOCOL.md).
    pub(crate) fn status_and_code(&self) -> (u16, u32) {
        match self {
            Refusal::Token(_) => (401, codes::TOKEN_INCORRECT),
            Refusal::NotMember => (403, codes::RTC_NOT_IN_ROOM),
            Refusal::RoleForbids => (403, codes::RTC_ROLE_FORBIDS),
            Refusal::Unavailable(_) => (503, codes::UNAVAILABLE),
        }
    }
}

pub(crate) struct Members {
    directory: AppDirectory,
    client: Arc<ClusterClient>,
}

impl Members {
    pub(crate) fn new(directory: AppDirectory, client: Arc<ClusterClient>) -> Self {
        Self { directory, client }
    }

    /// The member `bearer`'s token names, if it may publish in `room_id` (`publisher`
    /// is `None`) or watch `publisher` there: as a member of the room, or of the live
    /// room in a cross-room PK with it whose host `publisher` is (RTC-04).
    pub(crate) async fn authorize(
        &self,
        bearer: &str,
        room_id: &str,
        publisher: Option<&str>,
    ) -> Result<Member, Refusal> {
        let bad = |e: &dyn std::fmt::Display| Refusal::Token(e.to_string());
        let (claims, _, _) = token::peek(bearer).map_err(|e| bad(&e))?;
        let app = self
            .directory
            .resolve(&claims.app_key)
            .await
            .map_err(|e| bad(&e))?;
        let claims = app.verify_token(bearer).map_err(|e| bad(&e))?;
        let (app_key, user_id) = (claims.app_key, claims.user_id);
        let role = self
            .role_in(&app_key, room_id, &user_id)
            .await?
            .map(|role| (room_id.to_string(), role));
        let (own_room, role) = match (role, publisher) {
            (Some(found), _) => found,
            (None, None) => return Err(Refusal::NotMember),
            (None, Some(publisher)) => {
                let partner = self
                    .room(&app_key, room_id, None)
                    .await
                    .map_err(|e| Refusal::Unavailable(e.to_string()))?
                    .and_then(|room| room.pk)
                    .filter(|pk| pk.local_host == publisher)
                    .ok_or(Refusal::NotMember)?;
                let role = self.role_in(&app_key, &partner.room_id, &user_id).await?;
                (partner.room_id, role.ok_or(Refusal::NotMember)?)
            }
        };
        if publisher.is_none() && !role.publishes() {
            return Err(Refusal::RoleForbids);
        }
        Ok(Member {
            app_key,
            room_id: own_room,
            user_id,
        })
    }

    /// `user_id`'s role in `room_id`, if a member.
    async fn role_in(
        &self,
        app_key: &str,
        room_id: &str,
        user_id: &str,
    ) -> Result<Option<Role>, Refusal> {
        let room = self
            .room(app_key, room_id, Some(user_id))
            .await
            .map_err(|e| Refusal::Unavailable(e.to_string()))?;
        Ok(room.and_then(|room| {
            let member = room.members.into_iter().find(|m| m.user_id == user_id);
            member.map(|m| m.role)
        }))
    }

    /// The room as the cluster has it now; `None` when it has ended (or `viewer` is not
    /// a member).
    async fn room(
        &self,
        app_key: &str,
        room_id: &str,
        viewer: Option<&str>,
    ) -> Result<Option<RoomInfo>, ClusterError> {
        let query = Query::RtcRoom {
            app_key: app_key.to_string(),
            room_id: room_id.to_string(),
            viewer: viewer.map(str::to_string),
        };
        match self.client.read(query).await {
            Ok(QueryOutput::RtcRoom(room)) => Ok(Some(room)),
            Ok(other) => Err(ClusterError::Protocol(format!("{other:?}"))),
            Err(ClusterError::Refused(
                CommandError::NotFound { .. } | CommandError::NotMember { .. },
            )) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The transports of `room` whose member is no longer allowed what they do.
    async fn unwelcome(&self, room: (String, String), transports: Vec<Open>) -> Vec<u64> {
        let (app_key, room_id) = room;
        let info = match self.room(&app_key, &room_id, None).await {
            Ok(info) => info,
            // An unreachable cluster closes nothing: a leader election must not end
            // every call in the area.
            Err(e) => {
                tracing::debug!(error = %e, room = %room_id, "membership check failed");
                return Vec::new();
            }
        };
        let partner = info.as_ref().and_then(|room| room.pk.as_ref());
        transports
            .into_iter()
            .filter(|open| {
                let role = info
                    .as_ref()
                    .and_then(|room| {
                        let user_id = &open.member.user_id;
                        room.members.iter().find(|m| m.user_id == *user_id)
                    })
                    .map(|m| m.role);
                // A PK partner's host is watched while the PK lasts.
                let ours = open.stream_room == room_id
                    || partner.is_some_and(|pk| pk.room_id == open.stream_room);
                match role {
                    None => true,
                    Some(role) if open.side == Side::Publish => !role.publishes(),
                    Some(_) => !ours,
                }
            })
            .map(|open| open.id)
            .collect()
    }
}

/// Which orders the watch reads for the forwarding task.
pub(crate) struct Watching {
    /// Recording orders, while anyone publishes (RTC-07).
    pub recording: bool,
    /// Mixing orders, always: a mix pushes its canvas while nobody publishes (RTC-09).
    pub mixing: bool,
}

/// Checks every open transport against its room every [`CHECK_EVERY`] and evicts those
/// whose member left or lost the role, until `stop`; also tells the forwarding task
/// which rooms are recorded and mixed, as `watching` asks.
pub(crate) async fn watch(
    members: Arc<Members>,
    commands: mpsc::Sender<Command>,
    watching: Watching,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = tick.tick() => {}
        }
        let (reply, answer) = oneshot::channel();
        if commands.send(Command::List { reply }).await.is_err() {
            return;
        }
        let Ok(transports) = answer.await else {
            return;
        };
        let publishing = transports.iter().any(|open| open.side == Side::Publish);
        if watching.mixing {
            match MixOrders::read(&members.client).await {
                Ok(orders) => {
                    if commands.send(Command::Mix { orders }).await.is_err() {
                        return;
                    }
                }
                // Mixes go on as ordered before until the cluster answers again.
                Err(e) => tracing::debug!(error = %e, "mixing orders unread"),
            }
        }
        if watching.recording && publishing {
            match Orders::read(&members.client).await {
                Ok(orders) => {
                    if commands.send(Command::Record { orders }).await.is_err() {
                        return;
                    }
                }
                // Recording goes on as ordered before until the cluster answers again.
                Err(e) => tracing::debug!(error = %e, "recording orders unread"),
            }
        }
        let mut rooms: BTreeMap<(String, String), Vec<Open>> = BTreeMap::new();
        for open in transports {
            let room = (open.member.app_key.clone(), open.member.room_id.clone());
            rooms.entry(room).or_default().push(open);
        }
        let checks = rooms
            .into_iter()
            .map(|(room, transports)| members.unwelcome(room, transports));
        let ids: Vec<u64> = futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect();
        if !ids.is_empty() {
            tracing::info!(
                transports = ids.len(),
                "closing transports of members no longer allowed"
            );
            if commands.send(Command::Evict { ids }).await.is_err() {
                return;
            }
        }
    }
}
