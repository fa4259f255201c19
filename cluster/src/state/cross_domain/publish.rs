//! Publishing (DESIGN §4): a message is stored once, in its conversation's log, and fans
//! out from there to the feed and the sync indexes, the recipients' conversation lists,
//! the app server's callbacks and pushes, and the hourly archive. Client sends are also
//! checked against memberships, mutes, blacklists and sensitive words first, and stored
//! once however often the client retries.

use meridian_proto::{Conversation, ConversationType};
use meridian_push::PushOptions;
use serde::{Deserialize, Serialize};

use super::{calls, client_sends, notifications};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::chatrooms::{self, Priority};
use crate::state::messages::expansions::{ChangeExpansion, MAX_EXPANSION_KEYS};
use crate::state::messages::{self, archive, Message, MessageFlags, NewMessage};
use crate::state::push::PushProvider;
use crate::state::sensitive::{self, screen_content, screen_text, Screened};
use crate::state::store::{Overlay, StateRead};
use crate::state::users::{self, UserList};
use crate::state::{apps, conversations, feed, groups, push, ultragroups, usage, user_extras};

/// What became of one message of a publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Publication {
    Stored {
        msg_uid: String,
        seq: u64,
        sent_time_ms: u64,
    },
    /// Status message: delivered to online devices only, never stored.
    Transient { msg_uid: String, sent_time_ms: u64 },
    /// The recipient's blacklist (or whitelist mode) refuses this sender.
    Blocked,
    /// A chatroom over its message budget dropped it (CHR-06): neither stored nor delivered.
    Dropped {
        msg_uid: String,
        sent_time_ms: u64,
        priority: Priority,
    },
    /// A client's text contains one of the app's sensitive words (HOOK-06).
    Sensitive,
    /// An app server's message to a chatroom that does not exist: accepted, as the
    /// commercial service accepts it, but neither stored nor delivered (nobody is in it).
    Unrouted { msg_uid: String, sent_time_ms: u64 },
}

/// What an app server's publish asks beyond its messages (API-07); the default is what
/// clients and the service's own notices get.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOptions {
    /// `isIncludeSender` off (the commercial default): none of the sender's devices gets
    /// a copy, live or by sync; the message is in the conversation's history all the same.
    pub exclude_sender: bool,
    /// `disablePush`: offline recipients get no notification.
    pub disable_push: bool,
    /// `pushExt.title`: the notification's title instead of the sender's name.
    pub push_title: Option<String>,
    /// `disableUpdateLastMsg`: conversation lists keep showing the message before it.
    pub keep_last_message: bool,
    /// `extraContent` (with `expansion`): the message's expansion keys from the start.
    pub expansion: Vec<(String, String)>,
}

/// Stores an app server's messages with what its call asked (API-07).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishWithOptions {
    pub app_key: String,
    pub messages: Vec<NewMessage>,
    pub options: SendOptions,
}

impl Apply for PublishWithOptions {
    type Answer = Vec<Publication>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        let Self {
            app_key,
            messages,
            options,
        } = self;
        publish_with(
            ctx,
            state,
            app_key,
            messages,
            options,
            (&PushOptions::default(), &[]),
        )
    }
}

/// Stores an app server's messages with what its call asked, its notifications' options
/// too (`count`, `contentAvailable`, `pushExt.pushConfigs`; API-07, PUSH-05). Edges send
/// it only when those are asked, so publishes go on during a rolling upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishWithPush {
    pub app_key: String,
    pub messages: Vec<NewMessage>,
    pub options: SendOptions,
    /// Boxed: commands are moved through deep async stacks (bincode encodes it unboxed).
    pub push: Box<PushOptions>,
}

impl Apply for PublishWithPush {
    type Answer = Vec<Publication>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        self.publish_through(ctx, state, &[])
    }
}

impl PublishWithPush {
    /// Stores the messages, their notifications going through `providers` (empty: all).
    fn publish_through(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
        providers: &[PushProvider],
    ) -> Result<Vec<Publication>, CommandError> {
        let Self {
            app_key,
            messages,
            options,
            push,
        } = self;
        push.validate()
            .map_err(|reason| CommandError::invalid("pushExt", reason))?;
        publish_with(ctx, state, app_key, messages, options, (push, providers))
    }
}

/// [`PublishWithPush`] of broadcasts whose pushes reach only these providers' devices
/// (`/message/broadcast.json`'s `os`); every user still keeps the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastToPlatforms {
    pub publish: PublishWithPush,
    pub providers: Vec<PushProvider>,
}

impl Apply for BroadcastToPlatforms {
    type Answer = Vec<Publication>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        self.publish.publish_through(ctx, state, &self.providers)
    }
}

/// Stores messages (one per conversation); each gets a `msgUID` and, unless it is a
/// status message, the next `seq` of its conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publish {
    pub app_key: String,
    pub messages: Vec<NewMessage>,
}

impl Apply for Publish {
    type Answer = Vec<Publication>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        let Self { app_key, messages } = self;
        publish(ctx, state, app_key, messages)
    }
}

/// Recalls a stored message and stores the `RC:RcCmd` notice of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recall {
    pub app_key: String,
    pub sender: String,
    pub msg_uid: String,
    pub by_admin: bool,
    pub delete: bool,
}

impl Apply for Recall {
    type Answer = Vec<Publication>;

    /// Marks a message recalled (its content removed when `delete`) and stores the
    /// `RC:RcCmd` notification every member will see.
    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        let app_key: &str = &self.app_key;
        let sender: &str = &self.sender;
        let msg_uid: &str = &self.msg_uid;
        let by_admin = self.by_admin;
        let delete = self.delete;
        let mut message = messages::by_uid(state, app_key, msg_uid)?;
        if !by_admin && message.sender != sender {
            return Err(CommandError::invalid(
                "fromUserId",
                "only the sender (or an admin) may recall a message",
            ));
        }
        if message.recalled {
            return Err(CommandError::Conflict {
                what: format!("recall of {msg_uid}"),
            });
        }
        message.recalled = true;
        if delete {
            message.content.clear();
        }
        messages::replace(state, app_key, &message)?;
        let notice = RecallNotice {
            msg_uid,
            original_sender: &message.sender,
            by_admin,
            delete,
        }
        .message(&message.conversation, sender, message.visible_to.clone());
        publish(ctx, state, app_key, &[notice])
    }
}

/// The `RC:RcCmd` message that tells a conversation's devices a message was recalled.
pub struct RecallNotice<'a> {
    pub msg_uid: &'a str,
    /// Who sent the recalled message: `targetId` is the conversation as they see it.
    pub original_sender: &'a str,
    pub by_admin: bool,
    pub delete: bool,
}

impl RecallNotice<'_> {
    pub fn message(
        &self,
        conversation: &Conversation,
        recaller: &str,
        visible_to: Vec<String>,
    ) -> NewMessage {
        NewMessage {
            conversation: conversation.clone(),
            sender: recaller.to_string(),
            recipient: None,
            object_name: "RC:RcCmd".into(),
            content: serde_json::json!({
                "messageUId": self.msg_uid,
                "conversationType": conversation.kind.code(),
                "targetId": conversation.target_for(self.original_sender),
                "channelId": conversation.channel,
                "isAdmin": u8::from(self.by_admin),
                "isDelete": u8::from(self.delete),
            })
            .to_string(),
            flags: MessageFlags::builtin("RC:RcCmd"),
            push_content: None,
            push_data: None,
            verify_blacklist: false,
            visible_to,
            sender_device: None,
        }
    }
}

fn blocked_by_lists(
    state: &impl StateRead,
    app_key: &str,
    message: &NewMessage,
) -> Result<bool, CommandError> {
    let Some(recipient) = &message.recipient else {
        return Ok(false);
    };
    // PRV-10 / PRV-11: the app runs one of the two modes.
    if apps::settings(state, app_key)?.whitelist_mode {
        let white = users::list_members(state, app_key, UserList::White, recipient)?;
        return Ok(!white.contains(&message.sender));
    }
    let black = users::list_members(state, app_key, UserList::Black, recipient)?;
    Ok(black.contains(&message.sender))
}

/// Stores each message (or not, for status messages) and answers what became of it.
pub(in crate::state) fn publish(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    messages: &[NewMessage],
) -> Result<Vec<Publication>, CommandError> {
    let defaults = (SendOptions::default(), PushOptions::default());
    publish_with(
        ctx,
        state,
        app_key,
        messages,
        &defaults.0,
        (&defaults.1, &[]),
    )
}

/// What the notifications of a publish carry, and the providers they may go through
/// (empty: all).
type PushTo<'a> = (&'a PushOptions, &'a [PushProvider]);

fn publish_with(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    messages: &[NewMessage],
    options: &SendOptions,
    push: PushTo<'_>,
) -> Result<Vec<Publication>, CommandError> {
    apps::by_key(state, app_key)?;
    options.validate()?;
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        messages::validate(message)?;
        let conversation = &message.conversation;
        let mut visible_to = message.visible_to.clone();
        match conversation.kind {
            // A group the app server never filled has no members: the message is kept in
            // its history and reaches nobody, as on the commercial service. Clients must
            // be members (`may_send_from_client`).
            ConversationType::Group => groups::validate_group_id(&conversation.first)?,
            ConversationType::Chatroom => {
                let from_app_server = message.sender_device.is_none();
                if from_app_server && !chatrooms::exists(state, app_key, &conversation.first)? {
                    out.push(Publication::Unrouted {
                        msg_uid: messages::next_uid(ctx, state)?,
                        sent_time_ms: ctx.now_ms,
                    });
                    continue;
                }
                chatrooms::touch(ctx, state, app_key, &conversation.first)?;
            }
            ConversationType::UltraGroup => {
                let audience = ultragroups::audience(
                    state,
                    app_key,
                    &conversation.first,
                    &conversation.channel,
                )?;
                if !audience.is_empty() {
                    visible_to = audience;
                }
            }
            _ => {}
        }
        if let Some(origin) = &message.sender_device {
            if let Some(earlier) = client_sends::earlier(state, app_key, &message.sender, origin)? {
                out.push(earlier);
                continue;
            }
            may_send_from_client(ctx, state, app_key, message)?;
        }
        if message.verify_blacklist && blocked_by_lists(state, app_key, message)? {
            out.push(Publication::Blocked);
            continue;
        }
        let (mut content, mut push_content) =
            (message.content.clone(), message.push_content.clone());
        if message.sender_device.is_some() {
            let words = sensitive::list(state, app_key)?;
            let screened = [
                screen_content(&words, &message.object_name, &message.content),
                // The push text shows on lock screens: screened like the content.
                message
                    .push_content
                    .as_deref()
                    .map_or(Screened::Clean, |text| screen_text(&words, text)),
            ];
            if screened.contains(&Screened::Refused) {
                out.push(Publication::Sensitive);
                continue;
            }
            let [screened_content, screened_push] = screened;
            if let Screened::Replaced(text) = screened_content {
                content = text;
            }
            if let Screened::Replaced(text) = screened_push {
                push_content = Some(text);
            }
        }
        let msg_uid = messages::next_uid(ctx, state)?;
        if message.conversation.kind == ConversationType::Chatroom {
            let admitted = chatrooms::admit(
                ctx,
                state,
                app_key,
                &message.conversation.first,
                &message.sender,
                &message.object_name,
            )?;
            if let Err(priority) = admitted {
                let publication = Publication::Dropped {
                    msg_uid,
                    sent_time_ms: ctx.now_ms,
                    priority,
                };
                client_sends::remember(ctx, state, app_key, message, &publication)?;
                out.push(publication);
                continue;
            }
            chatrooms::message_accepted(ctx, state, app_key, &message.conversation.first)?;
        }
        let mut built = Message {
            msg_uid: msg_uid.clone(),
            conversation: message.conversation.clone(),
            sender: message.sender.clone(),
            object_name: message.object_name.clone(),
            content,
            sent_time_ms: ctx.now_ms,
            seq: 0,
            counted: message.flags.counted,
            push_content,
            push_data: message.push_data.clone(),
            recalled: false,
            modified: false,
            visible_to,
            pos: feed::next_position(state)?,
            sender_device: match &message.sender_device {
                Some(origin) => Some(origin.device_id.clone()),
                None if options.exclude_sender => Some(Message::NO_SENDER_DEVICE.to_string()),
                None => None,
            },
        };
        if !message.flags.persisted {
            feed::append_event(
                state,
                feed::FeedEvent::Message {
                    app_key: app_key.to_string(),
                    message: Box::new(built),
                },
            )?;
            usage::message_published(ctx, state, app_key, message.conversation.kind)?;
            let publication = Publication::Transient {
                msg_uid,
                sent_time_ms: ctx.now_ms,
            };
            client_sends::remember(ctx, state, app_key, message, &publication)?;
            out.push(publication);
            continue;
        }
        messages::append(state, app_key, &mut built)?;
        stored(ctx, state, app_key, &built, options, push)?;
        usage::message_published(ctx, state, app_key, built.conversation.kind)?;
        // After it is stored: the server's own answer (busy) follows it in the log.
        calls::observe(ctx, state, app_key, &built)?;
        let seq = built.seq;
        let publication = Publication::Stored {
            msg_uid,
            seq,
            sent_time_ms: ctx.now_ms,
        };
        client_sends::remember(ctx, state, app_key, message, &publication)?;
        out.push(publication);
    }
    Ok(out)
}

/// A stored message's effects beyond its log: the feed and the sync indexes, the lists of
/// the users whose inbox it reached, callbacks and pushes, and the hourly archive.
fn stored(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
    options: &SendOptions,
    push: PushTo<'_>,
) -> Result<(), CommandError> {
    for user in feed::append_stored(state, app_key, message)? {
        conversations::index(state, app_key, &user, &message.conversation)?;
    }
    if options.keep_last_message {
        messages::keep_last_message(state, app_key, &message.msg_uid)?;
    }
    if !options.expansion.is_empty() {
        let entries = options
            .expansion
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())));
        ChangeExpansion {
            app_key: app_key.to_string(),
            msg_uid: message.msg_uid.clone(),
            entries: entries.collect(),
        }
        .apply(ctx, state)?;
    }
    notifications::message_stored(ctx, state, app_key, message, options, push)?;
    archive::index(state, app_key, message)
}

impl SendOptions {
    fn validate(&self) -> Result<(), CommandError> {
        if let Some(title) = &self.push_title {
            if title.chars().count() > push::MAX_NOTICE_TITLE_CHARS {
                return Err(CommandError::invalid(
                    "pushExt",
                    format!(
                        "title must be at most {} characters",
                        push::MAX_NOTICE_TITLE_CHARS
                    ),
                ));
            }
        }
        if self.expansion.len() as u64 > MAX_EXPANSION_KEYS {
            return Err(CommandError::Limit {
                what: "expansion keys of a message".into(),
                limit: MAX_EXPANSION_KEYS,
            });
        }
        Ok(())
    }
}

/// What a client may not do that the Server API may: send to a group it is not in or
/// while muted (GRP-06, GRP-07), or to a chatroom it has not joined or is gagged in (CHR-05),
/// or in a private chat while forbidden to.
fn may_send_from_client(
    ctx: ApplyContext,
    state: &impl StateRead,
    app_key: &str,
    message: &NewMessage,
) -> Result<(), CommandError> {
    let conversation = &message.conversation;
    let sender = &message.sender;
    match conversation.kind {
        ConversationType::Group => {
            groups::may_speak(ctx, state, app_key, &conversation.first, sender)
        }
        ConversationType::Chatroom => {
            chatrooms::may_speak(ctx, state, app_key, &conversation.first, sender)
        }
        ConversationType::UltraGroup => ultragroups::may_speak(
            state,
            app_key,
            &conversation.first,
            &conversation.channel,
            sender,
        ),
        // `/user/chat/fb/set.json`: forbidden in private chats.
        ConversationType::Private => user_extras::private_bans::may_send(state, app_key, sender),
        _ => Ok(()),
    }
}
