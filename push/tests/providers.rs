//! Each provider against its local fake, through real sockets (TLS + HTTP/2 for APNs).

use std::time::Duration;

use http::Version;
use meridian_push::fake::{FakeApns, FakeFcm, FakeWebhook};
use meridian_push::{Notification, Outcome, PushClient, PushOptions};

const WAIT: Duration = Duration::from_secs(10);
const BUNDLE: &str = "com.example.chat";
const APNS_TOKEN: &str = "8f2a6c0d9e1b4f3a8f2a6c0d9e1b4f3a8f2a6c0d9e1b4f3a8f2a6c0d9e1b4f3a";

fn notification(token: &str, id: &str) -> Notification {
    Notification {
        device_token: token.to_string(),
        title: "Alice".to_string(),
        body: "hello there".to_string(),
        data: Some("{\"conv\":\"c1\"}".to_string()),
        id: id.to_string(),
        user_id: "bob".to_string(),
        badge: None,
        sound: None,
        options: PushOptions::default(),
    }
}

// ---------------------------------------------------------------------------- APNs

// covers: RTC-10
#[tokio::test]
async fn a_voip_push_goes_to_the_apps_voip_topic() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let creds = apns.credentials(BUNDLE);
    let outcome = client
        .send_apns_voip(&creds, &notification(APNS_TOKEN, "call-1"))
        .await;
    assert_eq!(outcome, Outcome::Delivered);
    let push = &apns.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(push.headers["apns-push-type"], "voip");
    assert_eq!(push.headers["apns-topic"], format!("{BUNDLE}.voip"));
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
}

// covers: PUSH-02
#[tokio::test]
async fn apns_delivers_over_http2_with_a_verified_jwt() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let creds = apns.credentials(BUNDLE);
    assert_eq!(creds.validate(), Ok(()));

    let outcome = client
        .send_apns(&creds, &notification(APNS_TOKEN, "msg-1"))
        .await;

    assert_eq!(outcome, Outcome::Delivered);
    let pushes = apns.wait_for(1, WAIT).await.unwrap();
    let push = &pushes[0];
    assert_eq!(push.version, Version::HTTP_2);
    assert_eq!(push.uri, format!("/3/device/{APNS_TOKEN}"));
    assert_eq!(push.device_token, APNS_TOKEN);
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-1");
    assert_eq!(push.headers["apns-topic"], BUNDLE);
    assert_eq!(push.headers["apns-push-type"], "alert");
    assert_eq!(push.headers["apns-priority"], "10");
    assert_eq!(push.json["aps"]["sound"], "default");
    assert_eq!(
        apns.distinct_jwts(),
        1,
        "the fake verified one provider JWT"
    );
}

// covers: PUSH-02
#[tokio::test]
async fn apns_fake_refuses_a_jwt_signed_with_another_key() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let good = apns.credentials(BUNDLE);
    let forged = meridian_push::ApnsCredentials {
        private_key_pem: apns.credentials(BUNDLE).private_key_pem,
        ..good.clone()
    };

    let outcome = client
        .send_apns(&forged, &notification(APNS_TOKEN, "msg-1"))
        .await;

    assert_eq!(
        outcome,
        Outcome::Rejected {
            reason: "APNs 403: InvalidProviderToken".into()
        }
    );
    assert!(apns.received().is_empty());
    assert_eq!(apns.distinct_jwts(), 0);
}

// covers: PUSH-02
#[tokio::test]
async fn apns_gone_and_bad_tokens_are_token_gone() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let creds = apns.credentials(BUNDLE);
    apns.mark_gone(APNS_TOKEN);

    let gone = client
        .send_apns(&creds, &notification(APNS_TOKEN, "a"))
        .await;
    // Not hex: the fake answers 400 BadDeviceToken, as APNs does.
    let bad = client
        .send_apns(&creds, &notification("notahextoken", "b"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(bad, Outcome::TokenGone);
    assert_eq!(apns.requests(), 2, "both were asked of the server");
    assert!(apns.received().is_empty());
}

// covers: PUSH-02
#[tokio::test]
async fn apns_503_is_retry_and_the_next_send_delivers() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let creds = apns.credentials(BUNDLE);
    apns.fail_next(1);

    let first = client
        .send_apns(&creds, &notification(APNS_TOKEN, "m"))
        .await;
    let second = client
        .send_apns(&creds, &notification(APNS_TOKEN, "m"))
        .await;

    assert!(
        matches!(&first, Outcome::Retry { reason, .. } if reason.contains("ServiceUnavailable")),
        "{first:?}"
    );
    assert_eq!(second, Outcome::Delivered);
    assert_eq!(apns.wait_for(1, WAIT).await.unwrap().len(), 1);
}

// covers: PUSH-02
#[tokio::test]
async fn apns_provider_jwt_is_reused_across_sends_and_clones() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let creds = apns.credentials(BUNDLE);

    for i in 0..3 {
        let n = notification(APNS_TOKEN, &format!("m{i}"));
        assert_eq!(client.send_apns(&creds, &n).await, Outcome::Delivered);
    }
    let clone = client.clone();
    let n = notification(APNS_TOKEN, "m3");
    assert_eq!(clone.send_apns(&creds, &n).await, Outcome::Delivered);
    assert_eq!(apns.wait_for(4, WAIT).await.unwrap().len(), 4);
    assert_eq!(apns.distinct_jwts(), 1);

    // A separate client has its own cache, hence its own token: the count is real.
    let other = PushClient::new(vec![apns.ca_cert()]);
    assert_eq!(other.send_apns(&creds, &n).await, Outcome::Delivered);
    assert_eq!(apns.distinct_jwts(), 2);
}

// covers: PUSH-02
#[tokio::test]
async fn apns_expired_provider_token_is_refreshed_once() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let creds = apns.credentials(BUNDLE);
    let n = notification(APNS_TOKEN, "m");
    assert_eq!(client.send_apns(&creds, &n).await, Outcome::Delivered);
    apns.expire_provider_tokens();

    assert_eq!(client.send_apns(&creds, &n).await, Outcome::Delivered);

    assert_eq!(apns.distinct_jwts(), 2, "one new token after the 403");
    assert_eq!(apns.requests(), 3, "the refused send was tried again once");
    assert_eq!(apns.wait_for(2, WAIT).await.unwrap().len(), 2);
}

// covers: PUSH-02
#[tokio::test]
async fn apns_oversize_payload_is_rejected_without_sending() {
    let apns = FakeApns::start().await;
    let client = PushClient::new(vec![apns.ca_cert()]);
    let creds = apns.credentials(BUNDLE);
    let mut n = notification(APNS_TOKEN, "big");
    n.body = "x".repeat(4096);

    let outcome = client.send_apns(&creds, &n).await;

    assert!(
        matches!(&outcome, Outcome::Rejected { reason } if reason.contains("4096")),
        "{outcome:?}"
    );
    assert_eq!(apns.requests(), 0);
}

// covers: PUSH-02
#[tokio::test]
async fn apns_is_never_sent_over_http1() {
    // The webhook fake speaks only HTTP/1.1 (and would accept the POST).
    let hook = FakeWebhook::start().await;
    let client = PushClient::new(Vec::new());
    let apns = FakeApns::start().await;
    let creds = meridian_push::ApnsCredentials {
        endpoint: hook.endpoint(),
        ..apns.credentials(BUNDLE)
    };

    let outcome = client
        .send_apns(&creds, &notification(APNS_TOKEN, "m"))
        .await;

    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    assert_eq!(hook.requests(), 0, "nothing reached the HTTP/1.1 server");
}

/// A notification as an app server's call shapes it: `count`, `contentAvailable` and its
/// `pushConfigs`.
fn shaped(token: &str) -> Notification {
    let mut options = PushOptions::default();
    options
        .read_push_configs(&serde_json::json!([
            {"APNs": {"thread-id": "team-7", "apns-collapse-id": "score",
                      "interruption-level": "time-sensitive", "richMediaUri": "https://cdn/p.jpg"}},
            {"FCM": {"channelId": "chat", "collapse_key": "score", "imageUrl": "https://cdn/p.jpg"}},
        ]))
        .unwrap();
    options.badge = Some(42);
    options.content_available = true;
    Notification {
        badge: options.badge,
        options,
        ..notification(token, "msg-9")
    }
}

// covers: API-07, PUSH-05
#[tokio::test]
async fn apns_and_fcm_carry_what_the_app_server_asked() {
    let apns = FakeApns::start().await;
    let fcm = FakeFcm::start().await;
    let client = PushClient::new(vec![apns.ca_cert(), fcm.ca_cert()]);

    let outcome = client
        .send_apns(&apns.credentials(BUNDLE), &shaped(APNS_TOKEN))
        .await;
    assert_eq!(outcome, Outcome::Delivered);
    let push = &apns.wait_for(1, WAIT).await.unwrap()[0];
    let aps = &push.json["aps"];
    assert_eq!(aps["badge"], 42);
    assert_eq!(aps["content-available"], 1);
    assert_eq!(aps["thread-id"], "team-7");
    assert_eq!(aps["interruption-level"], "time-sensitive");
    assert_eq!(aps["mutable-content"], 1);
    assert_eq!(push.json["richMediaUri"], "https://cdn/p.jpg");
    assert_eq!(push.headers["apns-collapse-id"], "score");

    let outcome = client
        .send_fcm(&fcm.credentials("chat-app"), &shaped("fcm-token"))
        .await;
    assert_eq!(outcome, Outcome::Delivered);
    let push = &fcm.wait_for(1, WAIT).await.unwrap()[0];
    let message = &push.json["message"];
    assert_eq!(message["android"]["collapse_key"], "score");
    assert_eq!(message["android"]["notification"]["channel_id"], "chat");
    assert_eq!(message["android"]["notification"]["notification_count"], 42);
    assert_eq!(message["notification"]["image"], "https://cdn/p.jpg");
    assert_eq!(message["apns"]["payload"]["aps"]["content-available"], 1);

    // Without options, a notification collapses only with its own retries.
    let plain = notification(APNS_TOKEN, "msg-10");
    client.send_apns(&apns.credentials(BUNDLE), &plain).await;
    let pushes = apns.wait_for(2, WAIT).await.unwrap();
    assert_eq!(pushes[1].headers["apns-collapse-id"], "msg-10");
    assert!(pushes[1].json["aps"].get("content-available").is_none());
}

// ---------------------------------------------------------------------------- FCM

// covers: PUSH-02
#[tokio::test]
async fn fcm_delivers_with_one_access_token_for_several_sends() {
    let fcm = FakeFcm::start().await;
    let client = PushClient::new(vec![fcm.ca_cert()]);
    let creds = fcm.credentials("chat-app");
    assert_eq!(creds.validate(), Ok(()));

    for i in 0..3 {
        let n = notification(&format!("fcm-token-{i}"), &format!("msg-{i}"));
        assert_eq!(client.send_fcm(&creds, &n).await, Outcome::Delivered);
    }

    assert_eq!(fcm.tokens_issued(), 1);
    assert_eq!(fcm.requests(), 4, "one token request, three sends");
    let pushes = fcm.wait_for(3, WAIT).await.unwrap();
    let push = &pushes[2];
    assert_eq!(push.uri, "/v1/projects/chat-app/messages:send");
    assert_eq!(push.device_token, "fcm-token-2");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-2");
    assert_eq!(push.json["message"]["android"]["priority"], "high");
}

// covers: PUSH-02
#[tokio::test]
async fn fcm_unregistered_token_is_token_gone() {
    let fcm = FakeFcm::start().await;
    let client = PushClient::new(vec![fcm.ca_cert()]);
    let creds = fcm.credentials("chat-app");
    fcm.mark_gone("old-token");

    let gone = client
        .send_fcm(&creds, &notification("old-token", "m"))
        .await;
    let live = client
        .send_fcm(&creds, &notification("new-token", "m"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(live, Outcome::Delivered);
    let pushes = fcm.wait_for(1, WAIT).await.unwrap();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].device_token, "new-token");
}

// covers: PUSH-02
#[tokio::test]
async fn fcm_401_leads_to_one_token_refresh() {
    let fcm = FakeFcm::start().await;
    let client = PushClient::new(vec![fcm.ca_cert()]);
    let creds = fcm.credentials("chat-app");
    let n = notification("device", "m");
    assert_eq!(client.send_fcm(&creds, &n).await, Outcome::Delivered);
    fcm.revoke_access_tokens();

    assert_eq!(client.send_fcm(&creds, &n).await, Outcome::Delivered);

    assert_eq!(fcm.tokens_issued(), 2);
    // token, send, refused send, token, send
    assert_eq!(fcm.requests(), 5);
    assert_eq!(fcm.wait_for(2, WAIT).await.unwrap().len(), 2);
}

// covers: PUSH-02
#[tokio::test]
async fn fcm_bad_service_account_is_rejected_by_the_token_endpoint() {
    let fcm = FakeFcm::start().await;
    let client = PushClient::new(vec![fcm.ca_cert()]);
    let unknown = meridian_push::FcmCredentials {
        client_email: "stranger@elsewhere.iam.gserviceaccount.com".into(),
        ..fcm.credentials("chat-app")
    };

    let outcome = client
        .send_fcm(&unknown, &notification("device", "m"))
        .await;

    assert!(
        matches!(&outcome, Outcome::Rejected { reason } if reason.contains("invalid_grant")),
        "{outcome:?}"
    );
    assert_eq!(fcm.tokens_issued(), 0);
    assert!(fcm.received().is_empty());
}

// covers: PUSH-02
#[tokio::test]
async fn fcm_503_is_retry_with_retry_after() {
    let fcm = FakeFcm::start().await;
    let client = PushClient::new(vec![fcm.ca_cert()]);
    let creds = fcm.credentials("chat-app");
    fcm.fail_next(1);

    let outcome = client.send_fcm(&creds, &notification("device", "m")).await;

    assert!(
        matches!(&outcome, Outcome::Retry { after: Some(after), .. } if *after == Duration::from_secs(5)),
        "{outcome:?}"
    );
    assert!(fcm.received().is_empty());
}

// ---------------------------------------------------------------------------- webhook

// covers: PUSH-02
#[tokio::test]
async fn webhook_delivers_json_to_the_signed_url() {
    let hook = FakeWebhook::start().await;
    let client = PushClient::new(Vec::new());
    let url = format!(
        "{}/push?signature=abc123&timestamp=1700000000",
        hook.endpoint()
    );

    let outcome = client
        .send_webhook(&url, &notification("dev-1", "msg-9"))
        .await;

    assert_eq!(outcome, Outcome::Delivered);
    let pushes = hook.wait_for(1, WAIT).await.unwrap();
    let push = &pushes[0];
    assert_eq!(push.uri, "/push?signature=abc123&timestamp=1700000000");
    assert_eq!(push.id, "msg-9");
    assert_eq!(push.user_id.as_deref(), Some("bob"));
    assert_eq!(push.device_token, "dev-1");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
}

// covers: PUSH-02
#[tokio::test]
async fn webhook_410_is_token_gone_and_503_or_no_server_is_retry() {
    let hook = FakeWebhook::start().await;
    let client = PushClient::new(Vec::new());
    let url = format!("{}/push", hook.endpoint());
    hook.mark_gone("dev-gone");

    let gone = client
        .send_webhook(&url, &notification("dev-gone", "m"))
        .await;
    hook.fail_next(1);
    let unavailable = client.send_webhook(&url, &notification("dev-1", "m")).await;

    assert_eq!(gone, Outcome::TokenGone);
    assert!(
        matches!(unavailable, Outcome::Retry { .. }),
        "{unavailable:?}"
    );
    assert!(hook.received().is_empty());

    drop(hook);
    let refused = client.send_webhook(&url, &notification("dev-1", "m")).await;
    assert!(matches!(refused, Outcome::Retry { .. }), "{refused:?}");
}
