//! `moderation_rule` blocks: which messages are held until the app server's URL says
//! whether they pass (the admin API's `callbacks.moderation`).

use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Block, Description, NestedBlock};
use tf_provider::value::Value;
use tf_provider::{map, AttributePath, Diagnostics};

use super::{at_most, check_conversation_types, check_range, check_url};
use crate::attributes::{
    check_at, known_list, number_list, optional_computed, or_default, required, string_list, text,
    to_value_list,
};

/// Rules one app may have, and entries one rule's list may hold.
const MAX_RULES: usize = 20;
const MAX_ENTRIES: usize = 100;
/// The admin API's defaults for a rule.
const DEFAULT_TIMEOUT_MS: i64 = 3_000;
const DEFAULT_ACTION: &str = "pass";
const TIMEOUT_MS: std::ops::RangeInclusive<i64> = 100..=10_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModerationRuleState {
    url: Value<String>,
    senders: Value<Vec<Value<String>>>,
    receivers: Value<Vec<Value<String>>>,
    conversation_types: Value<Vec<Value<i64>>>,
    object_names: Value<Vec<Value<String>>>,
    timeout_ms: Value<i64>,
    default_action: Value<String>,
}

/// A rule as the admin API reads and writes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRule {
    url: String,
    senders: Vec<String>,
    receivers: Vec<String>,
    conversation_types: Vec<i64>,
    object_names: Vec<String>,
    timeout_ms: i64,
    default_action: String,
}

pub fn schema() -> NestedBlock {
    let strings = |doc: &str| optional_computed(string_list(), doc);
    NestedBlock::List(Block {
        description: Description::plain(format!(
            "A moderation rule (at most {MAX_RULES}): a message matching it is held until its URL answers. Empty lists match anything; a message is held by the first rule all of whose lists match."
        )),
        attributes: map! {
            "url" => required(AttributeType::String, "Where the held message is posted (http:// or https://)."),
            "senders" => strings("Sender user ids the rule holds, at most 100; empty: any (default)."),
            "receivers" => strings("Target ids (recipient user, group or chatroom), at most 100; empty: any (default)."),
            "conversation_types" => optional_computed(number_list(), "Conversation types: 1 private, 3 group, 4 chatroom, 6 system, 10 ultra group; empty: any (default)."),
            "object_names" => strings("Message types such as RC:TxtMsg, at most 100; empty: any (default)."),
            "timeout_ms" => optional_computed(AttributeType::Number, "How long the URL has to answer, 100 to 10000 ms (default 3000)."),
            "default_action" => optional_computed(AttributeType::String, "What happens when it does not answer in time: pass (default) or block."),
        },
        ..Default::default()
    })
}

impl ModerationRuleState {
    /// The configured rule with the API's defaults for what is left out.
    pub fn planned(config: Self) -> Self {
        Self {
            url: config.url,
            senders: or_default(config.senders, Vec::new()),
            receivers: or_default(config.receivers, Vec::new()),
            conversation_types: or_default(config.conversation_types, Vec::new()),
            object_names: or_default(config.object_names, Vec::new()),
            timeout_ms: or_default(config.timeout_ms, DEFAULT_TIMEOUT_MS),
            default_action: or_default(config.default_action, DEFAULT_ACTION.to_string()),
        }
    }

    pub fn to_remote(&self) -> RemoteRule {
        RemoteRule {
            url: text(&self.url).to_string(),
            senders: known_list(&self.senders).unwrap_or_default(),
            receivers: known_list(&self.receivers).unwrap_or_default(),
            conversation_types: known_list(&self.conversation_types).unwrap_or_default(),
            object_names: known_list(&self.object_names).unwrap_or_default(),
            timeout_ms: self
                .timeout_ms
                .as_ref_option()
                .copied()
                .unwrap_or(DEFAULT_TIMEOUT_MS),
            default_action: self
                .default_action
                .as_ref_option()
                .cloned()
                .unwrap_or_else(|| DEFAULT_ACTION.to_string()),
        }
    }

    /// Adds an error for each value out of the admin API's limits; `path` is the rule's.
    fn validate(&self, diags: &mut Diagnostics, path: &AttributePath) {
        let at = |name: &'static str| path.clone().attribute(name);
        check_at(diags, at("url"), "url", &self.url, check_url);
        for (name, list) in [
            ("senders", &self.senders),
            ("receivers", &self.receivers),
            ("object_names", &self.object_names),
        ] {
            check_at(diags, at(name), name, list, at_most(MAX_ENTRIES, "entries"));
        }
        check_at(
            diags,
            at("conversation_types"),
            "conversation_types",
            &self.conversation_types,
            |types: &[Value<i64>]| {
                at_most(MAX_ENTRIES, "entries")(types)?;
                check_conversation_types(types)
            },
        );
        check_at(
            diags,
            at("timeout_ms"),
            "timeout_ms",
            &self.timeout_ms,
            check_range(TIMEOUT_MS),
        );
        check_at(
            diags,
            at("default_action"),
            "default_action",
            &self.default_action,
            |action: &str| match action {
                "pass" | "block" => Ok(()),
                _ => Err(format!("{action:?} must be pass or block")),
            },
        );
    }
}

impl From<RemoteRule> for ModerationRuleState {
    fn from(rule: RemoteRule) -> Self {
        Self {
            url: rule.url.into(),
            senders: to_value_list(rule.senders),
            receivers: to_value_list(rule.receivers),
            conversation_types: to_value_list(rule.conversation_types),
            object_names: to_value_list(rule.object_names),
            timeout_ms: rule.timeout_ms.into(),
            default_action: rule.default_action.into(),
        }
    }
}

/// Checks the `moderation_rule` blocks against the admin API's limits.
pub fn validate(diags: &mut Diagnostics, rules: &Value<Vec<ModerationRuleState>>) {
    crate::attributes::check(
        diags,
        "moderation_rule",
        rules,
        at_most(MAX_RULES, "blocks"),
    );
    for (i, rule) in rules.iter().flatten().enumerate() {
        rule.validate(
            diags,
            &AttributePath::new("moderation_rule").index(i as i64),
        );
    }
}
