//! Calls (RTC-03) and their records (RTC-10). A call is carried by IM messages of the
//! CallLib's signalling types (`signals`), so routing, history, callbacks and moderation
//! see it like any message; as each is stored, the call's record `call/{app}/{callId}` is
//! kept up to date in the same apply: who was invited by whom, who rang, answered and
//! left, and how the call ended. The server speaks for a callee in two cases, with a
//! hang-up from the callee that both sides receive: busy (the callee is in another call
//! or an audio/video room), no answer (`sweep`), and a party gone from the network
//! (`vanished`).

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use super::publish::publish;
use crate::state::apply::{ApplyContext, CommandError};
use crate::state::keys::calls as keys;
use crate::state::messages::{Message, MessageFlags, NewMessage};
use crate::state::store::{Overlay, StateRead};
use crate::state::{apps, groups, rtc};

mod retention;
mod signals;
mod sweep;
mod vanished;
mod view;
mod wake;

pub use retention::{expired_calls, ExpiredCalls, ForgetCalls, MAX_FORGOTTEN_CALLS};
pub use signals::{EndReason, Media, Signal, MAX_PARTIES};
pub use sweep::{unanswered_calls_due, EndUnansweredCalls, ANSWER_TIMEOUT_MS};
pub use vanished::{vanished_parties_due, EndVanishedParties};

/// Where one party of a call is. Variants are appended, never reordered (bincode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartyState {
    Invited,
    Ringing,
    /// The caller from the start; a callee once it accepted.
    Joined,
    Left,
}

impl PartyState {
    pub fn label(self) -> &'static str {
        match self {
            PartyState::Invited => "invited",
            PartyState::Ringing => "ringing",
            PartyState::Joined => "joined",
            PartyState::Left => "left",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Party {
    pub user_id: String,
    pub state: PartyState,
    pub invited_by: String,
    pub invited_ms: u64,
    pub joined_ms: Option<u64>,
    pub left_ms: Option<u64>,
    pub reason: Option<EndReason>,
}

/// A call as stored, from its invite on; kept after it ended as its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: String,
    pub caller: String,
    pub conversation: Conversation,
    pub media: Media,
    pub room_id: String,
    pub started_ms: u64,
    /// When the first callee answered.
    pub accepted_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub end_reason: Option<EndReason>,
    /// Whose hang-up ended it.
    pub ended_by: Option<String>,
    /// The caller first, then callees in the order they were invited.
    pub parties: Vec<Party>,
}

impl CallRecord {
    /// From the first answer to the end (0 for a call nobody answered).
    pub fn duration_ms(&self) -> u64 {
        match (self.accepted_ms, self.ended_ms) {
            (Some(from), Some(to)) => to.saturating_sub(from),
            _ => 0,
        }
    }

    fn party_mut(&mut self, user_id: &str) -> Option<&mut Party> {
        self.parties.iter_mut().find(|p| p.user_id == user_id)
    }

    fn active(&self) -> impl Iterator<Item = &Party> {
        self.parties.iter().filter(|p| p.state != PartyState::Left)
    }
}

/// A call's record.
pub(in crate::state) fn record(
    state: &impl StateRead,
    app_key: &str,
    call_id: &str,
) -> Result<CallRecord, CommandError> {
    apps::by_key(state, app_key)?;
    state
        .get(&keys::call(app_key, call_id))?
        .ok_or_else(|| CommandError::not_found(format!("call {call_id}")))
}

/// How many calls of the area ended with each reason (the metrics' counters).
pub(in crate::state) fn outcomes(
    state: &impl StateRead,
) -> Result<Vec<(EndReason, u64)>, CommandError> {
    EndReason::ALL
        .into_iter()
        .map(|reason| {
            Ok((
                reason,
                state.get(&keys::outcome(reason.label()))?.unwrap_or(0),
            ))
        })
        .collect()
}

/// Removes every call of an app environment (its outcome counts stay: they are the area's).
pub(in crate::state) fn delete_all(
    state: &mut Overlay<'_>,
    app_key: &str,
) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}

/// Keeps the call a just-stored message signals up to date (a no-op for other messages);
/// refuses a signal that cannot apply, which refuses the message with it.
pub(super) fn observe(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
) -> Result<(), CommandError> {
    let Some((call_id, signal)) = Signal::read(&message.object_name, &message.content)? else {
        return Ok(());
    };
    let sender = message.sender.as_str();
    if let Signal::Invite {
        callees,
        media,
        room_id,
    } = signal
    {
        return invite(
            ctx, state, app_key, message, call_id, callees, media, room_id,
        );
    }
    let Some(mut call) = state.get::<CallRecord>(&keys::call(app_key, &call_id))? else {
        return Err(CommandError::not_found(format!("call {call_id}")));
    };
    if call.conversation != message.conversation {
        return Err(CommandError::invalid(
            "callId",
            format!("call {call_id} belongs to another conversation"),
        ));
    }
    let ended = call.ended_ms.is_some();
    let Some(party) = call.party_mut(sender) else {
        return Err(CommandError::invalid(
            "callId",
            format!("{sender} is not in call {call_id}"),
        ));
    };
    // A late signal (the call or this party already ended) is routed and changes nothing:
    // it races the other side's hang-up or the server's.
    if ended || party.state == PartyState::Left {
        return Ok(());
    }
    match signal {
        Signal::Ringing => {
            if party.state == PartyState::Invited {
                party.state = PartyState::Ringing;
            }
        }
        Signal::Accept => {
            if party.state != PartyState::Joined {
                party.state = PartyState::Joined;
                party.joined_ms = Some(ctx.now_ms);
                call.accepted_ms.get_or_insert(ctx.now_ms);
                state.delete(keys::ringing(app_key, &call_id, sender));
            }
        }
        Signal::SwitchMedia(media) => call.media = media,
        Signal::Hangup(reason) => return leave(ctx, state, app_key, call, sender, reason),
        Signal::AddCallees(callees) => {
            members_only(state, app_key, message, &callees)?;
            let (rung, busy) = add_callees(ctx, state, app_key, &mut call, sender, &callees)?;
            put_and_answer_busy(ctx, state, app_key, &call, &busy)?;
            return wake::offline_callees(ctx, state, app_key, message, &rung);
        }
        Signal::Invite { .. } => unreachable!("handled above"),
    }
    Ok(state.put(keys::call(app_key, &call_id), &call)?)
}

#[allow(clippy::too_many_arguments)]
fn invite(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
    call_id: String,
    callees: Vec<String>,
    media: Media,
    room_id: Option<String>,
) -> Result<(), CommandError> {
    let caller = message.sender.as_str();
    let conversation = &message.conversation;
    let callees = match conversation.kind {
        ConversationType::Private => {
            let other = conversation.target_for(caller).to_string();
            if !callees.is_empty() && callees != [other.clone()] {
                return Err(CommandError::invalid(
                    "content",
                    "a private call's inviteUserIds is the other user",
                ));
            }
            vec![other]
        }
        ConversationType::Group if callees.is_empty() => {
            return Err(CommandError::invalid(
                "content",
                "inviteUserIds must name someone to call",
            ))
        }
        ConversationType::Group => {
            members_only(state, app_key, message, &callees)?;
            callees
        }
        _ => {
            return Err(CommandError::invalid(
                "conversationType",
                "calls are private (1) or group (3) conversations",
            ))
        }
    };
    if state.get_raw(&keys::call(app_key, &call_id))?.is_some() {
        return Err(CommandError::Conflict {
            what: format!("call {call_id}"),
        });
    }
    // The SDKs place one call at a time, so a caller still marked in another call lost
    // it (a crash, a lost hang-up): the server hangs up that one for it, so the other
    // side hears and nobody stays busy with a call that is gone.
    if let Some(other) = state.get::<String>(&keys::user_call(app_key, caller))? {
        if let Some(stale) = state.get::<CallRecord>(&keys::call(app_key, &other))? {
            hang_up_for(ctx, state, app_key, &stale, caller, EndReason::Hangup)?;
        }
        state.delete(keys::user_call(app_key, caller));
    }
    let mut call = CallRecord {
        call_id: call_id.clone(),
        caller: caller.to_string(),
        conversation: conversation.clone(),
        media,
        room_id: room_id.unwrap_or_else(|| call_id.clone()),
        started_ms: ctx.now_ms,
        accepted_ms: None,
        ended_ms: None,
        end_reason: None,
        ended_by: None,
        parties: vec![Party {
            user_id: caller.to_string(),
            state: PartyState::Joined,
            invited_by: caller.to_string(),
            invited_ms: ctx.now_ms,
            joined_ms: Some(ctx.now_ms),
            left_ms: None,
            reason: None,
        }],
    };
    state.put(keys::user_call(app_key, caller), &call_id)?;
    let (rung, busy) = add_callees(ctx, state, app_key, &mut call, caller, &callees)?;
    put_and_answer_busy(ctx, state, app_key, &call, &busy)?;
    wake::offline_callees(ctx, state, app_key, message, &rung)
}

/// A client rings members of its group only; the app server (which may not keep groups
/// here) rings whom it names.
fn members_only(
    state: &impl StateRead,
    app_key: &str,
    message: &Message,
    callees: &[String],
) -> Result<(), CommandError> {
    let group = &message.conversation.first;
    let device = message.sender_device.as_deref();
    if device.is_none_or(|d| d == Message::NO_SENDER_DEVICE) {
        return Ok(());
    }
    for callee in callees {
        if groups::membership(state, app_key, group, callee)?.is_none() {
            return Err(CommandError::invalid(
                "content",
                format!("{callee} is not in group {group}"),
            ));
        }
    }
    Ok(())
}

/// Invites `callees` (a user already in the call stays as it is); answers those rung and
/// those busy, who are left out of the active-call index and still to be answered for.
fn add_callees(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    call: &mut CallRecord,
    inviter: &str,
    callees: &[String],
) -> Result<(Vec<String>, Vec<String>), CommandError> {
    let (mut rung, mut busy) = (Vec::new(), Vec::new());
    for callee in callees {
        if call
            .party_mut(callee)
            .is_some_and(|p| p.state != PartyState::Left)
        {
            continue;
        }
        if callee == inviter {
            return Err(CommandError::invalid(
                "content",
                "a caller cannot call itself",
            ));
        }
        call.parties.retain(|p| &p.user_id != callee);
        call.parties.push(Party {
            user_id: callee.clone(),
            state: PartyState::Invited,
            invited_by: inviter.to_string(),
            invited_ms: ctx.now_ms,
            joined_ms: None,
            left_ms: None,
            reason: None,
        });
        let in_call = state.get_raw(&keys::user_call(app_key, callee))?.is_some();
        if in_call || rtc::room_of(state, app_key, callee)?.is_some() {
            busy.push(callee.clone());
            continue;
        }
        state.put(keys::user_call(app_key, callee), &call.call_id)?;
        let ringing = (app_key, &call.call_id, callee, ctx.now_ms);
        state.put(keys::ringing(app_key, &call.call_id, callee), &ringing)?;
        rung.push(callee.clone());
    }
    if call.parties.len() > MAX_PARTIES {
        return Err(CommandError::Limit {
            what: "parties of a call".into(),
            limit: MAX_PARTIES as u64,
        });
    }
    Ok((rung, busy))
}

/// Stores the call, then hangs up for each busy callee (the hang-up updates the record).
fn put_and_answer_busy(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    call: &CallRecord,
    busy: &[String],
) -> Result<(), CommandError> {
    state.put(keys::call(app_key, &call.call_id), call)?;
    for callee in busy {
        hang_up_for(ctx, state, app_key, call, callee, EndReason::Busy)?;
    }
    Ok(())
}

/// The server's hang-up on behalf of `user_id` (busy, no answer), to the call's
/// conversation: both sides receive it, and storing it ends the user's part.
pub(super) fn hang_up_for(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    call: &CallRecord,
    user_id: &str,
    reason: EndReason,
) -> Result<(), CommandError> {
    let content = serde_json::json!({"callId": call.call_id, "reason": reason.code()});
    let hangup = NewMessage {
        conversation: call.conversation.clone(),
        sender: user_id.to_string(),
        recipient: None,
        object_name: signals::HANGUP.into(),
        content: content.to_string(),
        flags: MessageFlags::builtin(signals::HANGUP),
        push_content: None,
        push_data: None,
        verify_blacklist: false,
        visible_to: Vec::new(),
        sender_device: None,
    };
    publish(ctx, state, app_key, &[hangup]).map(drop)
}

/// The server's hang-up for `user_id` from a sweep (no answer, network). The hang-up is a
/// message to the call's conversation; should it be refused (its group was dismissed,
/// say), the part still ends, silently, so the sweep does not retry it forever.
pub(super) fn hang_up_or_leave(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    call: CallRecord,
    user_id: &str,
    reason: EndReason,
) -> Result<(), CommandError> {
    let checkpoint = state.checkpoint();
    if hang_up_for(ctx, state, app_key, &call, user_id, reason).is_err() {
        state.rollback(checkpoint);
        leave(ctx, state, app_key, call, user_id, reason)?;
    }
    Ok(())
}

/// `user_id`'s part ends; the call ends with it when the caller cancels before anyone
/// answered or fewer than two parties remain.
pub(super) fn leave(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    mut call: CallRecord,
    user_id: &str,
    reason: EndReason,
) -> Result<(), CommandError> {
    let answered = call.accepted_ms.is_some();
    let is_caller = user_id == call.caller;
    let call_id = call.call_id.clone();
    let Some(party) = call.party_mut(user_id) else {
        return Ok(());
    };
    // The SDKs differ in what they send before an answer; the record says what it was.
    let reason = match (reason, party.state) {
        (EndReason::Network | EndReason::Busy | EndReason::NoAnswer, _) => reason,
        _ if is_caller && !answered => EndReason::Cancelled,
        (_, PartyState::Invited | PartyState::Ringing) => EndReason::Rejected,
        _ => EndReason::Hangup,
    };
    let_go(state, app_key, &call_id, party, ctx.now_ms, reason)?;
    let ends = (is_caller && !answered) || call.active().count() < 2;
    if ends {
        let outcome = match reason {
            EndReason::Network if answered => EndReason::Network,
            _ if answered => EndReason::Hangup,
            other => other,
        };
        for party in call.parties.iter_mut() {
            if party.state != PartyState::Left {
                let_go(state, app_key, &call_id, party, ctx.now_ms, outcome)?;
            }
        }
        call.ended_ms = Some(ctx.now_ms);
        call.end_reason = Some(outcome);
        call.ended_by = Some(user_id.to_string());
        let counted = keys::outcome(outcome.label());
        let ended: u64 = state.get(&counted)?.unwrap_or(0);
        state.put(counted, &(ended + 1))?;
    }
    Ok(state.put(keys::call(app_key, &call.call_id), &call)?)
}

/// One party leaves: it is no longer busy with this call nor waited for.
fn let_go(
    state: &mut Overlay<'_>,
    app_key: &str,
    call_id: &str,
    party: &mut Party,
    now_ms: u64,
    reason: EndReason,
) -> Result<(), CommandError> {
    party.state = PartyState::Left;
    party.left_ms = Some(now_ms);
    party.reason = Some(reason);
    state.delete(keys::ringing(app_key, call_id, &party.user_id));
    // Only this call's mark: a busy callee's mark is another call's.
    let mark = keys::user_call(app_key, &party.user_id);
    if state.get::<String>(&mark)?.as_deref() == Some(call_id) {
        state.delete(mark);
    }
    Ok(())
}
