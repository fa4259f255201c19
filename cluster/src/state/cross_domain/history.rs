//! A page of a conversation's history, as a client or the Server API asks for it: what
//! the viewer may see (membership and join, directed messages, its own deletions) in a
//! window of time, optionally filtered.

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use crate::state::apply::CommandError;
use crate::state::messages::{self, Message, MAX_PAGE};
use crate::state::store::StateRead;
use crate::state::{apps, conversations, groups, ultragroups};

/// Which page of a conversation's history a query wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub conversation: Conversation,
    /// Whose view: directed messages to others are left out.
    pub viewer: Option<String>,
    pub from_ms: u64,
    pub to_ms: u64,
    pub newest_first: bool,
    pub limit: usize,
    /// A client's view: group and ultra-group history only for members, and only since
    /// they joined (GRP-05, ULG-04).
    pub members_only: bool,
    /// Only messages containing this text (case-insensitive) (PRV-06).
    pub keyword: Option<String>,
    /// Only messages from this user (PRV-06).
    pub sender: Option<String>,
}

/// Where `viewer`'s view of a group-like conversation starts (its join, or the beginning
/// with the app's pre-join history option); refused for non-members.
fn joined_at_pos(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    viewer: &str,
) -> Result<u64, CommandError> {
    let not_member = |what: &str| CommandError::NotMember {
        what: format!("{what} {}", conversation.first),
    };
    let pre_join = apps::settings(state, app_key)?.pre_join_history;
    let since = |joined: u64| if pre_join { 0 } else { joined };
    match conversation.kind {
        ConversationType::Group => groups::membership(state, app_key, &conversation.first, viewer)?
            .map(|m| since(m.joined_at_pos))
            .ok_or_else(|| not_member("group")),
        ConversationType::UltraGroup => {
            ultragroups::joined_at_pos(state, app_key, &conversation.first, viewer)?
                .map(since)
                .ok_or_else(|| not_member("ultra group"))
        }
        _ => Ok(0),
    }
}

/// A page of a conversation's history between two instants, oldest first or newest first.
pub(in crate::state) fn history(
    state: &impl StateRead,
    app_key: &str,
    page: &HistoryPage,
) -> Result<Vec<Message>, CommandError> {
    let HistoryPage {
        conversation,
        viewer,
        from_ms,
        to_ms,
        newest_first,
        limit,
        members_only,
        keyword,
        sender,
    } = page;
    let keyword = keyword.as_ref().map(|k| k.to_lowercase());
    let since_pos = match (members_only, viewer) {
        (true, Some(viewer)) => joined_at_pos(state, app_key, conversation, viewer)?,
        _ => 0,
    };
    let (from_ms, to_ms, newest_first, limit) = (*from_ms, *to_ms, *newest_first, *limit);
    let viewer = viewer.as_deref();
    apps::by_key(state, app_key)?;
    let deletions = viewer
        .map(|v| conversations::deletions(state, app_key, v, conversation))
        .transpose()?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut page = Vec::new();
    // Sequence order is time order (the leader's stamps never go backwards), so a page
    // stops as soon as it leaves the window.
    messages::visit_log(state, app_key, conversation, newest_first, &mut |message| {
        let time = message.sent_time_ms;
        let past_window = if newest_first {
            time < from_ms
        } else {
            time > to_ms
        };
        if past_window {
            return Ok(false);
        }
        let visible = viewer.is_none_or(|v| message.visible_to(v)) && message.pos >= since_pos;
        let matches = sender.as_ref().is_none_or(|s| &message.sender == s)
            && keyword
                .as_ref()
                .is_none_or(|k| message.content.to_lowercase().contains(k));
        if visible && matches && (from_ms..=to_ms).contains(&time) {
            // What the viewer deleted from its own view stays out of it (PRV-05).
            let hidden = match &deletions {
                Some(deletions) => deletions.hides(&message)?,
                None => false,
            };
            if !hidden {
                page.push(message);
            }
        }
        Ok(page.len() < limit)
    })?;
    Ok(page)
}
