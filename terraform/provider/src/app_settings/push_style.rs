//! `push_sound` and the `push_quiet_hours` block: the app's notification sound and daily
//! quiet window (PUSH-07, PUSH-08), the admin API's `…/push-style`.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tf_provider::schema::{AttributeType, Block, Description, NestedBlock};
use tf_provider::value::Value;
use tf_provider::{map, AttributePath, Diagnostics};

use crate::attributes::{check, check_at, required};

/// The admin API's limits.
const MAX_SOUND_CHARS: usize = 64;
const DAY_SECS: i64 = 86_400;
const MAX_PERIOD_MINUTES: i64 = 1439;
const LEVELS: [i64; 3] = [0, 1, 5];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuietHoursState {
    start_secs: Value<i64>,
    period_minutes: Value<i64>,
    level: Value<i64>,
}

pub fn quiet_hours_schema() -> NestedBlock {
    let number = AttributeType::Number;
    NestedBlock::Optional(Block {
        description: Description::plain(
            "A daily window (UTC) in which the app's pushes are held back, on top of each user's own.",
        ),
        attributes: map! {
            "start_secs" => required(number.clone(), "Start, in seconds after midnight UTC (0 to 86399)."),
            "period_minutes" => required(number.clone(), "Length in minutes (0 to 1439)."),
            "level" => required(number, "5 holds back every push, 1 all but mentions, 0 none."),
        },
        ..Default::default()
    })
}

/// The admin API's body for the sound and the window.
pub fn to_remote(sound: &Value<String>, quiet: &Value<QuietHoursState>) -> serde_json::Value {
    let quiet_hours = quiet.as_ref_option().map(|q| {
        json!({
            "startSecs": q.start_secs.as_ref_option(),
            "periodMinutes": q.period_minutes.as_ref_option(),
            "level": q.level.as_ref_option(),
        })
    });
    json!({ "sound": sound.as_ref_option(), "quietHours": quiet_hours })
}

/// The sound and the window as the admin API's answer (`pushStyle`) has them.
pub fn from_remote(style: &serde_json::Value) -> (Value<String>, Value<QuietHoursState>) {
    let sound = style["sound"].as_str().map(str::to_string).into();
    let number = |v: &serde_json::Value| Value::from(v.as_i64());
    let quiet = style["quietHours"]
        .as_object()
        .map(|q| QuietHoursState {
            start_secs: number(&q["startSecs"]),
            period_minutes: number(&q["periodMinutes"]),
            level: number(&q["level"]),
        })
        .into();
    (sound, quiet)
}

/// Checks the sound and the window against the admin API's limits.
pub fn validate(diags: &mut Diagnostics, sound: &Value<String>, quiet: &Value<QuietHoursState>) {
    check(diags, "push_sound", sound, |sound: &str| {
        let fits = (1..=MAX_SOUND_CHARS).contains(&sound.chars().count())
            && sound
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        match fits {
            true => Ok(()),
            false => Err(format!("1 to {MAX_SOUND_CHARS} of A-Z a-z 0-9 . _ -")),
        }
    });
    let Some(quiet) = quiet.as_ref_option() else {
        return;
    };
    let at = |name: &'static str| {
        AttributePath::new("push_quiet_hours")
            .index(0)
            .attribute(name)
    };
    let within = |max: i64| {
        move |n: &i64| match (0..=max).contains(n) {
            true => Ok(()),
            false => Err(format!("must be 0 to {max}")),
        }
    };
    check_at(
        diags,
        at("start_secs"),
        "start_secs",
        &quiet.start_secs,
        within(DAY_SECS - 1),
    );
    check_at(
        diags,
        at("period_minutes"),
        "period_minutes",
        &quiet.period_minutes,
        within(MAX_PERIOD_MINUTES),
    );
    check_at(
        diags,
        at("level"),
        "level",
        &quiet.level,
        |level: &i64| match LEVELS.contains(level) {
            true => Ok(()),
            false => Err("must be 0, 1 or 5".into()),
        },
    );
}
