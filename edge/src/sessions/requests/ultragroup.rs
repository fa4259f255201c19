//! Ultra groups: the user's groups and the channels a member may read with their unread
//! counts (ULG-03: no offline sync, clients fetch on reconnect), and editing a sent
//! message (ULG-07).

use meridian_cluster::state::{
    ChangeUltraGroup, Command, ConversationType, Query, QueryOutput, UltraGroupAnswer,
    UltraGroupChange, UltraGroupQuestion,
};
use meridian_proto::{ChannelBody, ServerFrame, UltraGroupBody};

use super::{Context, SessionError};
use crate::sessions::delivery::body;

const ULTRA_GROUP: Option<ConversationType> = Some(ConversationType::UltraGroup);

pub(super) async fn channels(
    cx: &Context<'_>,
    req_id: u64,
    group_id: String,
) -> Result<ServerFrame, SessionError> {
    Ok(ServerFrame::UltraGroupChannels {
        req_id,
        channels: channels_of(cx, &group_id).await?,
        group_id,
    })
}

/// The most ultra groups one `ultraGroups` answer lists.
const LISTED_GROUPS: usize = 500;

/// The user's ultra groups with their channels.
pub(super) async fn list(cx: &Context<'_>, req_id: u64) -> Result<ServerFrame, SessionError> {
    let query = Query::UserUltraGroups {
        app_key: cx.app_key(),
        user_id: cx.user_id(),
    };
    let QueryOutput::UserIds(mut ids) = cx.read(query, ULTRA_GROUP).await? else {
        return Err(SessionError::unexpected_answer());
    };
    ids.sort();
    ids.truncate(LISTED_GROUPS);
    let mut groups = Vec::with_capacity(ids.len());
    for group_id in ids {
        let channels = channels_of(cx, &group_id).await?;
        groups.push(UltraGroupBody { group_id, channels });
    }
    Ok(ServerFrame::UltraGroupList { req_id, groups })
}

/// The channels of `group_id` this user may read, with unread counts and last messages.
async fn channels_of(cx: &Context<'_>, group_id: &str) -> Result<Vec<ChannelBody>, SessionError> {
    let query = Query::UltraGroup {
        app_key: cx.app_key(),
        group_id: group_id.to_string(),
        question: UltraGroupQuestion::Unread {
            user_id: cx.user_id(),
        },
    };
    let QueryOutput::UltraGroup(UltraGroupAnswer::Unread(channels)) =
        cx.read(query, ULTRA_GROUP).await?
    else {
        return Err(SessionError::unexpected_answer());
    };
    let viewer = &cx.identity.user_id;
    Ok(channels
        .into_iter()
        .map(|(channel_id, unread, last)| ChannelBody {
            channel_id,
            unread,
            last_message: last.as_ref().map(|m| body(m, viewer, 0)),
        })
        .collect())
}

/// The sender replaces its message's content; online members get an `RC:MsgModify`.
pub(super) async fn edit(
    cx: &Context<'_>,
    req_id: u64,
    group_id: String,
    msg_uid: String,
    content: String,
) -> Result<ServerFrame, SessionError> {
    let command = Command::UltraGroup(ChangeUltraGroup {
        app_key: cx.app_key(),
        group_id,
        change: UltraGroupChange::Modify {
            msg_uid,
            sender: cx.user_id(),
            content,
        },
    });
    cx.write(command, ULTRA_GROUP).await?;
    Ok(ServerFrame::Done { req_id })
}
