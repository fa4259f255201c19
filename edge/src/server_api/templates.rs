//! `/message/private/publish_template.json` and `/message/system/publish_template.json`:
//! one message per recipient, each with its own values put into the shared content and
//! push text (`{name}` placeholders, as the commercial service fills them).

use meridian_cluster::state::Conversation;
use serde_json::{Map, Value};

use super::messages::{
    content_flags, new_message, publish_to, Publish, MAX_PRIVATE_RECIPIENTS, MAX_SYSTEM_RECIPIENTS,
};
use super::send_options::body_flag;
use super::{Call, Fields};
use meridian_access::error::ApiError;
use meridian_access::params::json_strings_at_most;

/// Which conversation a template message goes to.
#[derive(Clone, Copy)]
pub(super) enum TemplateKind {
    Private,
    System,
}

// covers: API-06, PRV-01, SYS-01
/// `{fromUserId, toUserId: [..], objectName, content, values: [{placeholder: value}],
/// pushContent?: [..], pushData?: [..], verifyBlacklist?, isPersisted?, isCounted?}`:
/// `values`, `pushContent` and `pushData` hold one entry per recipient, in order.
pub(super) async fn publish(call: &Call, kind: TemplateKind) -> Fields {
    let body = call.json()?;
    let max = match kind {
        TemplateKind::Private => MAX_PRIVATE_RECIPIENTS,
        TemplateKind::System => MAX_SYSTEM_RECIPIENTS,
    };
    let to = json_strings_at_most(body, "toUserId", max)?;
    let values = per_recipient(body, "values", to.len())?.unwrap_or_default();
    let push_content = per_recipient(body, "pushContent", to.len())?;
    let push_data = per_recipient(body, "pushData", to.len())?;
    let from = text(body, "fromUserId")?.to_string();
    let object_name = text(body, "objectName")?.to_string();
    let content = text(body, "content")?;
    // A private template may go to one channel of the conversations (the Java SDK's
    // busChannel); a system conversation has none.
    let channel = match kind {
        TemplateKind::Private => body["busChannel"].as_str().unwrap_or_default(),
        TemplateKind::System => "",
    };
    let mut messages = Vec::with_capacity(to.len());
    for (i, user) in to.iter().enumerate() {
        let values = match values.get(i) {
            Some(Value::Object(values)) => Some(values),
            // The Go SDK sends a recipient without values as null.
            None | Some(Value::Null) => None,
            Some(_) => return Err(ApiError::param("values: each entry must be an object")),
        };
        let filled = |template: &str| fill(template, values);
        let content = filled(content);
        let p = Publish {
            from: from.clone(),
            flags: content_flags(
                &object_name,
                &content,
                body_flag(&call.body, "isPersisted", true)?,
                body_flag(&call.body, "isCounted", true)?,
            )?,
            object_name: object_name.clone(),
            content,
            channel: channel.to_string(),
            push_content: entry_text(push_content.as_deref(), i)?.map(filled),
            push_data: entry_text(push_data.as_deref(), i)?.map(filled),
            // A system account has no blacklist to honour (as `/message/system/publish.json`).
            verify_blacklist: matches!(kind, TemplateKind::Private)
                && body_flag(&call.body, "verifyBlacklist", false)?,
        };
        let conversation = match kind {
            TemplateKind::Private => Conversation::private(&from, user, channel),
            TemplateKind::System => Conversation::system(&from, user),
        };
        messages.push(new_message(&p, conversation, Some(user)));
    }
    let ids: Vec<&str> = to.iter().map(String::as_str).collect();
    publish_to(call, messages, "userId", &ids).await
}

fn text<'v>(body: &'v Value, name: &str) -> Result<&'v str, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing(name))
}

/// An array with one entry per recipient, when given.
fn per_recipient(
    body: &Value,
    name: &str,
    recipients: usize,
) -> Result<Option<Vec<Value>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(entries)) if entries.len() == recipients => Ok(Some(entries.clone())),
        Some(Value::Array(entries)) => Err(ApiError::param(format!(
            "{name} has {} entries for {recipients} recipients",
            entries.len()
        ))),
        Some(_) => Err(ApiError::param(format!("{name} must be an array"))),
    }
}

fn entry_text(entries: Option<&[Value]>, i: usize) -> Result<Option<&str>, ApiError> {
    match entries.map(|entries| &entries[i]) {
        None | Some(Value::Null) => Ok(None),
        // The Go SDK sends "" for a recipient without its own text.
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str())),
        Some(_) => Err(ApiError::param(
            "pushContent and pushData entries must be strings",
        )),
    }
}

/// The template with each placeholder (a key of `values`, braces included) replaced by
/// its value.
fn fill(template: &str, values: Option<&Map<String, Value>>) -> String {
    let mut filled = template.to_string();
    for (placeholder, value) in values.into_iter().flatten() {
        let value = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        filled = filled.replace(placeholder.as_str(), &value);
    }
    filled
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn placeholders_take_each_recipients_values() {
        let values = json!({"{c}": "1", "{d}": 2});
        let values = values.as_object();
        assert_eq!(super::fill("{c}-{d}-{c}-{e}", values), "1-2-1-{e}");
        assert_eq!(super::fill("{c}", None), "{c}");
    }
}
