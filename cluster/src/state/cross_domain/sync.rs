//! What a user's device missed (DESIGN §4, "delivery path"): its inbox, the app's
//! broadcasts and the logs of its groups, merged in feed order.

use meridian_proto::{Conversation, ConversationType};

use crate::state::apply::CommandError;
use crate::state::feed::{self, SyncPage, SyncRequest, MAX_SYNC_PAGE};
use crate::state::groups;
use crate::state::messages::{self, Message};
use crate::state::store::StateRead;

/// What `request.user_id` missed after its cursor: private and system messages, the app's
/// broadcasts and the messages of its groups sent since it joined (GRP-05), oldest first.
///
/// The page holds positions up to the head read first and no further. Applies go on while
/// the sources are read one after another, so a later source can show a message newer
/// than the head; handing it out under a cursor of that head would have the session
/// deliver it again when its live event comes (the chaos duplicate of issue 16). Every
/// apply is one atomic batch, so everything up to the head is visible to every source.
pub fn sync(
    state: &impl StateRead,
    app_key: &str,
    request: &SyncRequest,
) -> Result<SyncPage, CommandError> {
    let limit = request.limit.clamp(1, MAX_SYNC_PAGE);
    let head = feed::head(state)?;
    let in_view = |m: &Message| m.pos <= head;
    // Each source gives its oldest `limit + 1` messages for this user, in position order.
    let mut found =
        feed::inbox_after(state, app_key, &request.user_id, request.after, head, limit)?;
    let mut group_ids = Vec::new();
    for group in groups::of_user(state, app_key, &request.user_id)? {
        let joined_at_pos = groups::membership(state, app_key, &group.group_id, &request.user_id)?
            .map_or(0, |member| member.joined_at_pos);
        let conversation = Conversation::group_like(ConversationType::Group, &group.group_id, "");
        // GRP-05: nothing from before the user joined.
        let after = request.after.max(joined_at_pos.saturating_sub(1));
        found.extend(messages::after_position(
            state,
            app_key,
            &conversation,
            after,
            limit + 1,
            &|m| in_view(m) && m.visible_to(&request.user_id),
        )?);
        group_ids.push(group.group_id);
    }
    found.sort_by_key(|m| m.pos);
    let more = found.len() > limit;
    found.truncate(limit);
    let cursor = if more {
        found.last().map_or(request.after, |m| m.pos)
    } else {
        head.max(request.after)
    };
    found.retain(|m| m.sent_time_ms >= request.since_ms);
    Ok(SyncPage {
        messages: found,
        cursor,
        more,
        groups: group_ids,
    })
}
