//! Per-app usage (CON-01, PUSH-09): what each app did, hour by hour, kept in the
//! replicated state so every node answers the same figures and they survive failovers.
//!
//! Counters of one hour and one category live in one record (`usage/{app}/{category}/
//! {hour}`): names to counts, so a new counter never changes the record's encoding.
//! - `messages`: messages published (stored or status), by conversation type, counted
//!   where they are applied;
//! - `online`: `peak` and `last`, the most users online at once in the hour and the count
//!   after its last change (an hour without a record kept the count its predecessor
//!   ended with);
//! - `push`: per provider, `{provider}.sent` (a notification made for a device), then one
//!   outcome each: `accepted`, `dropped` (no longer wanted), `failed.rejected`,
//!   `failed.token_gone` or `failed.dead` (retries used up), and `clicked`, reported by
//!   the SDK;
//! - `callbacks`: per kind (`routing`, `online_status`, `chatroom_state`), `delivered`,
//!   `dropped`, `failed_attempt` (each failed try) and `dead`;
//! - `api`: Server API calls by path and `ok`/`failed`, counted by the edges and written
//!   in batches ([`RecordUsage`]), as are push clicks.
//!
//! An app's hourly records are kept [`KEEP_MS`]; older ones go when the app's next hour of
//! that category begins, so no sweep is needed and no apply round grows.

use std::collections::BTreeMap;

use meridian_proto::ConversationType;
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::keys::{self, usage as usage_keys, Kind};
use super::store::{Overlay, StateRead};

pub const HOUR_MS: u64 = 3_600_000;
/// Hourly records are kept this long (92 days: a quarter of daily figures).
pub const KEEP_MS: u64 = 92 * 24 * HOUR_MS;
/// An edge may report an hour this far back (a flush delayed by a failover)…
pub const REPORT_PAST_MS: u64 = 48 * HOUR_MS;
/// … or this far ahead (its clock a little fast).
pub const REPORT_AHEAD_MS: u64 = HOUR_MS;
/// The longest counter name (an API path with its result).
pub const MAX_NAME_CHARS: usize = 128;
/// The most counters one hour of one category keeps: API paths come from a fixed table,
/// so honest edges stay far below it.
pub const MAX_COUNTERS: usize = 512;
/// The most counts one [`RecordUsage`] carries.
pub const MAX_REPORTED: usize = 1_000;

/// Counter names to counts, for one hour of one category.
pub type Counters = BTreeMap<String, u64>;

/// What a usage record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    Messages,
    Api,
    Online,
    Push,
    Callbacks,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Self::Messages,
        Self::Api,
        Self::Online,
        Self::Push,
        Self::Callbacks,
    ];

    /// Its part of the record's key.
    pub fn name(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Api => "api",
            Self::Online => "online",
            Self::Push => "push",
            Self::Callbacks => "callbacks",
        }
    }
}

/// The hour `ms` falls in, as its first millisecond.
pub fn hour_start(ms: u64) -> u64 {
    ms - ms % HOUR_MS
}

/// A conversation type's name in the `messages` counters and the metrics.
pub fn type_label(kind: ConversationType) -> &'static str {
    match kind {
        ConversationType::Private => "private",
        ConversationType::Group => "group",
        ConversationType::Chatroom => "chatroom",
        ConversationType::System => "system",
        ConversationType::UltraGroup => "ultragroup",
    }
}

/// Adds to counters of the hour `ctx` is in.
pub(super) fn add(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    category: Category,
    name: &str,
    count: u64,
) -> Result<(), CommandError> {
    change(
        state,
        app_key,
        category,
        hour_start(ctx.now_ms),
        |counters| {
            let counter = counters.entry(name.to_string()).or_default();
            *counter = counter.saturating_add(count);
        },
    )
}

/// Reads, changes and writes one hour's record; the first write of an hour drops the
/// records of that app and category past their keep.
fn change(
    state: &mut Overlay<'_>,
    app_key: &str,
    category: Category,
    hour: u64,
    edit: impl FnOnce(&mut Counters),
) -> Result<(), CommandError> {
    let key = usage_keys::hour(app_key, category.name(), hour);
    let mut counters = match state.get::<Counters>(&key)? {
        Some(counters) => counters,
        None => {
            drop_expired(state, app_key, category, hour)?;
            Counters::new()
        }
    };
    edit(&mut counters);
    if counters.len() > MAX_COUNTERS {
        return Err(CommandError::Limit {
            what: format!("{} counters in an hour", category.name()),
            limit: MAX_COUNTERS as u64,
        });
    }
    Ok(state.put(key, &counters)?)
}

fn drop_expired(
    state: &mut Overlay<'_>,
    app_key: &str,
    category: Category,
    hour: u64,
) -> Result<(), CommandError> {
    let Some(cutoff) = hour.checked_sub(KEEP_MS) else {
        return Ok(());
    };
    let prefix = usage_keys::category(app_key, category.name());
    let mut expired = Vec::new();
    state.visit_from(&prefix, &prefix, &mut |key, _| {
        let old = usage_keys::hour_of(&prefix, key).is_some_and(|h| h < cutoff);
        if old {
            expired.push(key.to_vec());
        }
        old
    })?;
    for key in expired {
        state.delete(key);
    }
    Ok(())
}

/// A message was published (stored, or handed on as a status message).
pub(super) fn message_published(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    kind: ConversationType,
) -> Result<(), CommandError> {
    let label = type_label(kind);
    add(ctx, state, app_key, Category::Messages, label, 1)?;
    let total_key = usage_keys::total(&format!("messages/{label}"));
    let total: u64 = state.get(&total_key)?.unwrap_or(0);
    Ok(state.put(total_key, &(total + 1))?)
}

/// The area's messages so far by conversation type (the metrics' counters; they only
/// grow, whatever happens to apps).
pub fn message_totals(state: &impl StateRead) -> Result<Vec<(String, u64)>, CommandError> {
    let prefix = usage_keys::total("messages/");
    let mut totals = Vec::new();
    for (key, value) in state.scan_raw(&prefix)? {
        let label = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
        totals.push((label, crate::raft::wire::from_bytes(&value)?));
    }
    Ok(totals)
}

/// One of the app's users came online (+1) or went offline (−1).
pub(super) fn online_changed(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    delta: i64,
) -> Result<(), CommandError> {
    let key = usage_keys::online(app_key);
    let before: u64 = state.get(&key)?.unwrap_or(0);
    let now = before.saturating_add_signed(delta);
    state.put(key, &now)?;
    change(
        state,
        app_key,
        Category::Online,
        hour_start(ctx.now_ms),
        |counters| {
            // An hour's first change starts from the count that held when it began.
            let peak = counters.entry("peak".into()).or_insert(before);
            *peak = (*peak).max(now);
            counters.insert("last".into(), now);
        },
    )
}

/// How many of the app's users have a session now.
pub fn online_now(state: &impl StateRead, app_key: &str) -> Result<u64, CommandError> {
    Ok(state.get(&usage_keys::online(app_key))?.unwrap_or(0))
}

/// Counts an edge saw (Server API calls, push clicks), added to their hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordUsage {
    pub app_key: String,
    pub counts: Vec<ReportedCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedCount {
    pub hour_start_ms: u64,
    pub category: Category,
    pub name: String,
    pub count: u64,
}

impl Apply for RecordUsage {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.counts.len() > MAX_REPORTED {
            return Err(CommandError::Limit {
                what: "usage counts per report".into(),
                limit: MAX_REPORTED as u64,
            });
        }
        let earliest = hour_start(ctx.now_ms.saturating_sub(REPORT_PAST_MS));
        let latest = ctx.now_ms + REPORT_AHEAD_MS;
        for reported in &self.counts {
            if !matches!(reported.category, Category::Api | Category::Push) {
                return Err(CommandError::invalid(
                    "category",
                    "edges report only api and push counts",
                ));
            }
            let name_chars = reported.name.chars().count();
            if name_chars == 0 || name_chars > MAX_NAME_CHARS {
                return Err(CommandError::invalid(
                    "name",
                    format!("1 to {MAX_NAME_CHARS} characters"),
                ));
            }
            let hour = reported.hour_start_ms;
            if hour % HOUR_MS != 0 || hour < earliest || hour > latest {
                return Err(CommandError::invalid(
                    "hourStartMs",
                    "the start of an hour within the last two days",
                ));
            }
            change(state, &self.app_key, reported.category, hour, |counters| {
                let counter = counters.entry(reported.name.clone()).or_default();
                *counter = counter.saturating_add(reported.count);
            })?;
        }
        Ok(())
    }
}

/// One hour's counters of one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourCounters {
    pub category: Category,
    pub hour_start_ms: u64,
    pub counters: Counters,
}

/// An app's usage between two instants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub online_now: u64,
    /// Every record of the range, by category, oldest first.
    pub hours: Vec<HourCounters>,
    /// The last `online` record before the range: the count its first hours started with.
    pub online_before: Option<HourCounters>,
}

/// The app's records of the hours from `from_ms` up to (not including) `to_ms`.
pub fn report(
    state: &impl StateRead,
    app_key: &str,
    from_ms: u64,
    to_ms: u64,
) -> Result<UsageReport, CommandError> {
    apps::by_key(state, app_key)?;
    let from = hour_start(from_ms);
    let mut hours = Vec::new();
    let mut online_before = None;
    for category in Category::ALL {
        let prefix = usage_keys::category(app_key, category.name());
        if category == Category::Online {
            // The newest record before the range (a quarter's records at most).
            for (key, value) in state.scan_raw(&prefix)? {
                match usage_keys::hour_of(&prefix, &key) {
                    Some(hour) if hour < from => {
                        online_before = Some(HourCounters {
                            category,
                            hour_start_ms: hour,
                            counters: crate::raft::wire::from_bytes(&value)?,
                        });
                    }
                    _ => break,
                }
            }
        }
        let start = usage_keys::hour(app_key, category.name(), from);
        let mut failed = None;
        state.visit_from(&prefix, &start, &mut |key, value| {
            let Some(hour) = usage_keys::hour_of(&prefix, key).filter(|h| *h < to_ms) else {
                return false;
            };
            match crate::raft::wire::from_bytes(value) {
                Ok(counters) => hours.push(HourCounters {
                    category,
                    hour_start_ms: hour,
                    counters,
                }),
                Err(e) => failed = Some(e),
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
    }
    Ok(UsageReport {
        online_now: online_now(state, app_key)?,
        hours,
        online_before,
    })
}

/// The records and bytes (keys and values) an app environment keeps in one family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFamily {
    pub family: String,
    pub records: u64,
    pub bytes: u64,
}

/// What the app keeps, family by family (those it has records in), largest first: a walk
/// of every record it has, so an admin call, not a dashboard's refresh.
pub fn storage(state: &impl StateRead, app_key: &str) -> Result<Vec<StoredFamily>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut families = Vec::new();
    for (_, prefix, kind) in keys::ALL {
        if *kind != Kind::Family {
            continue;
        }
        let of_app = keys::of_app(prefix, app_key);
        let (mut records, mut bytes) = (0, 0);
        state.visit_from(&of_app, &of_app, &mut |key, value| {
            records += 1;
            bytes += (key.len() + value.len()) as u64;
            true
        })?;
        if records > 0 {
            let family = String::from_utf8_lossy(prefix.strip_suffix(b"/").unwrap_or(prefix));
            families.push(StoredFamily {
                family: family.into_owned(),
                records,
                bytes,
            });
        }
    }
    families.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.family.cmp(&b.family)));
    Ok(families)
}

/// Removes an app environment's usage records (with the app).
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    Ok(state.delete_app(&usage_keys::PER_APP, app_key)?)
}
