//! Plans, reads and the API bodies of `meridian_app_settings`, without a server.

use super::*;
use push::REDACTED_KEY;

const APP_KEY: &str = "abcdefgh123456";
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nTEST\n-----END PRIVATE KEY-----\n";

/// A configuration as Terraform would send it, from its attributes in JSON.
fn config(attributes: serde_json::Value) -> AppSettingsState {
    serde_json::from_value(attributes).expect("a configuration")
}

fn with_rules_and_push() -> AppSettingsState {
    config(json!({
        "app_key": APP_KEY,
        "moderation_rule": [{
            "url": "https://app.example.com/moderate",
            "senders": ["u1"],
            "conversation_types": [1, 3],
        }],
        "push_webhook_url": "https://app.example.com/push",
        "push_app": [
            {
                "app_id": "com.example.chat",
                "apns": [{"team_id": "TEAM012345", "key_id": "KEY0123456", "private_key_pem": PEM}],
            },
            {
                "app_id": "com.example.chat.android",
                "fcm": [{
                    "project_id": "example-chat",
                    "client_email": "push@example-chat.iam.gserviceaccount.com",
                    "private_key_pem": PEM,
                }],
            },
        ],
    }))
}

/// The settings object a write sends, starting from the API's answer `current`.
fn written(state: &AppSettingsState, mut current: serde_json::Value) -> serde_json::Value {
    state.write_into(&mut current);
    current
}

#[test]
fn rules_and_push_apps_are_written_as_the_admin_api_has_them_with_its_defaults() {
    let settings = written(&AppSettingsState::planned(with_rules_and_push()), json!({}));
    assert_eq!(
        settings["callbacks"]["moderation"],
        json!([{
            "url": "https://app.example.com/moderate",
            "senders": ["u1"],
            "receivers": [],
            "conversationTypes": [1, 3],
            "objectNames": [],
            "timeoutMs": 3000,
            "defaultAction": "pass",
        }])
    );
    assert_eq!(
        settings["push"],
        json!({
            "apps": [
                {
                    "appId": "com.example.chat",
                    "apns": {
                        "teamId": "TEAM012345",
                        "keyId": "KEY0123456",
                        "privateKeyPem": PEM,
                        "bundleId": "com.example.chat",
                        "endpoint": "https://api.push.apple.com",
                    },
                    "fcm": null,
                },
                {
                    "appId": "com.example.chat.android",
                    "apns": null,
                    "fcm": {
                        "projectId": "example-chat",
                        "clientEmail": "push@example-chat.iam.gserviceaccount.com",
                        "privateKeyPem": PEM,
                        "tokenUri": "https://oauth2.googleapis.com/token",
                        "endpoint": "https://fcm.googleapis.com",
                    },
                },
            ],
            "webhookUrl": "https://app.example.com/push",
        })
    );
}

/// The state a read makes of `settings`, with no vendor channels, no push style, every
/// ultra-group message pushed, the SDK switches off and the default limits.
fn read_back(settings: &serde_json::Value) -> AppSettingsState {
    read_with(settings, &default_extras())
}

/// [`read_back`] with the admin API's answer `limits`.
fn read_with_limits(settings: &serde_json::Value, limits: serde_json::Value) -> AppSettingsState {
    let extras = Extras {
        limits: json!({ "limits": limits }),
        ..default_extras()
    };
    read_with(settings, &extras)
}

/// The state a read makes of `settings` and the answers of the other paths, `extras`.
fn read_with(settings: &serde_json::Value, extras: &Extras) -> AppSettingsState {
    let mut read = AppSettingsState::from_api(APP_KEY, settings).unwrap();
    read_extras(&mut read, extras).unwrap();
    read
}

/// The admin API's answers, besides the settings, for an app that never changed them.
fn default_extras() -> Extras {
    Extras {
        vendors: json!({"pushVendors": {"apps": []}}),
        style: json!({"pushStyle": {}}),
        ultra_group_push: json!({"ultraGroupPush": {"intervalSecs": 0}}),
        push_rate: json!({"pushRate": {"perSecond": 0}}),
        features: json!({"sdkFeatures": {"realtimeConversations": false}}),
        limits: json!({ "limits": default_limits() }),
        file_access: json!({"fileAccess": {"private": false}}),
    }
}

/// The limits the admin API answers for an app whose limits were never set.
fn default_limits() -> serde_json::Value {
    json!({
        "groupMemberCap": 3000,
        "multiRoomChatrooms": false,
        "clientSendsPerSecond": null,
        "apiRates": {
            "defaultPerSecond": null, "getTokenPerSecond": null,
            "privateMessagesPerMinute": null, "groupPublishPerSecond": null,
            "chatroomPublishPerSecond": null, "ultraGroupPublishPerSecond": null,
            "chatroomBroadcastPerSecond": null, "broadcastsPerHour": null,
            "broadcastsPerDay": null,
        },
        "retentionDays": {"private": 180, "group": 180, "ultraGroup": 7, "chatroom": 60},
    })
}

#[test]
fn settings_read_back_with_redacted_keys_equal_the_plan() {
    let planned = AppSettingsState::planned(with_rules_and_push());
    // The admin API answers what was written, private keys redacted.
    let mut answer = written(&planned, json!({}));
    answer["push"]["apps"][0]["apns"]["privateKeyPem"] = json!(REDACTED_KEY);
    answer["push"]["apps"][1]["fcm"]["privateKeyPem"] = json!(REDACTED_KEY);
    let read = read_back(&answer);
    assert_ne!(read, planned, "the answer has no keys");
    assert_eq!(read.with_keys_of(&planned), planned, "no diff after a read");

    // Without a known key (an import) the placeholder stays, so the plan writes the
    // configured key; a key is only taken for the same app identifier.
    let read = read_back(&answer);
    let shown = |state: AppSettingsState| serde_json::to_value(state).unwrap();
    let imported = shown(read.clone().with_keys_of(&AppSettingsState::default()));
    assert_eq!(
        imported["push_app"][0]["apns"][0]["private_key_pem"],
        REDACTED_KEY
    );
    let mut other_app = planned.clone();
    other_app.push_app = config(json!({"push_app": [{
        "app_id": "com.example.other",
        "apns": [{"team_id": "TEAM012345", "key_id": "KEY0123456", "private_key_pem": PEM}],
    }]}))
    .push_app;
    let kept = shown(read.with_keys_of(&other_app));
    assert_eq!(
        kept["push_app"][0]["apns"][0]["private_key_pem"],
        REDACTED_KEY
    );
}

#[test]
fn a_write_keeps_what_the_resource_does_not_know() {
    let settings = written(
        &AppSettingsState::planned(config(json!({"app_key": APP_KEY}))),
        json!({"callbacks": {"futureCallback": "kept"}, "futureSetting": 1}),
    );
    assert_eq!(settings["futureSetting"], 1);
    assert_eq!(settings["callbacks"]["futureCallback"], "kept");
    // Left out of the configuration: no rules and no push credentials.
    assert_eq!(settings["callbacks"]["moderation"], json!([]));
    assert_eq!(settings["push"], json!({"apps": [], "webhookUrl": null}));
}

/// The errors of the resource's validation.
async fn errors(attributes: serde_json::Value) -> Vec<tf_provider::Diagnostic> {
    let mut diags = Diagnostics::default();
    AppSettingsResource::new(Connection::default())
        .validate(&mut diags, config(attributes))
        .await;
    diags.errors
}

/// The attribute paths the resource's validation complains about.
async fn invalid(attributes: serde_json::Value) -> Vec<AttributePath> {
    let errors = errors(attributes).await;
    errors.into_iter().map(|e| e.attribute).collect()
}

fn rule(i: i64, attribute: &'static str) -> AttributePath {
    AttributePath::new("moderation_rule")
        .index(i)
        .attribute(attribute)
}

#[tokio::test]
async fn moderation_rules_are_checked_at_the_admin_api_limits() {
    assert_eq!(
        invalid(json!({"moderation_rule": [
            {"url": "https://a.example.com", "timeout_ms": 100, "default_action": "block",
             "senders": vec!["u"; 100], "conversation_types": [1, 3, 4, 6, 10]},
            {"url": "http://b.example.com", "timeout_ms": 10000},
        ]}))
        .await,
        []
    );
    let twenty_one = vec![json!({"url": "https://a.example.com"}); 21];
    assert_eq!(
        invalid(json!({ "moderation_rule": twenty_one })).await,
        [AttributePath::new("moderation_rule")]
    );
    assert_eq!(
        invalid(json!({"moderation_rule": [
            {"url": "https://a.example.com", "timeout_ms": 99},
            {"url": "ftp://b.example.com", "timeout_ms": 10001, "default_action": "drop",
             "receivers": vec!["g"; 101], "conversation_types": [2]},
        ]}))
        .await,
        [
            rule(0, "timeout_ms"),
            rule(1, "url"),
            rule(1, "receivers"),
            rule(1, "conversation_types"),
            rule(1, "timeout_ms"),
            rule(1, "default_action"),
        ]
    );
}

#[tokio::test]
async fn push_apps_are_checked_at_the_admin_api_limits() {
    let app = |id: &str| json!({"app_id": id});
    let twenty: Vec<_> = (0..20).map(|i| app(&format!("com.example.{i}"))).collect();
    assert_eq!(invalid(json!({ "push_app": twenty })).await, []);
    let twenty_one: Vec<_> = (0..21).map(|i| app(&format!("com.example.{i}"))).collect();
    assert_eq!(
        invalid(json!({ "push_app": twenty_one })).await,
        [AttributePath::new("push_app")]
    );

    let at = |i: i64, block: &'static str, attribute: &'static str| {
        AttributePath::new("push_app")
            .index(i)
            .attribute(block)
            .index(0)
            .attribute(attribute)
    };
    assert_eq!(
        invalid(json!({
            "push_webhook_url": "hooks.example.com",
            "push_app": [
                {"app_id": "com.example.chat", "apns": [{
                    "team_id": "TEAM", "key_id": "KEY0123456", "private_key_pem": REDACTED_KEY,
                }]},
                {"app_id": "com.example.chat", "fcm": [{
                    "project_id": "Example", "client_email": "push", "private_key_pem": PEM,
                    "endpoint": "fcm.googleapis.com",
                }]},
                {"app_id": ""},
            ],
        }))
        .await,
        [
            AttributePath::new("push_webhook_url"),
            at(0, "apns", "team_id"),
            at(0, "apns", "private_key_pem"),
            at(1, "fcm", "project_id"),
            at(1, "fcm", "client_email"),
            at(1, "fcm", "endpoint"),
            AttributePath::new("push_app").index(1).attribute("app_id"),
            AttributePath::new("push_app").index(2).attribute("app_id"),
        ]
    );
}

/// Settings planned from `limits`, a `limits` block's attributes.
fn planned_limits(limits: serde_json::Value) -> AppSettingsState {
    AppSettingsState::planned(config(json!({"app_key": APP_KEY, "limits": [limits]})))
}

#[test]
fn limits_are_written_as_the_admin_api_has_them_and_read_back_as_planned() {
    let planned = planned_limits(json!({
        "group_member_cap": 500,
        "client_sends_per_second": 10,
        "api_rates": [{"default_per_second": 50, "broadcasts_per_day": 5}],
        "retention_days": [{"chatroom": 30}],
    }));
    // Rates left out are left out (the API's defaults); days left out are the defaults.
    assert_eq!(
        limits::to_remote(&planned.limits),
        json!({
            "groupMemberCap": 500,
            "multiRoomChatrooms": false,
            "clientSendsPerSecond": 10,
            "apiRates": {"defaultPerSecond": 50, "broadcastsPerDay": 5},
            "retentionDays": {"private": 180, "group": 180, "ultraGroup": 7, "chatroom": 30},
        })
    );
    // The API answers every field.
    let mut answer = default_limits();
    answer["groupMemberCap"] = json!(500);
    answer["clientSendsPerSecond"] = json!(10);
    answer["apiRates"]["defaultPerSecond"] = json!(50);
    answer["apiRates"]["broadcastsPerDay"] = json!(5);
    answer["retentionDays"]["chatroom"] = json!(30);
    let settings = written(&planned, json!({}));
    let read = read_with_limits(&settings, answer.clone());
    assert_eq!(read.with_keys_of(&planned), planned, "no diff after a read");
    // An import knows nothing: every block differs from the defaults, so it is there.
    let imported = read_with_limits(&settings, answer).with_keys_of(&AppSettingsState::default());
    assert_eq!(imported, planned);
}

#[test]
fn without_a_limits_block_the_defaults_are_written_and_a_change_elsewhere_is_drift() {
    let planned = AppSettingsState::planned(config(json!({"app_key": APP_KEY})));
    assert_eq!(planned.limits, Value::Null);
    assert_eq!(
        limits::to_remote(&planned.limits),
        json!({}),
        "all defaults"
    );
    let settings = written(&planned, json!({}));
    assert_eq!(read_back(&settings).with_keys_of(&planned), planned);
    assert_eq!(
        read_back(&settings).with_keys_of(&AppSettingsState::default()),
        planned,
        "an import of the defaults has no block"
    );

    // Changed through the admin API: a block with the changed limits, its nested blocks
    // only where they differ from the defaults.
    let mut answer = default_limits();
    answer["multiRoomChatrooms"] = json!(true);
    let read = read_with_limits(&settings, answer).with_keys_of(&planned);
    assert_eq!(
        read.limits,
        planned_limits(json!({"multi_room_chatrooms": true})).limits
    );
    let mut answer = default_limits();
    answer["apiRates"]["getTokenPerSecond"] = json!(7);
    answer["retentionDays"]["group"] = json!(90);
    let read = read_with_limits(&settings, answer).with_keys_of(&planned);
    assert_eq!(
        read.limits,
        planned_limits(json!({
            "api_rates": [{"get_token_per_second": 7}],
            "retention_days": [{"group": 90}],
        }))
        .limits
    );
}

#[test]
fn a_limits_block_holding_the_defaults_reads_back_as_configured() {
    for block in [
        json!({}),
        json!({"group_member_cap": 3000, "api_rates": [{}], "retention_days": [{}]}),
        json!({"retention_days": [{"private": 180, "chatroom": 60}]}),
    ] {
        let planned = planned_limits(block.clone());
        let settings = written(&planned, json!({}));
        assert_eq!(
            read_back(&settings).with_keys_of(&planned),
            planned,
            "{block}"
        );
    }
}

#[tokio::test]
async fn limits_are_checked_at_the_admin_api_limits() {
    let limits = |block: serde_json::Value| json!({ "limits": [block] });
    for accepted in [
        json!({
            "group_member_cap": 100_000,
            "client_sends_per_second": 1000,
            "api_rates": [{"default_per_second": 1, "broadcasts_per_day": 4_294_967_295_u64}],
            "retention_days": [{"private": 3650, "group": 1}],
        }),
        json!({"group_member_cap": 1, "client_sends_per_second": 1}),
    ] {
        assert_eq!(invalid(limits(accepted.clone())).await, [], "{accepted}");
    }

    let at = |name: &'static str| AttributePath::new("limits").index(0).attribute(name);
    let rate = |name: &'static str| at("api_rates").index(0).attribute(name);
    let days = |name: &'static str| at("retention_days").index(0).attribute(name);
    let refused = errors(limits(json!({
        "group_member_cap": 100_001,
        "client_sends_per_second": 1001,
        "api_rates": [{"get_token_per_second": 0, "broadcasts_per_hour": 4_294_967_296_u64}],
        "retention_days": [{"ultra_group": 3651, "chatroom": 0}],
    })))
    .await;
    let shown: Vec<_> = refused
        .into_iter()
        // tf-provider adds a backtrace to the detail when RUST_BACKTRACE is set.
        .map(|e| {
            let detail = e.detail.lines().next().unwrap_or_default();
            (e.attribute, format!("{}: {detail}", e.summary))
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                at("group_member_cap"),
                "Invalid group_member_cap: must be 1 to 100000".to_string()
            ),
            (
                at("client_sends_per_second"),
                "Invalid client_sends_per_second: must be 1 to 1000".into()
            ),
            (
                rate("get_token_per_second"),
                "Invalid get_token_per_second: must be at least 1".into()
            ),
            (
                rate("broadcasts_per_hour"),
                "Invalid broadcasts_per_hour: must be 1 to 4294967295".into()
            ),
            (
                days("ultra_group"),
                "Invalid ultra_group: must be 1 to 3650".into()
            ),
            (
                days("chatroom"),
                "Invalid chatroom: must be 1 to 3650".into()
            ),
        ]
    );
    assert_eq!(
        invalid(limits(
            json!({"group_member_cap": 0, "client_sends_per_second": 0})
        ))
        .await,
        [at("group_member_cap"), at("client_sends_per_second")]
    );
}

/// `attribute` takes each of `accepted` and refuses each of `refused` with `message`
/// (and nothing else).
async fn checked_at_its_limits(
    attribute: &'static str,
    accepted: &[i64],
    refused: &[i64],
    message: &str,
) {
    let with = |value: i64| json!({ attribute: value });
    for value in accepted {
        assert_eq!(invalid(with(*value)).await, [], "{attribute} = {value}");
    }
    for value in refused {
        let shown: Vec<_> = errors(with(*value))
            .await
            .into_iter()
            // tf-provider adds a backtrace to the detail when RUST_BACKTRACE is set.
            .map(|e| {
                let detail = e.detail.lines().next().unwrap_or_default();
                (e.attribute, format!("{}: {detail}", e.summary))
            })
            .collect();
        assert_eq!(
            shown,
            [(
                AttributePath::new(attribute),
                format!("Invalid {attribute}: {message}")
            )],
            "{attribute} = {value}"
        );
    }
}

#[tokio::test]
async fn the_ultra_group_push_interval_is_checked_at_the_admin_api_limit() {
    let (accepted, refused) = ([0, 60, 86_400], [86_401, -1]);
    let attribute = "ultra_group_push_interval_secs";
    checked_at_its_limits(attribute, &accepted, &refused, "must be 0 to 86400").await;
}

#[tokio::test]
async fn the_push_rate_is_checked_at_the_admin_api_limit_and_read_back() {
    let (accepted, refused) = ([0, 1, 100_000], [100_001, -1]);
    let attribute = "push_rate_per_second";
    checked_at_its_limits(attribute, &accepted, &refused, "must be 0 to 100000").await;
    let planned = AppSettingsState::planned(config(json!({
        "app_key": APP_KEY,
        "push_rate_per_second": 250,
    })));
    let extras = Extras {
        push_rate: json!({"pushRate": {"perSecond": 250}}),
        ..default_extras()
    };
    let settings = written(&planned, json!({}));
    assert_eq!(
        read_with(&settings, &extras).with_keys_of(&planned),
        planned,
        "no diff after a read"
    );
}

#[test]
fn the_ultra_group_push_interval_is_written_as_the_admin_api_has_it_and_read_back_as_planned() {
    let planned = AppSettingsState::planned(config(json!({
        "app_key": APP_KEY,
        "ultra_group_push_interval_secs": 86_400,
    })));
    assert_eq!(
        ultra_group_push_body(&planned.ultra_group_push_interval_secs),
        json!({"intervalSecs": 86_400})
    );
    let settings = written(&planned, json!({}));
    let extras = Extras {
        ultra_group_push: json!({"ultraGroupPush": {"intervalSecs": 86_400}}),
        ..default_extras()
    };
    assert_eq!(
        read_with(&settings, &extras).with_keys_of(&planned),
        planned,
        "no diff after a read"
    );
    assert_eq!(
        read_with(&settings, &extras).with_keys_of(&AppSettingsState::default()),
        planned,
        "an import"
    );
}

#[test]
fn without_an_ultra_group_push_interval_0_is_written_and_a_change_elsewhere_is_drift() {
    let planned = AppSettingsState::planned(config(json!({"app_key": APP_KEY})));
    assert_eq!(planned.ultra_group_push_interval_secs, Value::Value(0));
    assert_eq!(
        ultra_group_push_body(&planned.ultra_group_push_interval_secs),
        json!({"intervalSecs": 0}),
        "removing the attribute puts the default back"
    );
    let settings = written(&planned, json!({}));
    assert_eq!(read_back(&settings).with_keys_of(&planned), planned);

    let extras = Extras {
        ultra_group_push: json!({"ultraGroupPush": {"intervalSecs": 300}}),
        ..default_extras()
    };
    let read = read_with(&settings, &extras).with_keys_of(&planned);
    assert_eq!(read.ultra_group_push_interval_secs, Value::Value(300));
    assert_ne!(read, planned, "drift");
}
