//! Shorthands for schema attributes and for reading and checking attribute values.

use std::borrow::Borrow;

use meridian_regions::AreaCode;
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

fn attribute(attr_type: AttributeType, constraint: AttributeConstraint, doc: &str) -> Attribute {
    Attribute {
        attr_type,
        description: doc.into(),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

pub fn required(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Required, doc)
}

pub fn optional(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Optional, doc)
}

/// Optional; when left out the provider fills it in (a default or what the API chose).
pub fn optional_computed(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::OptionalComputed, doc)
}

pub fn computed(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Computed, doc)
}

pub fn sensitive(attribute: Attribute) -> Attribute {
    Attribute {
        sensitive: true,
        ..attribute
    }
}

pub fn string_list() -> AttributeType {
    AttributeType::List(Box::new(AttributeType::String))
}

pub fn number_list() -> AttributeType {
    AttributeType::List(Box::new(AttributeType::Number))
}

/// The value when the configuration leaves it out (null), else the configured one (which
/// may still be unknown).
pub fn or_default<T>(configured: Value<T>, default: T) -> Value<T> {
    match configured {
        Value::Null => Value::Value(default),
        other => other,
    }
}

/// The value when the configuration leaves it out, as Terraform requires of a computed
/// attribute the provider cannot know before it acts.
pub fn or_unknown<T>(configured: Value<T>) -> Value<T> {
    match configured {
        Value::Null => Value::Unknown,
        other => other,
    }
}

/// A list whose elements are all known, if it is.
pub fn known_list<T: Clone>(list: &Value<Vec<Value<T>>>) -> Option<Vec<T>> {
    list.as_ref_option()?
        .iter()
        .map(|item| item.as_ref_option().cloned())
        .collect()
}

pub fn to_value_list<T>(items: impl IntoIterator<Item = T>) -> Value<Vec<Value<T>>> {
    Value::Value(items.into_iter().map(Value::Value).collect())
}

/// Adds an error on `name` unless `check` accepts its value (unknown and null values
/// are not checked: Terraform validates again once they are known).
pub fn check<T: Borrow<U>, U: ?Sized>(
    diags: &mut Diagnostics,
    name: &'static str,
    value: &Value<T>,
    check: impl FnOnce(&U) -> Result<(), String>,
) {
    check_at(diags, AttributePath::new(name), name, value, check);
}

/// [`check`] for an attribute of a nested block: the error points at `path` (such as
/// `moderation_rule[2].timeout_ms`) and is summed up as "Invalid `name`".
pub fn check_at<T: Borrow<U>, U: ?Sized>(
    diags: &mut Diagnostics,
    path: AttributePath,
    name: &str,
    value: &Value<T>,
    check: impl FnOnce(&U) -> Result<(), String>,
) {
    if let Some(value) = value.as_ref_option() {
        if let Err(problem) = check(value.borrow()) {
            diags.error(format!("Invalid {name}"), problem, path);
        }
    }
}

/// An area code as the API writes it (`SG-B`, not `sg-b`), so state and configuration
/// compare equal.
pub fn check_area_code(code: &str) -> Result<(), String> {
    match code.parse::<AreaCode>() {
        Ok(area) if area.as_str() == code => Ok(()),
        Ok(area) => Err(format!("write {} (upper case)", area.as_str())),
        Err(unknown) => Err(unknown.to_string()),
    }
}

/// An attribute's name as the admin API spells it: `token_uri` is `tokenUri`.
pub fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        match (c, upper) {
            ('_', _) => upper = true,
            (c, true) => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

/// A string attribute's known value, or "" (only used where Terraform guarantees it is
/// known: in state, and in plans for required attributes).
pub fn text(value: &Value<String>) -> &str {
    value
        .as_ref_option()
        .map(String::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_become_the_apis() {
        assert_eq!(camel("master_secret"), "masterSecret");
        assert_eq!(
            camel("ultra_group_publish_per_second"),
            "ultraGroupPublishPerSecond"
        );
        assert_eq!(camel("endpoint"), "endpoint");
    }
}
