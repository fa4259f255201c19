//! Conversations: their type codes (SPEC §1) and how the service names one. Defined
//! here once for the edge, the cluster (which stores them: their serde encoding is part
//! of the Raft log's format) and the SDK.

use serde::{Deserialize, Serialize};

pub const PRIVATE: u8 = ConversationType::Private as u8;
pub const GROUP: u8 = ConversationType::Group as u8;
pub const CHATROOM: u8 = ConversationType::Chatroom as u8;
pub const SYSTEM: u8 = ConversationType::System as u8;
pub const ULTRA_GROUP: u8 = ConversationType::UltraGroup as u8;

/// Wire codes of conversation types (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConversationType {
    Private = 1,
    Group = 3,
    Chatroom = 4,
    System = 6,
    UltraGroup = 10,
}

impl ConversationType {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Private,
            3 => Self::Group,
            4 => Self::Chatroom,
            6 => Self::System,
            10 => Self::UltraGroup,
            _ => return None,
        })
    }
}

/// A conversation as the service stores it. PRIVATE is keyed by the unordered pair of
/// users (each side sees the other as its target); SYSTEM by (system account, user);
/// the others by their group/room id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub kind: ConversationType,
    /// PRIVATE: the smaller user id; SYSTEM: the system account; else the group/room id.
    pub first: String,
    /// PRIVATE: the larger user id; SYSTEM: the user; else empty.
    pub second: String,
    pub channel: String,
}

impl Conversation {
    pub fn private(a: &str, b: &str, channel: &str) -> Self {
        let (first, second) = if a <= b { (a, b) } else { (b, a) };
        Self {
            kind: ConversationType::Private,
            first: first.to_string(),
            second: second.to_string(),
            channel: channel.to_string(),
        }
    }

    pub fn system(system_account: &str, user: &str) -> Self {
        Self {
            kind: ConversationType::System,
            first: system_account.to_string(),
            second: user.to_string(),
            channel: String::new(),
        }
    }

    pub fn group_like(kind: ConversationType, id: &str, channel: &str) -> Self {
        Self {
            kind,
            first: id.to_string(),
            second: String::new(),
            channel: channel.to_string(),
        }
    }

    /// The conversation's target as `viewer` sees it (SPEC §1 "Target ID").
    pub fn target_for(&self, viewer: &str) -> &str {
        match self.kind {
            ConversationType::Private if self.first == viewer => &self.second,
            ConversationType::Private => &self.first,
            _ => &self.first,
        }
    }
}
