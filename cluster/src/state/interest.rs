//! What an edge's sessions are routed by, so the leader passes an edge only the feed events
//! that concern it (DESIGN §4, "Tailing").
//!
//! A key is a 64-bit SipHash-1-3 with fixed keys (so every build and process agrees) of one
//! thing the edge's registry routes by: a user, an app (its broadcasts), a group or ultra
//! group, a chatroom. Two keys that collide only let an edge read an event it then drops;
//! none is ever withheld from it.

use std::hash::Hasher;

use meridian_proto::{Conversation, ConversationType};
use siphasher::sip::SipHasher13;

use super::feed::FeedEvent;

pub type InterestKey = u64;

pub fn user(app_key: &str, user_id: &str) -> InterestKey {
    key(1, app_key, user_id)
}

/// An app's broadcasts (system messages to all its users).
pub fn app(app_key: &str) -> InterestKey {
    key(2, app_key, "")
}

/// A group or an ultra group: different conversations even with the same id.
pub fn group(app_key: &str, kind: ConversationType, id: &str) -> InterestKey {
    let tag = if kind == ConversationType::UltraGroup {
        4
    } else {
        3
    };
    key(tag, app_key, id)
}

pub fn room(app_key: &str, room_id: &str) -> InterestKey {
    key(5, app_key, room_id)
}

fn key(tag: u8, app_key: &str, id: &str) -> InterestKey {
    let mut hasher = SipHasher13::new_with_keys(0, 0);
    hasher.write(&[tag]);
    hasher.write(&(app_key.len() as u64).to_le_bytes());
    hasher.write(app_key.as_bytes());
    hasher.write(id.as_bytes());
    hasher.finish()
}

/// Whether a message of `conversation` goes to a session routed by a key `wanted` holds:
/// the same routing as the edge registry's (`recipients`).
pub fn message_concerns(
    app_key: &str,
    conversation: &Conversation,
    wanted: &impl Fn(InterestKey) -> bool,
) -> bool {
    match conversation.kind {
        ConversationType::Private => {
            wanted(user(app_key, &conversation.first))
                || wanted(user(app_key, &conversation.second))
        }
        ConversationType::System if conversation.second.is_empty() => wanted(app(app_key)),
        ConversationType::System => wanted(user(app_key, &conversation.second)),
        ConversationType::Group | ConversationType::UltraGroup => {
            wanted(group(app_key, conversation.kind, &conversation.first))
        }
        ConversationType::Chatroom => wanted(room(app_key, &conversation.first)),
    }
}

impl FeedEvent {
    /// Whether a session routed by a key `wanted` holds needs this event.
    pub fn concerns(&self, wanted: &impl Fn(InterestKey) -> bool) -> bool {
        let any_user =
            |app_key: &str, users: &[String]| users.iter().any(|u| wanted(user(app_key, u)));
        match self {
            FeedEvent::Message { app_key, message } => {
                message_concerns(app_key, &message.conversation, wanted)
            }
            FeedEvent::Members {
                app_key,
                kind: ConversationType::Chatroom,
                id,
                ..
            } => wanted(room(app_key, id)),
            FeedEvent::Members {
                app_key,
                kind,
                id,
                joined,
                left,
                ..
            } => {
                wanted(group(app_key, *kind, id))
                    || any_user(app_key, joined)
                    || any_user(app_key, left)
            }
            FeedEvent::Banned { app_key, user_ids } => any_user(app_key, user_ids),
            FeedEvent::Rtc { app_key, to, .. } => any_user(app_key, to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_across_builds_and_tell_kinds_apart() {
        // A build that hashed differently would filter out what an older edge asked for.
        assert_eq!(user("app", "u1"), 0xb047_b822_78b1_c8af);
        let keys = [
            user("app", "g1"),
            app("app"),
            group("app", ConversationType::Group, "g1"),
            group("app", ConversationType::UltraGroup, "g1"),
            room("app", "g1"),
            user("ap", "pg1"),
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn a_private_message_concerns_both_users_and_a_broadcast_the_app() {
        let private = Conversation {
            kind: ConversationType::Private,
            first: "a".into(),
            second: "b".into(),
            channel: String::new(),
        };
        for holder in ["a", "b"] {
            let wanted = |k| k == user("app", holder);
            assert!(message_concerns("app", &private, &wanted));
        }
        assert!(!message_concerns("app", &private, &|k| k == user("app", "c")));
        assert!(!message_concerns("other", &private, &|k| k == user("app", "a")));
        let broadcast = Conversation {
            kind: ConversationType::System,
            first: "sys".into(),
            second: String::new(),
            channel: String::new(),
        };
        assert!(message_concerns("app", &broadcast, &|k| k == app("app")));
        assert!(!message_concerns("app", &broadcast, &|k| k == user("app", "sys")));
    }
}
