//! Push templates (PUSH-07, the commercial console's 自定义推送文案): an app keeps push
//! texts by template id, one per language and a default, and a message sent with
//! `pushExt.templateId` is pushed with the text in each recipient's push language (set
//! by the user's client), the default where that language has none. The template is read
//! when the push job is made, so replicas agree and a later edit changes only later
//! pushes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::keys::push as keys;
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;

/// Templates one app keeps.
pub const MAX_TEMPLATES: usize = 100;
/// Languages one template has texts for, besides its default.
pub const MAX_LANGUAGES: usize = 50;
/// A template's text, as long as a message's push content may be.
pub const MAX_BODY_CHARS: usize = 1_024;
/// A template's title, as long as `pushExt.title` may be.
pub const MAX_TITLE_CHARS: usize = 200;
/// Template ids: 1 to 64 of A-Z a-z 0-9 _ -.
pub const MAX_TEMPLATE_ID_CHARS: usize = 64;
/// Language codes as the client SDKs send them (`zh_CN`, `en_US`, `ar_SA`): 2 to 16 of
/// A-Z a-z 0-9 _ -.
pub const MAX_LANGUAGE_CHARS: usize = 16;

/// One language's push text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateText {
    /// Replaces the notification's title; left out, the title stays (the sender's name or
    /// `pushExt.title`).
    #[serde(default)]
    pub title: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushTemplate {
    /// For recipients whose language has no text here (or who set none).
    pub default: TemplateText,
    #[serde(default)]
    pub languages: BTreeMap<String, TemplateText>,
}

impl TemplateText {
    fn validate(&self, field: &str) -> Result<(), CommandError> {
        let body_chars = self.body.chars().count();
        if body_chars == 0 || body_chars > MAX_BODY_CHARS {
            return Err(CommandError::invalid(
                &format!("{field}.body"),
                format!("must be 1 to {MAX_BODY_CHARS} characters"),
            ));
        }
        if self
            .title
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS)
        {
            return Err(CommandError::invalid(
                &format!("{field}.title"),
                format!("must be at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        Ok(())
    }
}

impl PushTemplate {
    fn validate(&self) -> Result<(), CommandError> {
        self.default.validate("default")?;
        if self.languages.len() > MAX_LANGUAGES {
            return Err(CommandError::invalid(
                "languages",
                format!("at most {MAX_LANGUAGES}"),
            ));
        }
        for (language, text) in &self.languages {
            validate_language(language)?;
            text.validate(&format!("languages.{language}"))?;
        }
        Ok(())
    }

    /// The text for a recipient whose push language is `language`.
    pub fn text_for(&self, language: Option<&str>) -> &TemplateText {
        language
            .and_then(|l| self.languages.get(l))
            .unwrap_or(&self.default)
    }
}

fn code_like(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn validate_template_id(id: &str) -> Result<(), CommandError> {
    match code_like(id, MAX_TEMPLATE_ID_CHARS) {
        true => Ok(()),
        false => Err(CommandError::invalid(
            "templateId",
            format!("must be 1 to {MAX_TEMPLATE_ID_CHARS} of A-Z a-z 0-9 _ -"),
        )),
    }
}

fn validate_language(language: &str) -> Result<(), CommandError> {
    match language.len() >= 2 && code_like(language, MAX_LANGUAGE_CHARS) {
        true => Ok(()),
        false => Err(CommandError::invalid(
            "language",
            format!("{language:?} must be 2 to {MAX_LANGUAGE_CHARS} of A-Z a-z 0-9 _ -"),
        )),
    }
}

/// Puts (`Some`) or removes (`None`) one of an app's push templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPushTemplate {
    pub app_key: String,
    pub template_id: String,
    pub template: Option<PushTemplate>,
}

impl Apply for SetPushTemplate {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_template_id(&self.template_id)?;
        let key = keys::template(&self.app_key, &self.template_id);
        let Some(template) = &self.template else {
            state.delete(key);
            return Ok(());
        };
        template.validate()?;
        let exists = state.get_raw(&key)?.is_some();
        if !exists && state.count_prefix(&keys::templates(&self.app_key))? >= MAX_TEMPLATES as u64 {
            return Err(CommandError::invalid(
                "templateId",
                format!("an app keeps at most {MAX_TEMPLATES} push templates"),
            ));
        }
        state.put(key, &(self.template_id.clone(), template.clone()))?;
        Ok(())
    }
}

/// The app's push templates by id.
pub fn templates(
    state: &impl StateRead,
    app_key: &str,
) -> Result<BTreeMap<String, PushTemplate>, CommandError> {
    let stored: Vec<(String, PushTemplate)> = state.scan(&keys::templates(app_key))?;
    Ok(stored.into_iter().collect())
}

/// Sets (`Some`) or clears (`None`) the language a user's pushes are written in (the
/// client SDKs' `setPushLanguageCode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPushLanguage {
    pub app_key: String,
    pub user_id: String,
    pub language: Option<String>,
}

impl Apply for SetPushLanguage {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        let key = keys::language(&self.app_key, &self.user_id);
        match &self.language {
            Some(language) => {
                validate_language(language)?;
                state.put(key, language)?;
            }
            None => state.delete(key),
        }
        Ok(())
    }
}

/// The language the user's pushes are written in, if the user set one.
pub fn language(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Option<String>, CommandError> {
    Ok(state.get(&keys::language(app_key, user_id))?)
}

/// The template a message's pushes use, if it names one the app keeps (an unknown id
/// leaves the message's own push text, as the commercial service does).
pub(super) fn named(
    state: &impl StateRead,
    app_key: &str,
    template_id: Option<&str>,
) -> Result<Option<PushTemplate>, CommandError> {
    let Some(id) = template_id else {
        return Ok(None);
    };
    let stored: Option<(String, PushTemplate)> = state.get(&keys::template(app_key, id))?;
    Ok(stored.map(|(_, template)| template))
}

/// `title` and `body` of a push to `user_id`, with `template` applied in the user's
/// language.
pub(super) fn apply_to(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    template: &PushTemplate,
    (title, body): (&mut String, &mut String),
) -> Result<(), CommandError> {
    let language = language(state, app_key, user_id)?;
    let text = template.text_for(language.as_deref());
    if let Some(template_title) = &text.title {
        title.clone_from(template_title);
    }
    body.clone_from(&text.body);
    Ok(())
}
