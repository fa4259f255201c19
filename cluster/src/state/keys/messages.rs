//! Keys of messages: each conversation's log and last `seq`, the `msgUID` index, expansion
//! keys, the hourly archive and the answers to client sends.

use super::{of_app, Conversation};

pub(crate) const MESSAGE: &[u8] = b"msg/";
/// A conversation's last `seq`.
pub(crate) const LAST_SEQ: &[u8] = b"conv/";
pub(crate) const UID: &[u8] = b"msguid/";
pub(crate) const UID_COUNTER: &[u8] = b"counter/msguid";
pub(crate) const EXPANSION: &[u8] = b"mexp/";
/// The hourly archive.
pub(crate) const ARCHIVE: &[u8] = b"archive/";
/// Answers to client sends by client id (kept a day, not per app: they age out).
pub(crate) const CLIENT_SEND: &[u8] = b"clientsend/";
/// The same by time, to prune them.
pub(crate) const CLIENT_SEND_BY_TIME: &[u8] = b"clientsend-t/";
pub(crate) const CLIENT_SENDS: super::Kept = super::Kept {
    family: CLIENT_SEND,
    by_time: CLIENT_SEND_BY_TIME,
};
/// Messages that never become their conversation's last message (`disableUpdateLastMsg`).
pub(crate) const KEEPS_LAST: &[u8] = b"mkeeplast/";
pub(crate) const PER_APP: [&[u8]; 6] = [MESSAGE, LAST_SEQ, UID, EXPANSION, ARCHIVE, KEEPS_LAST];

/// `{appKey}/{type}/{first}/{second}/{channel}/`
fn conversation_path(app_key: &str, conversation: &Conversation) -> Vec<u8> {
    format!(
        "{app_key}/{}/{}/{}/{}/",
        conversation.kind.code(),
        conversation.first,
        conversation.second,
        conversation.channel
    )
    .into_bytes()
}

/// `msg/{conversation path}`: a conversation's log.
pub(crate) fn log(app_key: &str, conversation: &Conversation) -> Vec<u8> {
    [MESSAGE, &conversation_path(app_key, conversation)].concat()
}

/// `msg/{conversation path}{seq:020}`
pub(crate) fn message(app_key: &str, conversation: &Conversation, seq: u64) -> Vec<u8> {
    super::padded(&log(app_key, conversation), seq)
}

/// The log of the conversation a [`last_seq`] key names.
pub(crate) fn log_of_last_seq(last_seq_key: &[u8]) -> Option<Vec<u8>> {
    Some([MESSAGE, last_seq_key.strip_prefix(LAST_SEQ)?].concat())
}

/// `conv/{conversation path}`
pub(crate) fn last_seq(app_key: &str, conversation: &Conversation) -> Vec<u8> {
    [LAST_SEQ, &conversation_path(app_key, conversation)].concat()
}

/// `msguid/{appKey}/{msgUID}`
pub(crate) fn uid(app_key: &str, msg_uid: &str) -> Vec<u8> {
    [of_app(UID, app_key).as_slice(), msg_uid.as_bytes()].concat()
}

/// `mexp/{appKey}/{msgUID}/`
pub(crate) fn expansions(app_key: &str, msg_uid: &str) -> Vec<u8> {
    super::scoped(EXPANSION, app_key, &[msg_uid])
}

/// `mexp/{appKey}/{msgUID}/{key}`
pub(crate) fn expansion(app_key: &str, msg_uid: &str, key: &str) -> Vec<u8> {
    super::under(expansions(app_key, msg_uid), key)
}

/// `archive/{appKey}/{hour:010}/`
pub(crate) fn archive_hour(app_key: &str, hour: u64) -> Vec<u8> {
    [ARCHIVE, format!("{app_key}/{hour:010}/").as_bytes()].concat()
}

/// `archive/{appKey}/{hour:010}/{pos:020}`
pub(crate) fn archived(app_key: &str, hour: u64, pos: u64) -> Vec<u8> {
    super::padded(&archive_hour(app_key, hour), pos)
}

/// `clientsend/{appKey}/{sender}/{clientId}`
pub(crate) fn client_send(app_key: &str, sender: &str, client_id: &str) -> Vec<u8> {
    [
        CLIENT_SEND,
        format!("{app_key}/{sender}/{client_id}").as_bytes(),
    ]
    .concat()
}

/// `mkeeplast/{appKey}/{msgUID}`
pub(crate) fn keeps_last(app_key: &str, msg_uid: &str) -> Vec<u8> {
    super::under(of_app(KEEPS_LAST, app_key), msg_uid)
}
