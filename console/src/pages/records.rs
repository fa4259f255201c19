//! The app's records kept whole by the admin API (`GET`/`PUT /admin/v1/apps/{key}/…`):
//! settings (with callbacks, moderation rules and APNs/FCM credentials), limits, file
//! limits and access, push style, vendor push channels and the client SDK switches, each one form
//! ([`crate::jsonform`]).

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::Value;

use super::app::{app_page, app_path};
use super::{csrf_field, done, error_box, AppCtx, Ctx};
use crate::forms::Form;
use crate::html::Html;
use crate::jsonform;

/// One record: its page and API path below the app, the field its answers hold it in,
/// the tab's title and what the page says about it.
pub(crate) struct Record {
    pub slug: &'static str,
    pub field: &'static str,
    pub title: &'static str,
    pub about: &'static str,
}

const RECORDS: &[Record] = &[
    Record {
        slug: "settings",
        field: "settings",
        title: "Settings",
        about: "Offline window, multiple devices, history for new members, whitelist mode, \
                secure domains, strict replay; callbacks with their moderation rules (JSON, one \
                object per rule); push credentials per app identifier (APNs and FCM; private \
                keys show as <redacted>, which keeps the stored key).",
    },
    Record {
        slug: "limits",
        field: "limits",
        title: "Limits",
        about: "Group size, chatrooms per user, send and Server API rates (unset: the default), \
                and history retention per conversation type.",
    },
    Record {
        slug: "file-limits",
        field: "fileLimits",
        title: "File limits",
        about: "Largest file per kind, the app's quota, how long links last, EXIF stripping.",
    },
    Record {
        slug: "file-access",
        field: "fileAccess",
        title: "File access",
        about: "Private mode: only a file's uploader, the app server and the members of the \
                conversation it was uploaded for may fetch it; otherwise its signed link is \
                enough.",
    },
    Record {
        slug: "push-style",
        field: "pushStyle",
        title: "Push style",
        about: "The notification sound, and a daily quiet window (JSON: startSecs, \
                periodMinutes, level) on top of each user's.",
    },
    Record {
        slug: "push-vendors",
        field: "pushVendors",
        title: "Push vendors",
        about: "Huawei, Xiaomi, OPPO, vivo, Meizu and Honor channels per Android applicationId \
                (JSON; secrets show as <redacted>, which keeps the stored one).",
    },
    Record {
        slug: "ultra-group-push",
        field: "ultraGroupPush",
        title: "Ultra-group push",
        about: "How often an ultra group may push one user: after a push, its other messages \
                push nothing to them for intervalSecs (0–86,400), mentions of them excepted; \
                0 pushes every message.",
    },
    Record {
        slug: "push-rate",
        field: "pushRate",
        title: "Push rate",
        about: "The most pushes per second the app's providers are handed (perSecond, \
                0–100,000): a second's worth goes at once, the rest wait their turn; 0 sets \
                no cap.",
    },
    Record {
        slug: "sdk-features",
        field: "sdkFeatures",
        title: "SDK features",
        about: "Services of the commercial client SDKs: real-time conversations (the SDK asks \
                the server for its conversation list and unread counts and keeps none of its \
                own).",
    },
];

pub(crate) fn record(slug: &str) -> Option<&'static Record> {
    RECORDS.iter().find(|r| r.slug == slug)
}

/// The record as the API answers it now.
async fn read(ctx: &Ctx<'_>, app: &AppCtx, record: &Record) -> Result<Value, String> {
    let path = format!("/apps/{}/{}", app.key, record.slug);
    let answer = ctx
        .state
        .areas
        .admin(&app.area, Method::GET, &path, None)
        .await?;
    if !answer.ok() {
        return Err(answer.error());
    }
    Ok(answer.body[record.field].clone())
}

pub(crate) async fn show(ctx: &Ctx<'_>, app: &AppCtx, slug: &str) -> Response<Bytes> {
    let record = record(slug).expect("routed by record()");
    match read(ctx, app, record).await {
        Ok(value) => render(ctx, app, record, &value, None, None),
        Err(error) => render(ctx, app, record, &Value::Null, None, Some(&error)),
    }
}

fn render(
    ctx: &Ctx<'_>,
    app: &AppCtx,
    record: &Record,
    value: &Value,
    submitted: Option<&Form>,
    error: Option<&str>,
) -> Response<Bytes> {
    let form = if value.is_object() {
        html!(
            "<form method=\"post\" action=\"{}\" class=\"record\">{}{}\
             <button type=\"submit\" id=\"save\">Save</button></form>",
            app_path(app, &format!("/{}", record.slug)),
            csrf_field(&ctx.session),
            jsonform::inputs(value, submitted)
        )
    } else {
        Html::default()
    };
    let body = html!("<p>{}</p>{}{}", record.about, error_box(error), form);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    app_page(ctx, app, status, record.title, body)
}

/// Read, lay the form over it, write it back whole; a refusal is shown with the form as
/// it was sent, and nothing changes.
pub(crate) async fn submit(ctx: &Ctx<'_>, app: &AppCtx, slug: &str) -> Response<Bytes> {
    let record = record(slug).expect("routed by record()");
    let mut value = match read(ctx, app, record).await {
        Ok(value) => value,
        Err(error) => return render(ctx, app, record, &Value::Null, None, Some(&error)),
    };
    let current = value.clone();
    let refused = |error: &str| render(ctx, app, record, &current, Some(&ctx.form), Some(error));
    if let Err(error) = jsonform::merge(&mut value, &ctx.form) {
        return refused(&error);
    }
    let path = format!("/apps/{}/{}", app.key, record.slug);
    match ctx
        .state
        .areas
        .admin_json(&app.area, Method::PUT, &path, &value)
        .await
    {
        Ok(answer) if answer.ok() => done(
            ctx,
            &app_path(app, &format!("/{slug}")),
            format!("{} saved.", record.title),
        ),
        Ok(answer) => refused(&answer.error()),
        Err(unreachable) => refused(&unreachable),
    }
}
