//! A user's audio/video room session for the tests that use rooms (tests/rtc.rs,
//! tests/media.rs).

use std::collections::VecDeque;
use std::time::Duration;

use meridian_testkit::{metric_value, DevDeployment};

use meridian_client::Connection;
use meridian_proto::rtc::{Resource, Role, RoomInfo, RoomKind, RoomNotice};
use meridian_proto::{ClientFrame, ServerFrame};

use super::{connect, synced, Api, FRAME_WAIT};

/// A user's session, keeping the room notices that arrive while it waits for an answer.
pub struct Member {
    pub connection: Connection,
    /// Where the area's media server is, as the last `rtcJoined` said.
    pub media_server: String,
    notices: VecDeque<(String, u64, RoomNotice)>,
    next_req: u64,
}

impl Member {
    pub async fn connect(ws: &str, api: &Api, user: &str) -> Self {
        let mut connection = connect(ws, api, user, &format!("{user}-phone"), "iOS", None).await;
        synced(&mut connection).await;
        Self {
            connection,
            media_server: String::new(),
            notices: VecDeque::new(),
            next_req: 1,
        }
    }

    /// Sends the request `make` builds with a fresh id and answers its reply.
    pub async fn ask(&mut self, make: impl FnOnce(u64) -> ClientFrame) -> ServerFrame {
        let req_id = self.next_req;
        self.next_req += 1;
        self.connection.send(&make(req_id)).await.expect("send");
        loop {
            let frame = self
                .connection
                .next_within(FRAME_WAIT)
                .await
                .expect("answer");
            match frame {
                ServerFrame::RtcEvent {
                    room_id,
                    version,
                    notice,
                    ..
                } => self.notices.push_back((room_id, version, notice)),
                ServerFrame::Done { req_id: r }
                | ServerFrame::RtcJoined { req_id: r, .. }
                | ServerFrame::RtcRoom { req_id: r, .. }
                | ServerFrame::Error {
                    req_id: Some(r), ..
                } if r == req_id => return frame,
                _ => {}
            }
        }
    }

    pub async fn join(
        &mut self,
        room_id: &str,
        kind: RoomKind,
        role: Role,
    ) -> Result<RoomInfo, u32> {
        let room_id = room_id.to_string();
        match self
            .ask(|req_id| ClientFrame::RtcJoin {
                req_id,
                room_id,
                kind,
                role,
            })
            .await
        {
            ServerFrame::RtcJoined {
                room, media_server, ..
            } => {
                self.media_server = media_server;
                Ok(room)
            }
            ServerFrame::Error { code, .. } => Err(code),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A request answered `done`, or its error code.
    pub async fn done(&mut self, make: impl FnOnce(u64) -> ClientFrame) -> Result<(), u32> {
        match self.ask(make).await {
            ServerFrame::Done { .. } => Ok(()),
            ServerFrame::Error { code, .. } => Err(code),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn publish(&mut self, room_id: &str, resources: Vec<Resource>) -> Result<(), u32> {
        let room_id = room_id.to_string();
        self.done(|req_id| ClientFrame::RtcPublish {
            req_id,
            room_id,
            publish: resources,
            unpublish: Vec::new(),
        })
        .await
    }

    /// The next room notice, within `wait`.
    pub async fn notice_within(&mut self, wait: Duration) -> (String, u64, RoomNotice) {
        if let Some(notice) = self.notices.pop_front() {
            return notice;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self
                .connection
                .next_within(left)
                .await
                .expect("a room notice");
            if let ServerFrame::RtcEvent {
                room_id,
                version,
                notice,
                ..
            } = frame
            {
                return (room_id, version, notice);
            }
        }
    }

    pub async fn notice(&mut self) -> (String, u64, RoomNotice) {
        self.notice_within(FRAME_WAIT).await
    }
}

/// Host `inviter` of live room `room_id` invites host `invitee` of `other_room_id` to a
/// cross-room PK, which the invitee accepts (RTC-04).
pub async fn start_pk(
    (inviter, room_id): (&mut Member, &str),
    (invitee, invitee_id): (&mut Member, &str),
    other_room_id: &str,
) {
    let (room, other) = (room_id.to_string(), other_room_id.to_string());
    let user_id = invitee_id.to_string();
    inviter
        .done(|req_id| ClientFrame::RtcPkInvite {
            req_id,
            room_id: room,
            other_room_id: other.clone(),
            user_id,
        })
        .await
        .unwrap();
    invitee
        .done(|req_id| ClientFrame::RtcPkAnswer {
            req_id,
            room_id: other,
            accept: true,
        })
        .await
        .unwrap();
}

/// The value of `series` on the SG area's media server, 0 when it has none yet.
pub async fn media_metric(dev: &DevDeployment, series: &str) -> f64 {
    let url = dev.endpoints["areas"]["SG"]["media"]["metrics"]
        .as_str()
        .expect("the media server's metrics");
    let answer = meridian_rpc::http::request("GET", url, None, None, Duration::from_secs(5))
        .await
        .expect("metrics");
    metric_value(&answer.text(), series).unwrap_or(0.0)
}
