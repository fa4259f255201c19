//! A user's own view of a conversation's history: pages, search, and deleting or
//! clearing messages from that view only (PRV-05).

use meridian_cluster::state::{
    Command, Conversation, DeleteForUser, HistoryPage, Query, QueryOutput,
};
use meridian_proto::{MessageBody, ServerFrame};

use super::{Context, SessionError};
use crate::now_ms;
use crate::sessions::delivery::body;

/// Which page of a conversation's history.
pub(super) enum Span {
    /// Sent before this time (ms; 0: now), newest first.
    Before(u64),
    /// Sent after this time (ms), oldest first.
    After(u64),
}

/// One page of `span`.
pub(super) async fn page(
    cx: &Context<'_>,
    req_id: u64,
    conversation: Conversation,
    span: Span,
    limit: usize,
) -> Result<ServerFrame, SessionError> {
    let range = match span {
        Span::Before(before) => Range {
            from_ms: 0,
            to_ms: before.checked_sub(1).unwrap_or(u64::MAX),
            newest_first: true,
        },
        Span::After(after) => Range {
            from_ms: after.saturating_add(1),
            to_ms: u64::MAX,
            newest_first: false,
        },
    };
    let messages = read_page(cx, conversation, range, limit, None, None).await?;
    Ok(ServerFrame::HistoryPage { req_id, messages })
}

/// The `seq` of the last message of `conversation` sent at or before `time_ms` (0: none),
/// for marking it read by time.
pub(super) async fn last_seq_at(
    cx: &Context<'_>,
    conversation: Conversation,
    time_ms: u64,
) -> Result<u64, SessionError> {
    let range = Range {
        from_ms: 0,
        to_ms: time_ms,
        newest_first: true,
    };
    let last = read_page(cx, conversation, range, 1, None, None).await?;
    Ok(last.first().map_or(0, |m| m.seq))
}

/// Messages with `keyword` in their content and/or from `sender`, newest first.
pub(super) async fn search(
    cx: &Context<'_>,
    req_id: u64,
    conversation: Conversation,
    keyword: Option<String>,
    sender: Option<String>,
    limit: usize,
) -> Result<ServerFrame, SessionError> {
    if keyword.as_deref().is_none_or(str::is_empty) && sender.is_none() {
        return Err(SessionError::invalid(
            "name a keyword and/or a senderUserId",
        ));
    }
    let messages = read_page(cx, conversation, Range::ALL, limit, keyword, sender).await?;
    Ok(ServerFrame::HistoryPage { req_id, messages })
}

pub(super) async fn delete(
    cx: &Context<'_>,
    req_id: u64,
    conversation: Conversation,
    msg_uids: Vec<String>,
) -> Result<ServerFrame, SessionError> {
    delete_for_user(cx, conversation, None, msg_uids).await?;
    Ok(ServerFrame::Done { req_id })
}

/// Clears everything sent before `before_time` (0: now).
pub(super) async fn clear(
    cx: &Context<'_>,
    req_id: u64,
    conversation: Conversation,
    before_time: u64,
) -> Result<ServerFrame, SessionError> {
    let before = if before_time == 0 {
        now_ms()
    } else {
        before_time
    };
    delete_for_user(cx, conversation, Some(before), Vec::new()).await?;
    Ok(ServerFrame::Done { req_id })
}

/// Sent times from `from_ms` to `to_ms` (both included), in one order.
struct Range {
    from_ms: u64,
    to_ms: u64,
    newest_first: bool,
}

impl Range {
    const ALL: Range = Range {
        from_ms: 0,
        to_ms: u64::MAX,
        newest_first: true,
    };
}

/// A page of the user's own view of a conversation within `range`.
async fn read_page(
    cx: &Context<'_>,
    conversation: Conversation,
    range: Range,
    limit: usize,
    keyword: Option<String>,
    sender: Option<String>,
) -> Result<Vec<MessageBody>, SessionError> {
    let query = Query::History {
        app_key: cx.app_key(),
        page: HistoryPage {
            conversation,
            viewer: Some(cx.user_id()),
            from_ms: range.from_ms,
            to_ms: range.to_ms,
            newest_first: range.newest_first,
            limit,
            members_only: true,
            keyword,
            sender,
        },
    };
    let QueryOutput::Messages(messages) = cx.read(query, None).await? else {
        return Err(SessionError::unexpected_answer());
    };
    let viewer = &cx.identity.user_id;
    Ok(messages.iter().map(|m| body(m, viewer, 0)).collect())
}

async fn delete_for_user(
    cx: &Context<'_>,
    conversation: Conversation,
    before_ms: Option<u64>,
    msg_uids: Vec<String>,
) -> Result<(), SessionError> {
    let command = Command::DeleteForUser(DeleteForUser {
        app_key: cx.app_key(),
        user_id: cx.user_id(),
        conversation,
        before_ms,
        msg_uids,
    });
    cx.write(command, None).await?;
    Ok(())
}
