//! Sensitive words (HOOK-06): the app's word list (Server API `/sensitiveword/*`). A text
//! message a client sends that contains a word without a replacement is refused; a word
//! with one is replaced. Screening happens while applying, so every replica agrees on
//! what was stored. Server API messages are not screened (as commercially, by default).

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::keys::{of_app, sensitive as keys};
use super::store::{Overlay, StateRead};

/// Words one app may list.
pub const MAX_WORDS: usize = 50;
/// The longest word or replacement.
pub const MAX_WORD_CHARS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitiveWord {
    pub word: String,
    /// `None`: a message containing the word is refused.
    pub replace: Option<String>,
}

/// What screening made of a message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Screened {
    Clean,
    Replaced(String),
    Refused,
}

fn validate(field: &str, text: &str) -> Result<(), CommandError> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_WORD_CHARS || text.contains('/') {
        return Err(CommandError::invalid(
            field,
            format!("must be 1 to {MAX_WORD_CHARS} characters without '/'"),
        ));
    }
    Ok(())
}

pub fn list(state: &impl StateRead, app_key: &str) -> Result<Vec<SensitiveWord>, CommandError> {
    Ok(state.scan(&of_app(keys::WORD, app_key))?)
}

pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    Ok(state.delete_prefix(&of_app(keys::WORD, app_key))?)
}

/// Screens plain text: a word without a replacement refuses it, the others are replaced.
pub(super) fn screen_text(words: &[SensitiveWord], text: &str) -> Screened {
    let mut screened = text.to_string();
    for entry in words {
        if !screened.contains(&entry.word) {
            continue;
        }
        match &entry.replace {
            None => return Screened::Refused,
            Some(replace) => screened = screened.replace(&entry.word, replace),
        }
    }
    if screened == text {
        Screened::Clean
    } else {
        Screened::Replaced(screened)
    }
}

/// Screens a text message's `content` field (other types pass untouched).
pub(super) fn screen_content(
    words: &[SensitiveWord],
    object_name: &str,
    content: &str,
) -> Screened {
    if object_name != "RC:TxtMsg" || words.is_empty() {
        return Screened::Clean;
    }
    let Ok(mut body) = serde_json::from_str::<serde_json::Value>(content) else {
        return Screened::Clean;
    };
    let Some(text) = body.get("content").and_then(|t| t.as_str()) else {
        return Screened::Clean;
    };
    match screen_text(words, text) {
        Screened::Replaced(screened) => {
            body["content"] = serde_json::Value::String(screened);
            Screened::Replaced(body.to_string())
        }
        other => other,
    }
}

/// Adds a sensitive word (HOOK-06), replaced by `replace` or (`None`) refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddSensitiveWord {
    pub app_key: String,
    pub word: String,
    pub replace: Option<String>,
}

impl Apply for AddSensitiveWord {
    type Answer = ();

    /// Adds a word, or changes its replacement.
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let word: &str = &self.word;
        let replace: Option<&str> = self.replace.as_deref();
        apps::by_key(state, app_key)?;
        validate("word", word)?;
        if let Some(replace) = replace {
            validate("replaceWord", replace)?;
        }
        let key = keys::word(app_key, word);
        if state.get_raw(&key)?.is_none() && list(state, app_key)?.len() >= MAX_WORDS {
            return Err(CommandError::Limit {
                what: "sensitive words".into(),
                limit: MAX_WORDS as u64,
            });
        }
        let entry = SensitiveWord {
            word: word.to_string(),
            replace: replace.map(str::to_string),
        };
        Ok(state.put(key, &entry)?)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteSensitiveWords {
    pub app_key: String,
    pub words: Vec<String>,
}

impl Apply for DeleteSensitiveWords {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let words: &[String] = &self.words;
        apps::by_key(state, app_key)?;
        for word in words {
            state.delete(keys::word(app_key, word));
        }
        Ok(())
    }
}
