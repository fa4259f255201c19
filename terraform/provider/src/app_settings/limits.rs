//! The `limits` block: the app environment's group cap, chatrooms at a time, client send
//! rate, Server API rates and history retention (API-08), the admin API's `…/limits`.
//! The API replaces the limits whole and a field left out takes its default; a block
//! left out of the configuration does the same, so removing `limits` puts the defaults
//! back. The state has a block where the configuration has one, or where the API's
//! limits are not the defaults (drift when the configuration has none).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};
use tf_provider::schema::{AttributeType, Block, Description, NestedBlock};
use tf_provider::value::{self, Value};
use tf_provider::{map, AttributePath, Diagnostics};

use super::check_range;
use crate::attributes::{camel, check_at, optional, optional_computed, or_default};

/// The admin API's defaults and limits (`AppLimits` in the cluster's state).
const DEFAULT_MEMBER_CAP: i64 = 3000;
const MAX_MEMBER_CAP: i64 = 100_000;
const MAX_CLIENT_SENDS_PER_SECOND: i64 = 1_000;
const MAX_RETENTION_DAYS: i64 = 3_650;
/// The API keeps a rate in 32 bits.
const MAX_RATE: i64 = u32::MAX as i64;

/// The Server API's rate classes (the admin API's names in camelCase) and what a class
/// left out keeps: the commercial service's figure.
const RATES: [(&str, &str); 9] = [
    (
        "default_per_second",
        "Most endpoints (default 100 requests/s).",
    ),
    (
        "get_token_per_second",
        "/user/getToken.json (default 200/s).",
    ),
    (
        "private_messages_per_minute",
        "Private messages; a message to N users counts N (default 6000 per minute).",
    ),
    (
        "group_publish_per_second",
        "/message/group/publish.json (default 20/s).",
    ),
    (
        "chatroom_publish_per_second",
        "/message/chatroom/publish.json (default 100/s).",
    ),
    (
        "ultra_group_publish_per_second",
        "/message/ultragroup/publish.json (default 100/s).",
    ),
    (
        "chatroom_broadcast_per_second",
        "/message/chatroom/broadcast.json (default 1/s).",
    ),
    (
        "broadcasts_per_hour",
        "Broadcasts and pushes to everyone (default 2 per hour).",
    ),
    (
        "broadcasts_per_day",
        "Broadcasts and pushes to everyone (default 3 per day).",
    ),
];

/// Conversation types whose history is kept for a number of days, and the default.
const RETENTION: [(&str, &str, i64); 4] = [
    ("private", "Private (and system) conversations", 180),
    ("group", "Groups", 180),
    ("ultra_group", "Ultra groups", 7),
    ("chatroom", "Chatrooms", 60),
];

/// An `api_rates` or `retention_days` block: its numbers by attribute name.
pub type NumbersState = BTreeMap<String, Value<i64>>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsState {
    group_member_cap: Value<i64>,
    multi_room_chatrooms: Value<bool>,
    client_sends_per_second: Value<i64>,
    #[serde(with = "value::serde_as_vec")]
    api_rates: Value<NumbersState>,
    #[serde(with = "value::serde_as_vec")]
    retention_days: Value<NumbersState>,
}

pub fn schema() -> NestedBlock {
    let number = AttributeType::Number;
    let rates = RATES
        .iter()
        .map(|&(name, doc)| {
            let doc = format!("{doc} At least 1; left out: the default.");
            (name.to_string(), optional(number.clone(), &doc))
        })
        .collect();
    let days = RETENTION
        .iter()
        .map(|&(name, what, default)| {
            let doc = format!("{what}: 1 to {MAX_RETENTION_DAYS} (default {default}).");
            (name.to_string(), optional_computed(number.clone(), &doc))
        })
        .collect();
    NestedBlock::Optional(Block {
        description: Description::plain(
            "The app environment's limits (the admin API's …/limits). Left out: the defaults, which removing the block puts back.",
        ),
        attributes: map! {
            "group_member_cap" => optional_computed(number.clone(), &format!("Members one group holds, 1 to {MAX_MEMBER_CAP} (default {DEFAULT_MEMBER_CAP}).")),
            "multi_room_chatrooms" => optional_computed(AttributeType::Bool, "Users may be in several chatrooms at once; otherwise joining one leaves the others (default false)."),
            "client_sends_per_second" => optional(number, &format!("Messages one client connection may send per second, 1 to {MAX_CLIENT_SENDS_PER_SECOND}; left out: the edge's setting.")),
        },
        blocks: map! {
            "api_rates" => NestedBlock::Optional(Block {
                description: Description::plain("Server API rates per class."),
                attributes: rates,
                ..Default::default()
            }),
            "retention_days" => NestedBlock::Optional(Block {
                description: Description::plain("Days history is kept per conversation type."),
                attributes: days,
                ..Default::default()
            }),
        },
        ..Default::default()
    })
}

/// `block`'s number of each of `names`, its default (where it has one) when null or
/// missing.
fn numbers<'a>(
    block: &NumbersState,
    names: impl IntoIterator<Item = (&'a str, Option<i64>)>,
) -> NumbersState {
    names
        .into_iter()
        .map(|(name, default)| {
            let value = block.get(name).cloned().unwrap_or_default();
            let value = match default {
                Some(default) => or_default(value, default),
                None => value,
            };
            (name.to_string(), value)
        })
        .collect()
}

fn rate_names() -> impl Iterator<Item = (&'static str, Option<i64>)> {
    RATES.iter().map(|&(name, _)| (name, None))
}

fn retention_defaults() -> impl Iterator<Item = (&'static str, Option<i64>)> {
    RETENTION
        .iter()
        .map(|&(name, _, default)| (name, Some(default)))
}

impl LimitsState {
    /// The plan of a configured block: the API's defaults for what it leaves out (a rate
    /// or the client send rate left out stays null: the API's default then).
    pub fn planned(config: LimitsState) -> Self {
        Self {
            group_member_cap: or_default(config.group_member_cap, DEFAULT_MEMBER_CAP),
            multi_room_chatrooms: or_default(config.multi_room_chatrooms, false),
            client_sends_per_second: config.client_sends_per_second,
            api_rates: config.api_rates.map(|rates| numbers(&rates, rate_names())),
            retention_days: config
                .retention_days
                .map(|days| numbers(&days, retention_defaults())),
        }
    }
}

/// The admin API's body: the block's limits, or the defaults when there is none.
pub fn to_remote(limits: &Value<LimitsState>) -> serde_json::Value {
    let Some(limits) = limits.as_ref_option() else {
        return json!({});
    };
    let remote = |block: &Value<NumbersState>| -> Map<String, serde_json::Value> {
        block
            .iter()
            .flatten()
            .filter_map(|(name, value)| Some((camel(name), json!(value.as_ref_option()?))))
            .collect()
    };
    json!({
        "groupMemberCap": limits.group_member_cap.as_ref_option(),
        "multiRoomChatrooms": limits.multi_room_chatrooms.as_ref_option(),
        "clientSendsPerSecond": limits.client_sends_per_second.as_ref_option(),
        "apiRates": remote(&limits.api_rates),
        "retentionDays": remote(&limits.retention_days),
    })
}

/// The limits as the admin API's answer (`limits`) has them, every block present; [`fit`]
/// leaves out what the configuration does not have.
pub fn from_remote(limits: &serde_json::Value) -> Result<Value<LimitsState>, String> {
    if !limits.is_object() {
        return Err(format!("limits: {limits}"));
    }
    Ok(Value::Value(LimitsState {
        group_member_cap: limits["groupMemberCap"].as_i64().into(),
        multi_room_chatrooms: limits["multiRoomChatrooms"].as_bool().into(),
        client_sends_per_second: limits["clientSendsPerSecond"].as_i64().into(),
        api_rates: remote_numbers(&limits["apiRates"], RATES.map(|(name, _)| name)),
        retention_days: remote_numbers(&limits["retentionDays"], RETENTION.map(|(name, ..)| name)),
    }))
}

/// The numbers of an `api_rates` or `retention_days` block named `names`, from the
/// API's object `remote`.
fn remote_numbers<'a>(
    remote: &serde_json::Value,
    names: impl IntoIterator<Item = &'a str>,
) -> Value<NumbersState> {
    let numbers = names.into_iter().map(|name| {
        let number = remote[camel(name)].as_i64();
        (name.to_string(), number.into())
    });
    Value::Value(numbers.collect())
}

/// Shapes limits read from the API like `known` (the state before a read, the plan
/// before a write; null for an import): a block `known` does not have is left out while
/// it holds the defaults, so a configuration without it plans clean, and shows up when
/// the limits were changed outside Terraform.
pub fn fit(limits: &mut Value<LimitsState>, known: &Value<LimitsState>) {
    let Some(read) = limits.as_mut_option() else {
        return;
    };
    let known = known.as_ref_option();
    let all_null = |block: &NumbersState| block.values().all(Value::is_null);
    if !known.is_some_and(|k| k.api_rates.is_value()) && read.api_rates.iter().all(all_null) {
        read.api_rates = Value::Null;
    }
    let default_days = numbers(&NumbersState::new(), retention_defaults());
    if !known.is_some_and(|k| k.retention_days.is_value())
        && read.retention_days.iter().all(|days| *days == default_days)
    {
        read.retention_days = Value::Null;
    }
    if known.is_none() && *read == LimitsState::planned(LimitsState::default()) {
        *limits = Value::Null;
    }
}

/// Checks the block against the admin API's limits.
pub fn validate(diags: &mut Diagnostics, limits: &Value<LimitsState>) {
    let Some(limits) = limits.as_ref_option() else {
        return;
    };
    let at = |name: &'static str| AttributePath::new("limits").index(0).attribute(name);
    check_at(
        diags,
        at("group_member_cap"),
        "group_member_cap",
        &limits.group_member_cap,
        check_range(1..=MAX_MEMBER_CAP),
    );
    check_at(
        diags,
        at("client_sends_per_second"),
        "client_sends_per_second",
        &limits.client_sends_per_second,
        check_range(1..=MAX_CLIENT_SENDS_PER_SECOND),
    );
    for (name, _) in RATES {
        for rate in limits.api_rates.iter().flat_map(|rates| rates.get(name)) {
            let path = at("api_rates").index(0).attribute(name);
            check_at(diags, path, name, rate, |rate: &i64| match *rate < 1 {
                true => Err("must be at least 1".into()),
                false => check_range(1..=MAX_RATE)(rate),
            });
        }
    }
    for (name, ..) in RETENTION {
        for days in limits.retention_days.iter().flat_map(|days| days.get(name)) {
            let path = at("retention_days").index(0).attribute(name);
            check_at(diags, path, name, days, check_range(1..=MAX_RETENTION_DAYS));
        }
    }
}
