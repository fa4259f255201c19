//! A call's record as the Server API answers it (`/rtc/call/query.json`, RTC-10).

use super::{CallRecord, EndReason};

impl CallRecord {
    /// The record as the Server API answers it.
    pub fn to_json(&self) -> serde_json::Value {
        let parties: Vec<serde_json::Value> = self
            .parties
            .iter()
            .map(|p| {
                serde_json::json!({
                    "userId": p.user_id,
                    "state": p.state.label(),
                    "invitedBy": p.invited_by,
                    "invitedAt": p.invited_ms,
                    "joinedAt": p.joined_ms,
                    "leftAt": p.left_ms,
                    "reason": p.reason.map(EndReason::label),
                })
            })
            .collect();
        serde_json::json!({
            "callId": self.call_id,
            "caller": self.caller,
            "conversationType": self.conversation.kind.code(),
            "targetId": self.conversation.target_for(&self.caller),
            "mediaType": self.media.label(),
            "roomId": self.room_id,
            "startTime": self.started_ms,
            "acceptTime": self.accepted_ms,
            "endTime": self.ended_ms,
            "duration": self.duration_ms(),
            "endReason": self.end_reason.map(EndReason::label),
            "endedBy": self.ended_by,
            "members": parties,
        })
    }
}
