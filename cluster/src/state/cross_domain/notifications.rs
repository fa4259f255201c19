//! What the app server and devices hear about besides the client sessions: callbacks and
//! push jobs for a stored message (HOOK-01, PUSH-01, PUSH-03), and push-only
//! notifications (SYS-03). Deciding in the apply round keeps it deterministic: presence
//! and settings are replicated state, read as of the message.

use meridian_proto::ConversationType;
use meridian_push::PushOptions;
use serde::{Deserialize, Serialize};

use super::broadcast_pushes;
use super::publish::SendOptions;
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::messages::Message;
use crate::state::push::{self, PushJob, PushProvider};
use crate::state::store::{Overlay, StateRead};
use crate::state::{
    apps, conversations, groups, outbox, presence, ultragroups, user_extras, users,
};
use crate::state::{push_style, push_templates};

/// The longest push text taken from a message's content.
const MAX_BODY_CHARS: usize = 200;

/// A stored message is routed when the app asks for its conversation type (HOOK-01),
/// and pushed to its offline recipients' devices (PUSH-01).
pub(super) fn message_stored(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
    options: &SendOptions,
    (push, providers): (&PushOptions, &[PushProvider]),
) -> Result<(), CommandError> {
    let settings = apps::settings(state, app_key)?;
    outbox::route_message(ctx, state, app_key, &settings.callbacks, message)?;
    if options.disable_push || !message.counted || !push::enabled(state, app_key, &settings)? {
        return Ok(());
    }
    let title = options.push_title.as_deref();
    if message.conversation.kind == ConversationType::System
        && message.conversation.second.is_empty()
    {
        // A broadcast: every user's devices, in batches (SYS-02).
        let Some(body) = body(message) else {
            return Ok(());
        };
        let title = title_of(state, app_key, message, title);
        let pushed = (title, body);
        return broadcast_pushes::start(ctx, state, app_key, message, pushed, push, providers);
    }
    let jobs = jobs_for(ctx, state, app_key, message, title, push)?;
    outbox::enqueue_pushes(ctx, state, app_key, jobs)
}

/// Who a message is for, besides its sender.
fn recipients(
    state: &impl StateRead,
    app_key: &str,
    message: &Message,
) -> Result<Vec<String>, CommandError> {
    let conversation = &message.conversation;
    let mut users = match conversation.kind {
        ConversationType::Private => vec![conversation.target_for(&message.sender).to_string()],
        // A broadcast (no user) is pushed apart, in batches (`broadcast_pushes`).
        ConversationType::System if conversation.second.is_empty() => Vec::new(),
        ConversationType::System => vec![conversation.second.clone()],
        ConversationType::Group => groups::members(state, app_key, &conversation.first)?
            .into_iter()
            .map(|m| m.user_id)
            .collect(),
        ConversationType::UltraGroup => {
            ultragroups::member_ids(state, app_key, &conversation.first)?
        }
        // Chatrooms are online only: no pushes.
        ConversationType::Chatroom => Vec::new(),
    };
    users.retain(|u| *u != message.sender && message.visible_to(u));
    Ok(users)
}

/// Whom a message mentions (`mentionedInfo` of the content: type 1 everyone, 2 a list).
#[derive(Default)]
pub(super) struct Mentions {
    everyone: bool,
    users: Vec<String>,
}

fn mentions(content: &str) -> Mentions {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Info {
        #[serde(rename = "type")]
        kind: u8,
        #[serde(default)]
        user_id_list: Vec<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Content {
        mentioned_info: Option<Info>,
    }
    match serde_json::from_str::<Content>(content)
        .ok()
        .and_then(|c| c.mentioned_info)
    {
        Some(info) => Mentions {
            everyone: info.kind == 1,
            users: info.user_id_list,
        },
        None => Mentions::default(),
    }
}

/// PUSH-03: whether `user`'s settings let this message through: the conversation type's
/// level (-1/0 all, 1 any mention, 2 mentions of me, 4 mentions of everyone, 5 nothing),
/// and a muted conversation, which a mention still gets through; before them, the app's
/// quiet hours (PUSH-08) and the user's (`/user/blockPushPeriod/*`).
pub(super) fn wants_push(
    state: &impl StateRead,
    app_key: &str,
    now_ms: u64,
    user: &str,
    message: &Message,
    mentions: &Mentions,
) -> Result<bool, CommandError> {
    let conversation = &message.conversation;
    let me = mentions.users.iter().any(|u| u == user);
    let app_quiet = push_style::of_app(state, app_key)?.quiet_hours;
    let user_quiet = user_extras::quiet_hours::get(state, app_key, user)?;
    let mentioned = me || mentions.everyone;
    if [app_quiet, user_quiet]
        .into_iter()
        .flatten()
        .any(|q| q.holds_back(now_ms, mentioned))
    {
        return Ok(false);
    }
    let level = conversations::type_level(state, app_key, user, conversation.kind)?;
    Ok(match level {
        5 => false,
        4 => mentions.everyone,
        2 => me,
        1 => me || mentions.everyone,
        _ => {
            let muted = conversations::settings(
                state,
                app_key,
                user,
                conversation.kind,
                conversation.target_for(user),
                &conversation.channel,
            )?
            .muted;
            !muted || me || mentions.everyone
        }
    })
}

/// The notification's text: the message's `pushContent`, else a short form of a built-in
/// message; custom messages without `pushContent` are not pushed (as commercially).
fn body(message: &Message) -> Option<String> {
    if let Some(text) = &message.push_content {
        return Some(text.clone());
    }
    let short = |s: &str| Some(s.to_string());
    match message.object_name.as_str() {
        "RC:TxtMsg" => {
            let text = serde_json::from_str::<serde_json::Value>(&message.content)
                .ok()?
                .get("content")?
                .as_str()?
                .chars()
                .take(MAX_BODY_CHARS)
                .collect();
            Some(text)
        }
        "RC:ImgMsg" | "RC:GIFMsg" => short("[Image]"),
        "RC:VcMsg" | "RC:HQVCMsg" => short("[Voice]"),
        "RC:SightMsg" => short("[Video]"),
        "RC:FileMsg" => short("[File]"),
        "RC:LBSMsg" => short("[Location]"),
        _ => None,
    }
}

/// PUSH-01: the push jobs a stored message makes, for recipients with no live session
/// (the caller checked that the app pushes at all). The title is the sender's name
/// unless the app server gave one (`pushExt.title`).
fn jobs_for(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
    title: Option<&str>,
    push: &PushOptions,
) -> Result<Vec<PushJob>, CommandError> {
    let Some(body) = body(message) else {
        return Ok(Vec::new());
    };
    let mentions = mentions(&message.content);
    let sender_title = title_of(state, app_key, message, title);
    let template = push_templates::named(state, app_key, push.template_id.as_deref())?;
    let ultra_pace = match message.conversation.kind {
        ConversationType::UltraGroup => Some(push_style::ultra_group_pace(state, app_key)?),
        _ => None,
    };
    let mut jobs = Vec::new();
    for user in recipients(state, app_key, message)? {
        // Most members have no device registered: that is the cheapest test, so first.
        let devices = push::devices(state, app_key, &user)?;
        if devices.is_empty()
            || !presence::sessions(state, app_key, &user, ctx.now_ms)?.is_empty()
            || !wants_push(state, app_key, ctx.now_ms, &user, message, &mentions)?
        {
            continue;
        }
        // ULG-06: the app's pace for ultra groups, checked last as it remembers the push.
        if let Some(pace) = ultra_pace {
            let mentioned = mentions.everyone || mentions.users.contains(&user);
            let place = (user.as_str(), message.conversation.first.as_str());
            let app = (app_key, pace);
            if !push_style::ultra_group_push_due(state, app, place, ctx.now_ms, mentioned)? {
                continue;
            }
        }
        // The app server's title wins; else the name this recipient gave the sender
        // (`/user/remarks/set.json`), else the sender's.
        let remark = match title {
            Some(_) => None,
            None => user_extras::remarks::get(state, app_key, &user, &message.sender)?,
        };
        let mut title = remark.unwrap_or_else(|| sender_title.clone());
        let mut body = body.clone();
        if let Some(template) = &template {
            push_templates::apply_to(state, app_key, &user, template, (&mut title, &mut body))?;
        }
        for device in devices {
            jobs.push(PushJob {
                user_id: user.clone(),
                device,
                title: title.clone(),
                body: body.clone(),
                data: message.push_data.clone(),
                msg_uid: message.msg_uid.clone(),
                options: Box::new(push.clone()),
            });
        }
    }
    Ok(jobs)
}

/// The notification's title: the app server's (`pushExt.title`), else the sender's name,
/// else its id.
pub(super) fn title_of(
    state: &impl StateRead,
    app_key: &str,
    message: &Message,
    title: Option<&str>,
) -> String {
    match title {
        Some(title) => title.to_string(),
        None => users::get(state, app_key, &message.sender)
            .map(|u| u.name)
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| message.sender.clone()),
    }
}

/// A push-only notification (SYS-03).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushNotice {
    pub app_key: String,
    pub notice: push::Notice,
}

impl Apply for PushNotice {
    /// The notification's id and how many devices it reaches.
    type Answer = (String, u64);

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<(String, u64), CommandError> {
        let defaults = push::NoticeOptions::default();
        // Never paged: builds before `PushNoticeWithOptions` refuse a notice past
        // `MAX_NOTICE_DEVICES`, and replicas of both must agree.
        push_notice(ctx, state, &self.app_key, &self.notice, (&defaults, false))
    }
}

/// A push-only notification with what its call asked beyond [`PushNotice`]: each
/// platform's options (the `ios` and `android` objects; PUSH-05), a package name, tag
/// expressions. Edges send it only when one of those is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushNoticeWithOptions {
    pub app_key: String,
    pub notice: push::Notice,
    /// Boxed: commands are moved through deep async stacks (bincode encodes it unboxed).
    pub options: Box<push::NoticeOptions>,
}

impl Apply for PushNoticeWithOptions {
    type Answer = (String, u64);

    /// A notice to everyone or to tags is paged (`broadcast_pushes`): it reaches any
    /// number of devices, and its answer counts those of the first batch.
    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<(String, u64), CommandError> {
        let Self {
            app_key,
            notice,
            options,
        } = self;
        push_notice(ctx, state, app_key, notice, (options, true))
    }
}

/// Answers the notification's id and how many devices it reaches (with `pages`, a notice
/// to everyone or to tags is paged, and the count is its first page's).
fn push_notice(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    notice: &push::Notice,
    (options, pages): (&push::NoticeOptions, bool),
) -> Result<(String, u64), CommandError> {
    let paged = pages && push::notice_scans_every_device(notice, options);
    // Checked (and numbered) first: a bad notice is refused even by an app that pushes
    // nothing.
    let (id, jobs) = if paged {
        (
            push::new_notice(ctx, state, app_key, notice, options)?,
            Vec::new(),
        )
    } else {
        push::notice_jobs(ctx, state, app_key, notice, options)?
    };
    // An app without push settings has nothing to push with: the notice is accepted,
    // as the commercial service accepts it, and reaches no device.
    if !push::enabled(state, app_key, &apps::settings(state, app_key)?)? {
        return Ok((id, 0));
    }
    if paged {
        let pending = broadcast_pushes::PendingNotice {
            id: id.clone(),
            notice: notice.clone(),
            options: options.clone(),
            after: Vec::new(),
        };
        let devices = broadcast_pushes::start_notice(ctx, state, app_key, pending)?;
        return Ok((id, devices));
    }
    let devices = jobs.len() as u64;
    outbox::enqueue_pushes(ctx, state, app_key, jobs)?;
    Ok((id, devices))
}
