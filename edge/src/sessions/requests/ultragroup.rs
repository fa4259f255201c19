//! Ultra groups: the channels a member may read with their unread counts (ULG-03: no
//! offline sync, clients fetch on reconnect), and editing a sent message (ULG-07).

use meridian_cluster::state::{
    ChangeUltraGroup, Command, ConversationType, Query, QueryOutput, UltraGroupAnswer,
    UltraGroupChange, UltraGroupQuestion,
};
use meridian_proto::{ChannelBody, ServerFrame};

use super::{Context, SessionError};
use crate::sessions::delivery::body;

const ULTRA_GROUP: Option<ConversationType> = Some(ConversationType::UltraGroup);

pub(super) async fn channels(
    cx: &Context<'_>,
    req_id: u64,
    group_id: String,
) -> Result<ServerFrame, SessionError> {
    let query = Query::UltraGroup {
        app_key: cx.app_key(),
        group_id: group_id.clone(),
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
    Ok(ServerFrame::UltraGroupChannels {
        req_id,
        group_id,
        channels: channels
            .into_iter()
            .map(|(channel_id, unread, last)| ChannelBody {
                channel_id,
                unread,
                last_message: last.as_ref().map(|m| body(m, viewer, 0)),
            })
            .collect(),
    })
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
