//! Acting on a sent message: recalling it (PRV-08), group read receipts and who read
//! (GRP-03), and its expansion keys (MSG-04).

use std::collections::BTreeMap;

use meridian_cluster::state::messages::change_notice;
use meridian_cluster::state::{
    ChangeExpansion, Command, ConversationType, GroupReadReceipt, Publish, Query, QueryOutput,
    Recall,
};
use meridian_proto::{Reader, ServerFrame};

use super::{Context, SessionError};

pub(super) async fn recall(
    cx: &Context<'_>,
    req_id: u64,
    msg_uid: String,
) -> Result<ServerFrame, SessionError> {
    let command = Command::Recall(Recall {
        app_key: cx.app_key(),
        sender: cx.user_id(),
        msg_uid,
        by_admin: false,
        delete: false,
    });
    cx.write(command, None).await?;
    Ok(ServerFrame::Done { req_id })
}

/// This member has read these group messages; their senders hear of it.
pub(super) async fn group_receipt(
    cx: &Context<'_>,
    req_id: u64,
    group_id: String,
    msg_uids: Vec<String>,
) -> Result<ServerFrame, SessionError> {
    let command = Command::GroupReadReceipt(GroupReadReceipt {
        app_key: cx.app_key(),
        group_id,
        user_id: cx.user_id(),
        msg_uids,
    });
    cx.write(command, Some(ConversationType::Group)).await?;
    Ok(ServerFrame::Done { req_id })
}

pub(super) async fn readers(
    cx: &Context<'_>,
    req_id: u64,
    msg_uid: String,
) -> Result<ServerFrame, SessionError> {
    let query = Query::Readers {
        app_key: cx.app_key(),
        msg_uid: msg_uid.clone(),
    };
    let QueryOutput::Readers(readers) = cx.read(query, None).await? else {
        return Err(SessionError::unexpected_answer());
    };
    Ok(ServerFrame::ReaderList {
        req_id,
        msg_uid,
        readers: readers
            .into_iter()
            .map(|(user_id, read_time)| Reader { user_id, read_time })
            .collect(),
    })
}

/// Sets and removes expansion keys of a message in one of the user's conversations; the
/// conversation hears of the change through an `RC:MsgExMsg` status message.
pub(super) async fn set_expansion(
    cx: &Context<'_>,
    req_id: u64,
    msg_uid: String,
    set: BTreeMap<String, String>,
    remove: Vec<String>,
) -> Result<ServerFrame, SessionError> {
    let query = Query::GetMessage {
        app_key: cx.app_key(),
        msg_uid: msg_uid.clone(),
    };
    let QueryOutput::Messages(found) = cx.read(query, None).await? else {
        return Err(SessionError::unexpected_answer());
    };
    let Some(message) = found.into_iter().next() else {
        return Err(SessionError::invalid("no such message"));
    };
    let conversation = &message.conversation;
    let user_id = &cx.identity.user_id;
    if conversation.kind == ConversationType::Private
        && ![&conversation.first, &conversation.second].contains(&user_id)
    {
        let why = "not a message of this user's conversations";
        return Err(SessionError::invalid(why));
    }
    let entries: Vec<(String, Option<String>)> = set
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .chain(remove.iter().map(|k| (k.clone(), None)))
        .collect();
    if entries.is_empty() {
        return Err(SessionError::invalid("name keys to set or remove"));
    }
    let notice = change_notice(&message, user_id, &entries);
    // The change and its notice commit together, or neither does.
    let both = Command::All(vec![
        Command::ChangeExpansion(ChangeExpansion {
            app_key: cx.app_key(),
            msg_uid,
            entries,
        }),
        Command::Publish(Publish {
            app_key: cx.app_key(),
            messages: vec![notice],
        }),
    ]);
    cx.write(both, None).await?;
    Ok(ServerFrame::Done { req_id })
}
