//! An offline callee is woken (RTC-10): by a VoIP push where its iOS app registered a
//! PushKit token (the CallLib shows the call through CallKit), else by a notification on
//! its other devices. Call signals are never unread, so ordinary message pushes skip them.

use super::super::notifications::title_of;
use crate::state::apply::{ApplyContext, CommandError};
use crate::state::messages::Message;
use crate::state::push::{self, PushJob};
use crate::state::store::Overlay;
use crate::state::{apps, outbox, presence};

/// Pushes the invite `message` to those of `callees` with no live session.
pub(super) fn offline_callees(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
    callees: &[String],
) -> Result<(), CommandError> {
    if callees.is_empty() || !push::enabled(state, app_key, &apps::settings(state, app_key)?)? {
        return Ok(());
    }
    let title = title_of(state, app_key, message, None);
    let body = (message.push_content.clone()).unwrap_or_else(|| format!("{title} is calling"));
    // The app reads the call from the invite itself unless it gave its own data.
    let data = message.push_data.clone().or(Some(message.content.clone()));
    let mut jobs = Vec::new();
    for callee in callees {
        if !presence::sessions(state, app_key, callee, ctx.now_ms)?.is_empty() {
            continue;
        }
        let mut devices = push::voip_devices(state, app_key, callee)?;
        if devices.is_empty() {
            devices = push::devices(state, app_key, callee)?;
        }
        jobs.extend(devices.into_iter().map(|device| PushJob {
            user_id: callee.clone(),
            device,
            title: title.clone(),
            body: body.clone(),
            data: data.clone(),
            msg_uid: message.msg_uid.clone(),
            options: Default::default(),
        }));
    }
    outbox::enqueue_pushes(ctx, state, app_key, jobs)
}
