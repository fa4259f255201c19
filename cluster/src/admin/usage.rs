//! `GET /admin/v1/apps/{appKey}/usage` and `…/usage/storage` (CON-01, PUSH-09): the
//! app's replicated usage records shaped into buckets of an hour or a day, every bucket
//! of the range present (zeros where nothing happened), oldest first.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::state::usage::{Category, Counters, HourCounters, UsageReport, HOUR_MS};

/// Buckets of an hour or a day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum By {
    Hour,
    Day,
}

impl By {
    fn bucket_ms(self) -> u64 {
        match self {
            By::Hour => HOUR_MS,
            By::Day => 24 * HOUR_MS,
        }
    }

    /// The most buckets one call answers (a month of hours, a bit over a year of days).
    fn max_buckets(self) -> u64 {
        match self {
            By::Hour => 744,
            By::Day => 400,
        }
    }

    /// The range asked for when none is: the last day of hours, the last 30 days.
    fn default_buckets(self) -> u64 {
        match self {
            By::Hour => 24,
            By::Day => 30,
        }
    }

    fn name(self) -> &'static str {
        match self {
            By::Hour => "hour",
            By::Day => "day",
        }
    }
}

/// What a usage call asks for: buckets from `from_ms` up to `to_ms`, both on bucket
/// boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Range {
    pub by: By,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// Reads `by`, `from` and `to` (ms) from a query string; the message says what is wrong.
pub(super) fn parse_range(query: Option<&str>, now_ms: u64) -> Result<Range, String> {
    let mut by = By::Hour;
    let (mut from, mut to) = (None, None);
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{name} must be milliseconds since 1970, not {value:?}"))
        };
        match name {
            "by" => {
                by = match value {
                    "hour" => By::Hour,
                    "day" => By::Day,
                    _ => return Err(format!("by must be hour or day, not {value:?}")),
                }
            }
            "from" => from = Some(number()?),
            "to" => to = Some(number()?),
            _ => return Err(format!("unknown parameter {name:?} (by, from, to)")),
        }
    }
    let bucket = by.bucket_ms();
    let align = |ms: u64| ms - ms % bucket;
    let to_ms = align(to.unwrap_or(now_ms)) + if to.is_none() { bucket } else { 0 };
    let from_ms = match from {
        Some(from) => align(from),
        None => to_ms.saturating_sub(by.default_buckets() * bucket),
    };
    if from_ms >= to_ms {
        return Err("from must come before to".into());
    }
    if (to_ms - from_ms) / bucket > by.max_buckets() {
        return Err(format!(
            "at most {} buckets of a {} per call",
            by.max_buckets(),
            by.name()
        ));
    }
    Ok(Range { by, from_ms, to_ms })
}

/// The answer: `{appKey, by, onlineUsers, buckets: [...]}`.
pub(super) fn shape(app_key: &str, range: Range, report: &UsageReport) -> Value {
    let bucket_ms = range.by.bucket_ms();
    let count = ((range.to_ms - range.from_ms) / bucket_ms) as usize;
    let index = |hour: u64| ((hour - range.from_ms) / bucket_ms) as usize;
    // Sums per bucket and category.
    let mut sums: Vec<BTreeMap<Category, Counters>> = vec![BTreeMap::new(); count];
    let mut online_peaks = vec![None::<u64>; count];
    let mut online_last = vec![None::<u64>; count];
    for HourCounters {
        category,
        hour_start_ms,
        counters,
    } in &report.hours
    {
        let Some(i) = (*hour_start_ms >= range.from_ms)
            .then(|| index(*hour_start_ms))
            .filter(|i| *i < count)
        else {
            continue;
        };
        if *category == Category::Online {
            let peak = counters.get("peak").copied().unwrap_or(0);
            online_peaks[i] = Some(online_peaks[i].unwrap_or(0).max(peak));
            online_last[i] = counters.get("last").copied();
            continue;
        }
        let sum = sums[i].entry(*category).or_default();
        for (name, value) in counters {
            *sum.entry(name.clone()).or_default() += value;
        }
    }
    // Buckets without a change kept the count the one before ended with.
    let mut carried = report
        .online_before
        .as_ref()
        .and_then(|before| before.counters.get("last").copied())
        .unwrap_or(0);
    let buckets: Vec<Value> = (0..count)
        .map(|i| {
            let peak = online_peaks[i].map_or(carried, |peak| peak.max(carried));
            if let Some(last) = online_last[i] {
                carried = last;
            }
            let of = |category| sums[i].get(&category).cloned().unwrap_or_default();
            json!({
                "startMs": range.from_ms + i as u64 * bucket_ms,
                "messages": messages(&of(Category::Messages)),
                "apiCalls": api_calls(&of(Category::Api)),
                "onlineUsersPeak": peak,
                "pushes": pushes(&of(Category::Push)),
                "callbacks": callbacks(&of(Category::Callbacks)),
            })
        })
        .collect();
    json!({
        "appKey": app_key,
        "by": range.by.name(),
        "onlineUsers": report.online_now,
        "buckets": buckets,
    })
}

fn messages(counters: &Counters) -> Value {
    let mut out = Map::new();
    for label in ["private", "group", "ultragroup", "chatroom", "system"] {
        out.insert(
            label.into(),
            json!(counters.get(label).copied().unwrap_or(0)),
        );
    }
    out.insert("total".into(), json!(counters.values().sum::<u64>()));
    Value::Object(out)
}

/// Counter names are `{path} ok` and `{path} failed`.
fn api_calls(counters: &Counters) -> Value {
    let mut paths = BTreeMap::<&str, (u64, u64)>::new();
    for (name, value) in counters {
        let Some((path, result)) = name.rsplit_once(' ') else {
            continue;
        };
        let entry = paths.entry(path).or_default();
        if result == "ok" {
            entry.0 += value;
        } else {
            entry.1 += value;
        }
    }
    let total: u64 = paths.values().map(|(ok, failed)| ok + failed).sum();
    let failed: u64 = paths.values().map(|(_, failed)| failed).sum();
    let paths: Map<String, Value> = paths
        .into_iter()
        .map(|(path, (ok, failed))| (path.to_string(), json!({ "ok": ok, "failed": failed })))
        .collect();
    json!({ "total": total, "failed": failed, "paths": paths })
}

/// Counter names are `{provider}.{outcome}`, failures `{provider}.failed.{reason}`.
fn pushes(counters: &Counters) -> Value {
    let mut totals = BTreeMap::<&str, u64>::new();
    let mut failed = BTreeMap::<&str, u64>::new();
    let mut providers = BTreeMap::<&str, BTreeMap<&str, u64>>::new();
    for (name, value) in counters {
        let Some((provider, outcome)) = name.split_once('.') else {
            continue;
        };
        let outcome = match outcome.strip_prefix("failed.") {
            Some(reason) => {
                *failed.entry(reason).or_default() += value;
                "failed"
            }
            None => outcome,
        };
        *totals.entry(outcome).or_default() += value;
        *providers
            .entry(provider)
            .or_default()
            .entry(outcome)
            .or_default() += value;
    }
    let figure = |figures: &BTreeMap<&str, u64>, name| figures.get(name).copied().unwrap_or(0);
    let providers: Map<String, Value> = providers
        .iter()
        .map(|(provider, figures)| {
            let shaped = json!({
                "sent": figure(figures, "sent"),
                "accepted": figure(figures, "accepted"),
                "dropped": figure(figures, "dropped"),
                "failed": figure(figures, "failed"),
                "clicked": figure(figures, "clicked"),
            });
            (provider.to_string(), shaped)
        })
        .collect();
    json!({
        "sent": figure(&totals, "sent"),
        "accepted": figure(&totals, "accepted"),
        "dropped": figure(&totals, "dropped"),
        "failed": failed,
        "clicked": figure(&totals, "clicked"),
        "providers": providers,
    })
}

/// Counter names are `{kind}.{outcome}`.
fn callbacks(counters: &Counters) -> Value {
    let mut totals = BTreeMap::<&str, u64>::new();
    let mut kinds = Map::new();
    for (name, value) in counters {
        let Some((kind, outcome)) = name.split_once('.') else {
            continue;
        };
        *totals.entry(outcome).or_default() += value;
        let entry = kinds
            .entry(kind.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|figures| figures.entry(outcome.to_string()).or_insert(json!(0)));
        if let Some(figure) = entry {
            *figure = json!(figure.as_u64().unwrap_or(0) + value);
        }
    }
    let figure = |name| totals.get(name).copied().unwrap_or(0);
    json!({
        "delivered": figure("delivered"),
        "dropped": figure("dropped"),
        "failedAttempts": figure("failed_attempt"),
        "deadLetters": figure("dead"),
        "kinds": kinds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * HOUR_MS;

    #[test]
    fn ranges_default_to_the_last_day_of_hours_and_refuse_what_is_wrong() {
        let now = 100 * DAY + 5 * HOUR_MS + 17;
        let range = parse_range(None, now).unwrap();
        assert_eq!(range.by, By::Hour);
        assert_eq!(
            range.to_ms,
            100 * DAY + 6 * HOUR_MS,
            "the current hour is in"
        );
        assert_eq!(range.to_ms - range.from_ms, 24 * HOUR_MS);
        let days = parse_range(Some("by=day"), now).unwrap();
        assert_eq!((days.from_ms, days.to_ms), (71 * DAY, 101 * DAY));
        let month = parse_range(Some(&format!("from=0&to={}", 31 * DAY)), now).unwrap();
        assert_eq!((month.to_ms - month.from_ms) / HOUR_MS, 744, "at the limit");
        for (query, says) in [
            ("by=week", "by must be hour or day"),
            ("from=x", "from must be milliseconds"),
            ("from=10&to=5", "from must come before to"),
            ("size=3", "unknown parameter"),
        ] {
            let error = parse_range(Some(query), now).unwrap_err();
            assert!(error.contains(says), "{query}: {error}");
        }
        let too_long = format!("from=0&to={}", 31 * DAY + HOUR_MS);
        assert!(parse_range(Some(&too_long), now)
            .unwrap_err()
            .contains("at most 744"));
    }

    fn hour(category: Category, hour_start_ms: u64, counters: &[(&str, u64)]) -> HourCounters {
        HourCounters {
            category,
            hour_start_ms,
            counters: counters.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn days_add_up_their_hours_and_online_peaks_carry_over_quiet_hours() {
        let report = UsageReport {
            online_now: 2,
            hours: vec![
                hour(Category::Messages, DAY + HOUR_MS, &[("private", 3)]),
                hour(
                    Category::Messages,
                    DAY + 2 * HOUR_MS,
                    &[("private", 4), ("group", 1)],
                ),
                hour(
                    Category::Api,
                    DAY,
                    &[
                        ("/user/getToken.json ok", 2),
                        ("/user/getToken.json failed", 1),
                    ],
                ),
                hour(
                    Category::Push,
                    2 * DAY,
                    &[
                        ("apns.sent", 3),
                        ("apns.accepted", 2),
                        ("apns.failed.token_gone", 1),
                    ],
                ),
                hour(
                    Category::Callbacks,
                    2 * DAY,
                    &[("routing.failed_attempt", 2), ("routing.dead", 1)],
                ),
                hour(Category::Online, DAY + HOUR_MS, &[("peak", 5), ("last", 2)]),
            ],
            online_before: Some(hour(Category::Online, 0, &[("peak", 1), ("last", 1)])),
        };
        let range = Range {
            by: By::Day,
            from_ms: DAY,
            to_ms: 4 * DAY,
        };
        let shaped = shape("k", range, &report);
        let buckets = shaped["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 3);
        assert_eq!(buckets[0]["messages"]["private"], 7);
        assert_eq!(buckets[0]["messages"]["total"], 8);
        assert_eq!(buckets[0]["apiCalls"]["total"], 3);
        assert_eq!(buckets[0]["apiCalls"]["failed"], 1);
        assert_eq!(
            buckets[0]["apiCalls"]["paths"]["/user/getToken.json"]["ok"],
            2
        );
        assert_eq!(buckets[0]["onlineUsersPeak"], 5);
        assert_eq!(
            buckets[1]["onlineUsersPeak"], 2,
            "the count the day before ended with"
        );
        assert_eq!(buckets[1]["pushes"]["sent"], 3);
        assert_eq!(buckets[1]["pushes"]["failed"]["token_gone"], 1);
        assert_eq!(buckets[1]["pushes"]["providers"]["apns"]["failed"], 1);
        assert_eq!(buckets[1]["callbacks"]["failedAttempts"], 2);
        assert_eq!(buckets[1]["callbacks"]["deadLetters"], 1);
        assert_eq!(
            buckets[2]["messages"]["total"], 0,
            "a quiet day is there, as zeros"
        );
        assert_eq!(shaped["onlineUsers"], 2);
    }
}
