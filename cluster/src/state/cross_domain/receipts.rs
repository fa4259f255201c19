//! Group read receipts (GRP-03): who read which group message, told to each message's
//! sender with an `RC:RRRspMsg` only the senders see.

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use super::publish::{publish, Publication};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::groups;
use crate::state::messages::{self, MessageFlags, NewMessage};
use crate::state::store::Overlay;

/// Messages one group receipt may name.
pub const MAX_RECEIPT_MESSAGES: usize = 100;

/// A member has read these group messages (GRP-03).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReadReceipt {
    pub app_key: String,
    pub group_id: String,
    pub user_id: String,
    pub msg_uids: Vec<String>,
}

impl Apply for GroupReadReceipt {
    type Answer = Vec<Publication>;

    /// GRP-03: `user_id` has read these group messages. Records who read what and tells each
    /// message's sender with an `RC:RRRspMsg` visible to the senders only.
    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        let app_key: &str = &self.app_key;
        let group_id: &str = &self.group_id;
        let user_id: &str = &self.user_id;
        let msg_uids: &[String] = &self.msg_uids;
        if msg_uids.is_empty() || msg_uids.len() > MAX_RECEIPT_MESSAGES {
            return Err(CommandError::invalid(
                "msgUIDs",
                format!("1 to {MAX_RECEIPT_MESSAGES} message ids"),
            ));
        }
        if groups::membership(state, app_key, group_id, user_id)?.is_none() {
            return Err(CommandError::NotMember {
                what: format!("group {group_id}"),
            });
        }
        let mut by_sender: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for msg_uid in msg_uids {
            let message = messages::by_uid(state, app_key, msg_uid)?;
            let conversation = &message.conversation;
            if conversation.kind != ConversationType::Group || conversation.first != group_id {
                return Err(CommandError::invalid(
                    "msgUIDs",
                    format!("{msg_uid} is not a message of group {group_id}"),
                ));
            }
            let first_read = message.sender != user_id
                && groups::record_reader(state, app_key, msg_uid, user_id, ctx.now_ms)?;
            if first_read {
                by_sender
                    .entry(message.sender)
                    .or_default()
                    .push(msg_uid.clone());
            }
        }
        if by_sender.is_empty() {
            return Ok(Vec::new());
        }
        let notice = NewMessage {
            conversation: Conversation::group_like(ConversationType::Group, group_id, ""),
            sender: user_id.to_string(),
            recipient: None,
            object_name: "RC:RRRspMsg".into(),
            content: serde_json::json!({ "receiptMessageDic": by_sender }).to_string(),
            flags: MessageFlags::builtin("RC:RRRspMsg"),
            push_content: None,
            push_data: None,
            verify_blacklist: false,
            visible_to: by_sender.keys().cloned().collect(),
            sender_device: None,
        };
        publish(ctx, state, app_key, &[notice])
    }
}
