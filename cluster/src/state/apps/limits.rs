//! Per-app limits (API-08): what every app gets by default (the commercial service's
//! figures) and its operator may change, per environment, through the admin API.

use meridian_proto::ConversationType;
use serde::{Deserialize, Serialize};

use super::by_key;
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::apps as keys;
use crate::state::store::{Overlay, StateRead};

/// SPEC GRP-01: 3000 members per group by default.
pub const DEFAULT_MEMBER_CAP: u64 = 3000;
/// The largest group cap an operator may set: a join of the whole group stays one apply.
pub const MAX_MEMBER_CAP: u64 = 100_000;
/// The most client sends per second per connection an operator may allow.
pub const MAX_CLIENT_SENDS_PER_SECOND: u32 = 1_000;
/// The longest history retention, in days (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3_650;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AppLimits {
    /// GRP-01: members one group holds (1–100,000).
    pub group_member_cap: u64,
    /// CHR-02: users may be in several chatrooms at once; otherwise joining one leaves
    /// the others.
    pub multi_room_chatrooms: bool,
    /// Messages one client connection may send per second (1–1,000); `None`: the edge's
    /// setting (`sessions.sends_per_second`, 5 by default).
    pub client_sends_per_second: Option<u32>,
    /// Server API rates; a class left out keeps the commercial service's.
    pub api_rates: ApiRates,
    /// How long history is kept per conversation type, in days (PRV-04, ULG-04, CHR-11;
    /// kept now, enforced by the lifecycle compaction).
    pub retention_days: RetentionDays,
}

impl Default for AppLimits {
    fn default() -> Self {
        AppLimits {
            group_member_cap: DEFAULT_MEMBER_CAP,
            multi_room_chatrooms: false,
            client_sends_per_second: None,
            api_rates: ApiRates::default(),
            retention_days: RetentionDays::default(),
        }
    }
}

/// Server API rates per class (COMPAT.md "Rate limits"); `None` keeps the default shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ApiRates {
    /// Most endpoints: 100 requests/s.
    pub default_per_second: Option<u32>,
    /// `/user/getToken.json`: 200/s.
    pub get_token_per_second: Option<u32>,
    /// Private messages: 6000 per minute (a message to N users counts N).
    pub private_messages_per_minute: Option<u32>,
    /// `/message/group/publish.json`: 20/s.
    pub group_publish_per_second: Option<u32>,
    /// `/message/chatroom/publish.json`: 100/s.
    pub chatroom_publish_per_second: Option<u32>,
    /// `/message/ultragroup/publish.json`: 100/s.
    pub ultra_group_publish_per_second: Option<u32>,
    /// `/message/chatroom/broadcast.json`: 1/s.
    pub chatroom_broadcast_per_second: Option<u32>,
    /// Broadcasts and pushes to everyone (SYS-04): 2 per hour …
    pub broadcasts_per_hour: Option<u32>,
    /// … and 3 per day.
    pub broadcasts_per_day: Option<u32>,
}

/// History retention per conversation type, in days; the seed's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RetentionDays {
    pub private: u32,
    pub group: u32,
    pub ultra_group: u32,
    pub chatroom: u32,
}

impl Default for RetentionDays {
    fn default() -> Self {
        RetentionDays {
            private: 180,
            group: 180,
            ultra_group: 7,
            chatroom: 60,
        }
    }
}

impl RetentionDays {
    /// How long a conversation of this type keeps its messages (LIFE-01); system
    /// conversations keep them as private ones do.
    pub fn days_for(&self, kind: ConversationType) -> u32 {
        match kind {
            ConversationType::Private | ConversationType::System => self.private,
            ConversationType::Group => self.group,
            ConversationType::UltraGroup => self.ultra_group,
            ConversationType::Chatroom => self.chatroom,
        }
    }
}

impl AppLimits {
    fn validate(&self) -> Result<(), CommandError> {
        let invalid = |field: &str, reason: String| Err(CommandError::invalid(field, reason));
        if !(1..=MAX_MEMBER_CAP).contains(&self.group_member_cap) {
            return invalid("groupMemberCap", format!("must be 1 to {MAX_MEMBER_CAP}"));
        }
        if let Some(sends) = self.client_sends_per_second {
            if !(1..=MAX_CLIENT_SENDS_PER_SECOND).contains(&sends) {
                return invalid(
                    "clientSendsPerSecond",
                    format!("must be 1 to {MAX_CLIENT_SENDS_PER_SECOND}"),
                );
            }
        }
        let rates = &self.api_rates;
        let all = [
            ("apiRates.defaultPerSecond", rates.default_per_second),
            ("apiRates.getTokenPerSecond", rates.get_token_per_second),
            (
                "apiRates.privateMessagesPerMinute",
                rates.private_messages_per_minute,
            ),
            (
                "apiRates.groupPublishPerSecond",
                rates.group_publish_per_second,
            ),
            (
                "apiRates.chatroomPublishPerSecond",
                rates.chatroom_publish_per_second,
            ),
            (
                "apiRates.ultraGroupPublishPerSecond",
                rates.ultra_group_publish_per_second,
            ),
            (
                "apiRates.chatroomBroadcastPerSecond",
                rates.chatroom_broadcast_per_second,
            ),
            ("apiRates.broadcastsPerHour", rates.broadcasts_per_hour),
            ("apiRates.broadcastsPerDay", rates.broadcasts_per_day),
        ];
        if let Some((field, _)) = all.iter().find(|(_, rate)| *rate == Some(0)) {
            return invalid(field, "must be at least 1".into());
        }
        let days = &self.retention_days;
        for (field, value) in [
            ("retentionDays.private", days.private),
            ("retentionDays.group", days.group),
            ("retentionDays.ultraGroup", days.ultra_group),
            ("retentionDays.chatroom", days.chatroom),
        ] {
            if !(1..=MAX_RETENTION_DAYS).contains(&value) {
                return invalid(field, format!("must be 1 to {MAX_RETENTION_DAYS}"));
            }
        }
        Ok(())
    }
}

/// The environment's limits (the defaults until its operator sets them).
pub fn limits(state: &impl StateRead, app_key: &str) -> Result<AppLimits, CommandError> {
    by_key(state, app_key)?;
    Ok(state.get(&keys::limits(app_key))?.unwrap_or_default())
}

/// Replaces an environment's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAppLimits {
    pub app_key: String,
    pub limits: AppLimits,
}

impl Apply for SetAppLimits {
    type Answer = AppLimits;

    fn apply(
        &self,
        _ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<AppLimits, CommandError> {
        by_key(state, &self.app_key)?;
        self.limits.validate()?;
        state.put(keys::limits(&self.app_key), &self.limits)?;
        Ok(self.limits.clone())
    }
}
