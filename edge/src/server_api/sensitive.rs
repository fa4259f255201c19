//! `/sensitiveword/*` (HOOK-06): the app's sensitive words. A client's text message
//! containing a word is refused, or the word replaced by its `replaceWord`.

use meridian_access::error::ApiError;
use meridian_cluster::state::{
    AddSensitiveWord, Command, DeleteSensitiveWords, Query, QueryOutput,
};
use serde_json::json;

use super::{fields, owned, unexpected, Call, Fields};

/// Words one `/sensitiveword/batch/delete.json` call may name.
const MAX_DELETE_WORDS: usize = 50;

// covers: HOOK-06
pub(super) async fn add(call: &Call) -> Fields {
    let form = call.form()?;
    let word = form.required("word")?.to_string();
    // As the commercial service: a word is letters and digits, of any script. Checked
    // here so `AddSensitiveWord` applies as it always did on every replica.
    if !word.chars().all(char::is_alphanumeric) {
        return Err(ApiError::param(
            "word must be letters and digits (Chinese characters count as letters)",
        ));
    }
    let replace = form.get("replaceWord").filter(|r| !r.is_empty());
    call.write(Command::AddSensitiveWord(AddSensitiveWord {
        app_key: call.app_key(),
        word,
        replace: replace.map(str::to_string),
    }))
    .await?;
    Ok(fields(json!({})))
}

pub(super) async fn batch_delete(call: &Call) -> Fields {
    let words = call.form()?.required_at_most("words", MAX_DELETE_WORDS)?;
    delete_words(call, owned(&words)).await
}

/// `/sensitiveword/delete.json`: one `word` (the older SDKs' path).
pub(super) async fn delete(call: &Call) -> Fields {
    let word = call.form()?.required("word")?.to_string();
    delete_words(call, vec![word]).await
}

/// Words the app does not have are skipped: deleting is done either way.
async fn delete_words(call: &Call, words: Vec<String>) -> Fields {
    call.write(Command::DeleteSensitiveWords(DeleteSensitiveWords {
        app_key: call.app_key(),
        words,
    }))
    .await?;
    Ok(fields(json!({})))
}

/// `type`: 0 replaced words, 1 refused words, 2 (or none) both.
pub(super) async fn list(call: &Call) -> Fields {
    let kind = call.form()?.get("type").unwrap_or("2").to_string();
    match call
        .read(Query::SensitiveWords {
            app_key: call.app_key(),
        })
        .await?
    {
        QueryOutput::SensitiveWords(words) => {
            let words: Vec<_> = words
                .iter()
                .map(|w| {
                    let kind = if w.replace.is_some() { "0" } else { "1" };
                    (kind, w)
                })
                .filter(|(k, _)| kind == "2" || *k == kind)
                .map(|(k, w)| {
                    json!({"type": k, "word": w.word, "replaceWord": w.replace.clone().unwrap_or_default()})
                })
                .collect();
            Ok(fields(json!({ "words": words })))
        }
        other => Err(unexpected(other)),
    }
}
