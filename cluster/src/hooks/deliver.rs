//! One attempt at a job (a callback posted to the app server, or a push through its
//! provider) and the outcomes written back through Raft in batches.

use std::sync::Arc;

use meridian_clock::now_ms;
use meridian_proto::signature::signed_url;
use meridian_push::{Notification, Outcome, PushClient};
use tokio::sync::mpsc;

use super::render::{destination, render};
use super::{HookNode, Senders, Settled, CALLBACK_TIMEOUT, EVENT_ID_HEADER, RECORD_BATCH};
use crate::metrics::{CallbackAttempt, CallbackKind};
use crate::state::push_style;
use crate::state::vendor_push::{self, VendorChannel};
use crate::state::{
    self, AppSettings, Envelope, HookEvent, Job, PushJob, PushProvider, Query, QueryOutput,
};

/// What became of one attempt.
pub(super) enum Attempt {
    Delivered,
    /// The app no longer wants it (or no longer exists).
    Dropped,
    Failed(String),
    /// The push provider will never take it (e.g. too large): dropped.
    Rejected(String),
    /// The push provider no longer knows the device: its token is removed.
    TokenGone,
}

/// An app as a pass finds it.
#[derive(Clone)]
pub(super) enum AppLookup {
    /// Its settings and secret, or `None`: the app is gone (its jobs are dropped).
    Read(Option<Arc<(AppSettings, String)>>),
    /// The state could not be read now.
    Unreadable,
}

/// The app's settings and secret, read once per pass.
pub(super) fn app_settings(node: &HookNode, app_key: &str) -> AppLookup {
    let tree = &node.state_machine.state();
    let app = match state::query(
        tree,
        &Query::GetApp {
            app_key: app_key.to_string(),
        },
    ) {
        Ok(QueryOutput::App(app, env)) => app.credentials(env).app_secret.clone(),
        Err(state::CommandError::NotFound { .. }) => return AppLookup::Read(None),
        _ => return AppLookup::Unreadable,
    };
    match state::query(
        tree,
        &Query::AppSettings {
            app_key: app_key.to_string(),
        },
    ) {
        Ok(QueryOutput::Settings(settings)) => AppLookup::Read(Some(Arc::new((settings, app)))),
        _ => AppLookup::Unreadable,
    }
}

/// Why a job waits: kept (and in the end a dead letter) rather than dropped, so an
/// operator who removed a URL by mistake loses nothing.
const NO_DESTINATION: &str = "the app has no URL or credentials for this callback now";

pub(super) async fn attempt(
    node: &HookNode,
    senders: &Senders,
    job: &Job,
    app: Option<Arc<(AppSettings, String)>>,
) -> Attempt {
    let Some(app) = app else {
        return Attempt::Dropped;
    };
    let (settings, secret) = &*app;
    if let HookEvent::Push(push) = &job.event {
        // A device that logged out or registered another token since must not get it.
        let local = &node.state_machine.state();
        let still_registered =
            state::push::still_registered(local, &job.app_key, &push.user_id, &push.device)
                .unwrap_or(true);
        if !still_registered {
            return Attempt::Dropped;
        }
        return send_push(node, &senders.push, settings, &job.app_key, secret, push).await;
    }
    // Room and erasure callbacks go to URLs kept apart from the app's settings.
    let local = &node.state_machine.state();
    let kept_apart = match &job.event {
        HookEvent::RtcRoom(_) => state::rtc::callback_url(local, &job.app_key),
        HookEvent::UsersErased(_) => state::erasure_callback(local, &job.app_key),
        _ => Ok(None),
    }
    .ok()
    .flatten();
    let Some(url) = kept_apart
        .as_deref()
        .or_else(|| destination(settings, &job.event))
    else {
        return Attempt::Failed(NO_DESTINATION.into());
    };
    let Some(rendered) = render(&job.event) else {
        return Attempt::Dropped;
    };
    let url = signed_url(url, &job.app_key, secret, now_ms());
    let client = &senders.callbacks;
    let id = job.id.to_string();
    let headers = [(EVENT_ID_HEADER, id.as_str())];
    match client
        .post(
            &url,
            rendered.content_type,
            &headers,
            rendered.body.into(),
            CALLBACK_TIMEOUT,
        )
        .await
    {
        Ok(answer) if (200..300).contains(&answer.status) => Attempt::Delivered,
        Ok(answer) => Attempt::Failed(format!("HTTP {}", answer.status)),
        Err(e) => Attempt::Failed(e),
    }
}

/// PUSH-02: one notification through the provider the device registered with, using the
/// credentials of its app identifier (PUSH-04) as they are now; vendor channels (PUSH-05)
/// are read from their own record.
async fn send_push(
    node: &HookNode,
    client: &PushClient,
    settings: &AppSettings,
    app_key: &str,
    secret: &str,
    job: &PushJob,
) -> Attempt {
    let notification = Notification {
        device_token: job.device.token.clone(),
        title: job.title.clone(),
        body: job.body.clone(),
        data: job.data.clone(),
        id: job.msg_uid.clone(),
        user_id: job.user_id.clone(),
        // The app server's count wins; else the unread total. Summing the conversation
        // list costs a scan: only for providers that show it.
        badge: job.options.badge.or_else(|| {
            matches!(job.device.provider, PushProvider::Apns | PushProvider::Fcm)
                .then(|| badge(node, app_key, &job.user_id))
                .flatten()
        }),
        sound: push_style::of_app(&node.state_machine.state(), app_key)
            .ok()
            .and_then(|style| style.sound),
        options: (*job.options).clone(),
    };
    let push = &settings.push;
    let credentials = push.app(&job.device.app_id);
    let outcome = match job.device.provider {
        PushProvider::Apns => match credentials.and_then(|c| c.apns.as_ref()) {
            Some(apns) => client.send_apns(apns, &notification).await,
            None => return Attempt::Failed(NO_DESTINATION.into()),
        },
        PushProvider::ApnsVoip => match credentials.and_then(|c| c.apns.as_ref()) {
            Some(apns) => client.send_apns_voip(apns, &notification).await,
            None => return Attempt::Failed(NO_DESTINATION.into()),
        },
        PushProvider::Fcm => match credentials.and_then(|c| c.fcm.as_ref()) {
            Some(fcm) => client.send_fcm(fcm, &notification).await,
            None => return Attempt::Failed(NO_DESTINATION.into()),
        },
        PushProvider::Webhook => match &push.webhook_url {
            Some(url) => {
                let url = signed_url(url, app_key, secret, now_ms());
                client.send_webhook(&url, &notification).await
            }
            None => return Attempt::Failed(NO_DESTINATION.into()),
        },
        // Every vendor channel (PUSH-05).
        _ => {
            let vendors = match vendor_push::of_app(&node.state_machine.state(), app_key) {
                Ok(vendors) => vendors,
                Err(e) => return Attempt::Failed(e.to_string()),
            };
            match vendors.channel(&job.device.app_id, job.device.provider) {
                Some(VendorChannel::Huawei(huawei)) => {
                    client.send_huawei(huawei, &notification).await
                }
                Some(VendorChannel::Xiaomi(xiaomi)) => {
                    client.send_xiaomi(xiaomi, &notification).await
                }
                Some(VendorChannel::Oppo(oppo)) => client.send_oppo(oppo, &notification).await,
                Some(VendorChannel::Vivo(vivo)) => client.send_vivo(vivo, &notification).await,
                Some(VendorChannel::Meizu(meizu)) => client.send_meizu(meizu, &notification).await,
                Some(VendorChannel::Honor(honor)) => client.send_honor(honor, &notification).await,
                None => return Attempt::Failed(NO_DESTINATION.into()),
            }
        }
    };
    match outcome {
        Outcome::Delivered => Attempt::Delivered,
        Outcome::TokenGone => Attempt::TokenGone,
        Outcome::Retry { reason, .. } => Attempt::Failed(reason),
        Outcome::Rejected { reason } => Attempt::Rejected(reason),
    }
}

/// The user's unread total as this node's replica has it now (PUSH-07): by the time a
/// push goes out, later messages may count too, which is what the icon should show.
fn badge(node: &HookNode, app_key: &str, user_id: &str) -> Option<u32> {
    let state = &node.state_machine.state();
    match state::conversations::unread_total(state, app_key, user_id) {
        Ok(total) => Some(u32::try_from(total).unwrap_or(u32::MAX)),
        Err(e) => {
            tracing::debug!(error = %e, "no badge for a push");
            None
        }
    }
}

/// Writes outcomes through Raft, as many per write as have arrived meanwhile. A write
/// that fails leaves its jobs waiting: they are simply sent again (at least once).
pub(super) async fn record_outcomes(
    node: Arc<HookNode>,
    mut outcomes: mpsc::UnboundedReceiver<(Job, Attempt)>,
    settled: Settled,
    recorded: mpsc::UnboundedSender<()>,
) {
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match outcomes.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let mut settled_jobs = Vec::new();
        let mut failures = Vec::new();
        let mut gone_tokens = Vec::new();
        for (job, attempt) in &batch {
            let kind = job.event.kind();
            let (outcome, settlement) = match attempt {
                Attempt::Delivered => ("delivered", Some(state::Settlement::Delivered)),
                Attempt::Dropped => ("dropped", Some(state::Settlement::Dropped)),
                Attempt::Rejected(reason) => {
                    tracing::debug!(id = job.id, kind, %reason, "push rejected by its provider");
                    ("rejected", Some(state::Settlement::Rejected))
                }
                Attempt::TokenGone => {
                    if let HookEvent::Push(push) = &job.event {
                        gone_tokens.push(state::Command::UnregisterPushToken(
                            state::UnregisterPushToken {
                                app_key: job.app_key.clone(),
                                user_id: push.user_id.clone(),
                                device_id: push.device.device_id.clone(),
                                token: Some(push.device.token.clone()),
                            },
                        ));
                    }
                    ("token_gone", Some(state::Settlement::TokenGone))
                }
                Attempt::Failed(error) => {
                    tracing::debug!(id = job.id, kind, %error, "callback failed");
                    failures.push((job.id, error.clone()));
                    ("failed", None)
                }
            };
            if let Some(settlement) = settlement {
                settled_jobs.push((job.id, settlement));
            }
            node.metrics
                .callback_attempts_total
                .with(&CallbackAttempt { kind, outcome })
                .inc();
        }
        let has_failures = !failures.is_empty();
        let outcomes = state::Command::OutboxSettled(state::OutboxSettled {
            jobs: settled_jobs.clone(),
        });
        // Mid-upgrade, a voter may not know OutboxSettled yet: say the same without
        // the outcomes (they go uncounted in the app's usage meanwhile).
        let outcomes = match node.writer.gate().refusal(&outcomes) {
            None => outcomes,
            Some(_) => state::Command::OutboxDelivered(state::OutboxDelivered {
                ids: settled_jobs.iter().map(|(id, _)| *id).collect(),
            }),
        };
        let commands = [
            (!settled_jobs.is_empty()).then_some(outcomes),
            has_failures.then_some(state::Command::OutboxFailed(state::OutboxFailed {
                failures,
            })),
        ]
        .into_iter()
        .flatten()
        .chain(gone_tokens);
        let envelopes = commands
            .map(|command| Envelope {
                area: node.area,
                command,
            })
            .collect();
        match node.writer.write(envelopes).await {
            Ok(results) => {
                // OutboxFailed answers how many became dead letters, per job in order.
                let dead = results.iter().find_map(|r| match r {
                    Ok(state::Output::Dead(ids)) => Some(ids.clone()),
                    _ => None,
                });
                for id in dead.unwrap_or_default() {
                    let kind = batch
                        .iter()
                        .find(|(job, _)| job.id == id)
                        .map_or("unknown", |(job, _)| job.event.kind());
                    node.metrics
                        .callback_dead_letters_total
                        .with(&CallbackKind { kind })
                        .inc();
                }
            }
            Err(e) => tracing::debug!(error = ?e, "callback outcomes not committed"),
        }
        let mut settled = settled.lock().unwrap_or_else(|e| e.into_inner());
        for (job, _) in &batch {
            settled.remove(&job.id);
        }
        drop(settled);
        let _ = recorded.send(());
    }
}
