//! PUSH-05: the Chinese Android vendor channels against their local fakes, through real
//! sockets (TLS).

use std::time::Duration;

use meridian_push::fake::{FakeHonor, FakeHuawei, FakeMeizu, FakeOppo, FakeVivo, FakeXiaomi};
use meridian_push::{
    HonorCredentials, HuaweiCredentials, MeizuCredentials, Notification, OppoCredentials, Outcome,
    PushClient, PushOptions, VivoCredentials, XiaomiCredentials,
};

const WAIT: Duration = Duration::from_secs(10);

/// Sends one notification (`broadcast-1`) to `devices` tokens `{prefix}{i}` at once, each
/// through `send`, and checks every answer: the `gone` ones `TokenGone`, the rest
/// delivered.
async fn fan_out<F, S>(prefix: &str, devices: usize, gone: &[usize], send: S)
where
    S: Fn(Notification) -> F,
    F: std::future::Future<Output = Outcome> + Send + 'static,
{
    let sends: Vec<_> = (0..devices)
        .map(|i| tokio::spawn(send(notification(&format!("{prefix}{i}"), "broadcast-1"))))
        .collect();
    for (i, answer) in sends.into_iter().enumerate() {
        let expected = match gone.contains(&i) {
            true => Outcome::TokenGone,
            false => Outcome::Delivered,
        };
        assert_eq!(answer.await.unwrap(), expected, "{prefix}{i}");
    }
}

/// How many devices `pushes` reached, each counted once.
fn devices_reached(pushes: &[meridian_push::fake::ReceivedPush]) -> usize {
    let mut tokens: Vec<&str> = pushes.iter().map(|p| p.device_token.as_str()).collect();
    tokens.sort();
    tokens.dedup();
    tokens.len()
}
const PACKAGE: &str = "com.example.chat";

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

fn is_retry_after(outcome: &Outcome, secs: u64) -> bool {
    matches!(outcome, Outcome::Retry { after: Some(after), .. } if *after == Duration::from_secs(secs))
}

/// The cluster sends from spawned tasks: every vendor's send must be a Send future.
// covers: PUSH-05
#[test]
fn vendor_sends_are_send_futures() {
    fn spawnable<T: Send>(_: T) {}
    let url = || "https://127.0.0.1:1".to_string();
    let secret = || "secret".to_string();
    let client = PushClient::new(Vec::new());
    let n = notification("token", "m");
    let huawei = HuaweiCredentials {
        app_id: "1".into(),
        app_secret: secret(),
        token_uri: url(),
        endpoint: url(),
    };
    let xiaomi = XiaomiCredentials {
        app_secret: secret(),
        package_name: PACKAGE.into(),
        endpoint: url(),
    };
    let oppo = OppoCredentials {
        app_key: "k".into(),
        master_secret: secret(),
        endpoint: url(),
    };
    let vivo = VivoCredentials {
        app_id: "1".into(),
        app_key: "k".into(),
        app_secret: secret(),
        endpoint: url(),
    };
    let meizu = MeizuCredentials {
        app_id: "1".into(),
        app_secret: secret(),
        endpoint: url(),
    };
    let honor = HonorCredentials {
        app_id: "1".into(),
        client_id: "c".into(),
        client_secret: secret(),
        token_uri: url(),
        endpoint: url(),
    };
    spawnable(client.send_huawei(&huawei, &n));
    spawnable(client.send_xiaomi(&xiaomi, &n));
    spawnable(client.send_oppo(&oppo, &n));
    spawnable(client.send_vivo(&vivo, &n));
    spawnable(client.send_meizu(&meizu, &n));
    spawnable(client.send_honor(&honor, &n));
}

// ---------------------------------------------------------------------------- Huawei

// covers: PUSH-05
#[tokio::test]
async fn huawei_delivers_with_one_access_token_for_several_sends() {
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let creds = huawei.credentials();
    assert_eq!(creds.validate(), Ok(()));

    for i in 0..3 {
        let n = notification(&format!("hw-token-{i}"), &format!("msg-{i}"));
        assert_eq!(client.send_huawei(&creds, &n).await, Outcome::Delivered);
    }

    assert_eq!(huawei.tokens_issued(), 1);
    assert_eq!(huawei.requests(), 4, "one token request, three sends");
    let pushes = huawei.wait_for(3, WAIT).await.unwrap();
    let push = &pushes[2];
    assert_eq!(push.uri, format!("/v1/{}/messages:send", creds.app_id));
    assert_eq!(push.device_token, "hw-token-2");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-2");
    assert_eq!(push.json["validate_only"], false);
    assert_eq!(
        push.json["message"]["android"]["notification"]["click_action"]["type"],
        3
    );
}

// covers: PUSH-05
#[tokio::test]
async fn huawei_concurrent_sends_fetch_one_access_token() {
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let creds = huawei.credentials();

    let sends = (0..8).map(|i| {
        let (client, creds) = (client.clone(), creds.clone());
        tokio::spawn(async move {
            let n = notification(&format!("hw-{i}"), &format!("m{i}"));
            client.send_huawei(&creds, &n).await
        })
    });
    for send in sends.collect::<Vec<_>>() {
        assert_eq!(send.await.unwrap(), Outcome::Delivered);
    }

    assert_eq!(huawei.tokens_issued(), 1);
    assert_eq!(huawei.wait_for(8, WAIT).await.unwrap().len(), 8);
}

/// A fan-out of one message: sends arriving while a request is in flight share the next
/// request (Push Kit takes up to 1,000 tokens), and a partial success's invalid tokens
/// are gone while the others are delivered.
// covers: PUSH-05
#[tokio::test]
async fn huawei_sends_of_one_message_share_requests_and_a_partial_success_splits() {
    const DEVICES: usize = 200;
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let creds = huawei.credentials();
    huawei.mark_gone("hw-7");
    huawei.mark_gone("hw-150");

    fan_out("hw-", DEVICES, &[7, 150], |n| {
        let (client, creds) = (client.clone(), creds.clone());
        async move { client.send_huawei(&creds, &n).await }
    })
    .await;
    let pushes = huawei.wait_for(DEVICES - 2, WAIT).await.unwrap();
    assert_eq!(
        devices_reached(&pushes),
        DEVICES - 2,
        "each live device once"
    );
    // One token request; far fewer sends than devices.
    let sends = huawei.requests() - 1;
    assert!(
        sends < DEVICES / 4,
        "{sends} requests for {DEVICES} devices"
    );
    let widest = pushes
        .iter()
        .map(|p| p.json["message"]["token"].as_array().map_or(0, Vec::len))
        .max()
        .unwrap_or(0);
    assert!(widest > 1, "no request carried several tokens");
}

// covers: PUSH-05
#[tokio::test]
async fn huawei_invalid_token_is_token_gone() {
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let creds = huawei.credentials();
    huawei.mark_gone("old-token");

    let gone = client
        .send_huawei(&creds, &notification("old-token", "m"))
        .await;
    let live = client
        .send_huawei(&creds, &notification("new-token", "m"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(live, Outcome::Delivered);
    let pushes = huawei.wait_for(1, WAIT).await.unwrap();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].device_token, "new-token");
}

// covers: PUSH-05
#[tokio::test]
async fn huawei_flow_control_is_retry_with_retry_after() {
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let creds = huawei.credentials();
    huawei.rate_limit("busy-token");

    let outcome = client
        .send_huawei(&creds, &notification("busy-token", "m"))
        .await;

    assert!(is_retry_after(&outcome, 5), "{outcome:?}");
    assert!(huawei.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn huawei_wrong_secret_is_rejected_with_the_oauth_error() {
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let wrong = HuaweiCredentials {
        app_secret: "not-the-secret".into(),
        ..huawei.credentials()
    };

    let outcome = client
        .send_huawei(&wrong, &notification("device", "m"))
        .await;

    assert_eq!(
        outcome,
        Outcome::Rejected {
            reason: "Huawei token endpoint 400: 1101: client secret invalid".into()
        }
    );
    assert_eq!(huawei.tokens_issued(), 0);
    assert!(huawei.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn huawei_expired_access_token_is_refreshed_once() {
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let creds = huawei.credentials();
    let n = notification("device", "m");
    assert_eq!(client.send_huawei(&creds, &n).await, Outcome::Delivered);
    huawei.expire_access_tokens();

    assert_eq!(client.send_huawei(&creds, &n).await, Outcome::Delivered);

    assert_eq!(huawei.tokens_issued(), 2);
    // token, send, refused send (80200003), token, send
    assert_eq!(huawei.requests(), 5);
    assert_eq!(huawei.wait_for(2, WAIT).await.unwrap().len(), 2);
}

// covers: PUSH-05
#[tokio::test]
async fn huawei_oversize_message_is_rejected_without_sending() {
    let huawei = FakeHuawei::start().await;
    let client = PushClient::new(vec![huawei.ca_cert()]);
    let creds = huawei.credentials();
    let mut n = notification("device", "big");
    n.body = "x".repeat(meridian_push::HUAWEI_MAX_MESSAGE_BYTES);

    let outcome = client.send_huawei(&creds, &n).await;

    assert!(
        matches!(&outcome, Outcome::Rejected { reason } if reason.contains("4096")),
        "{outcome:?}"
    );
    assert_eq!(huawei.requests(), 0);
}

// ---------------------------------------------------------------------------- Xiaomi
// MiPush authorises each request with the AppSecret itself: there is no access token
// to expire or refresh.

// covers: PUSH-05
#[tokio::test]
async fn xiaomi_delivers_a_notification_to_the_regid() {
    let xiaomi = FakeXiaomi::start().await;
    let client = PushClient::new(vec![xiaomi.ca_cert()]);
    let creds = xiaomi.credentials(PACKAGE);
    assert_eq!(creds.validate(), Ok(()));

    let outcome = client
        .send_xiaomi(&creds, &notification("mi-regid-1", "msg-1"))
        .await;

    assert_eq!(outcome, Outcome::Delivered);
    let pushes = xiaomi.wait_for(1, WAIT).await.unwrap();
    let push = &pushes[0];
    assert_eq!(push.uri, "/v3/message/regid");
    assert_eq!(
        push.headers["authorization"],
        format!("key={}", creds.app_secret)
    );
    assert_eq!(push.device_token, "mi-regid-1");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-1");
    assert_eq!(push.json["restricted_package_name"], PACKAGE);
    assert_eq!(push.json["pass_through"], "0");
}

/// A fan-out of one notification shares requests of up to 1,000 regids; the regids a
/// success lists as bad are gone, the others delivered.
// covers: PUSH-05
#[tokio::test]
async fn xiaomi_sends_of_one_notification_share_requests_and_bad_regids_are_gone() {
    const DEVICES: usize = 200;
    let xiaomi = FakeXiaomi::start().await;
    let client = PushClient::new(vec![xiaomi.ca_cert()]);
    let creds = xiaomi.credentials(PACKAGE);
    xiaomi.mark_gone("mi-3");
    xiaomi.mark_gone("mi-120");

    fan_out("mi-", DEVICES, &[3, 120], |n| {
        let (client, creds) = (client.clone(), creds.clone());
        async move { client.send_xiaomi(&creds, &n).await }
    })
    .await;
    let pushes = xiaomi.wait_for(DEVICES - 2, WAIT).await.unwrap();
    assert_eq!(
        devices_reached(&pushes),
        DEVICES - 2,
        "each live device once"
    );
    let requests = xiaomi.requests();
    assert!(
        requests < DEVICES / 4,
        "{requests} requests for {DEVICES} devices"
    );
    let widest = pushes
        .iter()
        .map(|p| {
            p.json["registration_id"]
                .as_str()
                .map_or(0, |r| r.split(',').count())
        })
        .max()
        .unwrap_or(0);
    assert!(widest > 1, "no request carried several regids");
}

// covers: PUSH-05
#[tokio::test]
async fn xiaomi_invalid_regid_is_token_gone() {
    let xiaomi = FakeXiaomi::start().await;
    let client = PushClient::new(vec![xiaomi.ca_cert()]);
    let creds = xiaomi.credentials(PACKAGE);
    xiaomi.mark_gone("old-regid");

    let gone = client
        .send_xiaomi(&creds, &notification("old-regid", "m"))
        .await;
    let live = client
        .send_xiaomi(&creds, &notification("new-regid", "m"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(live, Outcome::Delivered);
    assert_eq!(xiaomi.wait_for(1, WAIT).await.unwrap().len(), 1);
    assert_eq!(xiaomi.received()[0].device_token, "new-regid");
}

// covers: PUSH-05
#[tokio::test]
async fn xiaomi_too_frequent_is_retry() {
    let xiaomi = FakeXiaomi::start().await;
    let client = PushClient::new(vec![xiaomi.ca_cert()]);
    let creds = xiaomi.credentials(PACKAGE);
    xiaomi.rate_limit("busy-regid");

    let outcome = client
        .send_xiaomi(&creds, &notification("busy-regid", "m"))
        .await;

    assert!(
        matches!(&outcome, Outcome::Retry { reason, .. } if reason.starts_with("Xiaomi 10027")),
        "{outcome:?}"
    );
    assert!(xiaomi.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn xiaomi_wrong_secret_or_package_is_rejected_with_the_vendor_error() {
    let xiaomi = FakeXiaomi::start().await;
    let client = PushClient::new(vec![xiaomi.ca_cert()]);
    let creds = xiaomi.credentials(PACKAGE);
    let wrong_secret = XiaomiCredentials {
        app_secret: "WRONGSECRET".into(),
        ..creds.clone()
    };
    let wrong_package = XiaomiCredentials {
        package_name: "com.example.other".into(),
        ..creds
    };

    let n = notification("regid", "m");
    let secret = client.send_xiaomi(&wrong_secret, &n).await;
    let package = client.send_xiaomi(&wrong_package, &n).await;

    assert_eq!(
        secret,
        Outcome::Rejected {
            reason: "Xiaomi 21301: Authentication failed".into()
        }
    );
    assert_eq!(
        package,
        Outcome::Rejected {
            reason: "Xiaomi 22022: Invalid package name".into()
        }
    );
    assert_eq!(xiaomi.requests(), 2);
    assert!(xiaomi.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn xiaomi_long_text_is_shortened_and_a_large_payload_never_sent() {
    let xiaomi = FakeXiaomi::start().await;
    let client = PushClient::new(vec![xiaomi.ca_cert()]);
    let creds = xiaomi.credentials(PACKAGE);
    let mut long = notification("regid", "long");
    long.title = "t".repeat(80);
    long.body = "b".repeat(300);
    let mut large = notification("regid", "large");
    large.data = Some("x".repeat(meridian_push::XIAOMI_MAX_PAYLOAD_BYTES));

    // The fake refuses a title of 50 characters or more, as MiPush does.
    assert_eq!(client.send_xiaomi(&creds, &long).await, Outcome::Delivered);
    let refused = client.send_xiaomi(&creds, &large).await;

    assert!(
        matches!(&refused, Outcome::Rejected { reason } if reason.contains("4096")),
        "{refused:?}"
    );
    assert_eq!(xiaomi.requests(), 1);
    let push = &xiaomi.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(push.title.chars().count(), 49);
    assert!(push.title.ends_with('…') && push.body.ends_with('…'));
}

// ---------------------------------------------------------------------------- OPPO

// covers: PUSH-05
#[tokio::test]
async fn oppo_delivers_with_one_signed_auth_token_for_several_sends() {
    let oppo = FakeOppo::start().await;
    let client = PushClient::new(vec![oppo.ca_cert()]);
    let creds = oppo.credentials();
    assert_eq!(creds.validate(), Ok(()));

    for i in 0..3 {
        let n = notification(&format!("CN_oppo-{i}"), &format!("msg-{i}"));
        assert_eq!(client.send_oppo(&creds, &n).await, Outcome::Delivered);
    }

    assert_eq!(oppo.tokens_issued(), 1);
    assert_eq!(oppo.requests(), 4, "one auth, three sends");
    let pushes = oppo.wait_for(3, WAIT).await.unwrap();
    let push = &pushes[2];
    assert_eq!(push.uri, "/server/v1/message/notification/unicast_batch");
    assert_eq!(push.device_token, "CN_oppo-2");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-2");
    assert_eq!(push.json["notification"]["click_action_type"], 0);
}

/// A fan-out of one notification shares batch requests of up to 1,000 messages; a
/// registration id OPPO does not know fails alone.
// covers: PUSH-05
#[tokio::test]
async fn oppo_sends_of_one_notification_share_batch_requests_and_an_unknown_regid_fails_alone() {
    const DEVICES: usize = 200;
    let oppo = FakeOppo::start().await;
    let client = PushClient::new(vec![oppo.ca_cert()]);
    let creds = oppo.credentials();
    oppo.mark_gone("op-42");

    fan_out("op-", DEVICES, &[42], |n| {
        let (client, creds) = (client.clone(), creds.clone());
        async move { client.send_oppo(&creds, &n).await }
    })
    .await;
    let pushes = oppo.wait_for(DEVICES - 1, WAIT).await.unwrap();
    assert_eq!(
        devices_reached(&pushes),
        DEVICES - 1,
        "each live device once"
    );
    let sends = oppo.requests() - oppo.tokens_issued();
    assert!(
        sends < DEVICES / 4,
        "{sends} requests for {DEVICES} devices"
    );
}

// covers: PUSH-05
#[tokio::test]
async fn oppo_invalid_registration_id_is_token_gone() {
    let oppo = FakeOppo::start().await;
    let client = PushClient::new(vec![oppo.ca_cert()]);
    let creds = oppo.credentials();
    oppo.mark_gone("old-regid");

    let gone = client
        .send_oppo(&creds, &notification("old-regid", "m"))
        .await;
    let live = client
        .send_oppo(&creds, &notification("new-regid", "m"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(live, Outcome::Delivered);
    assert_eq!(oppo.wait_for(1, WAIT).await.unwrap().len(), 1);
    assert_eq!(oppo.received()[0].device_token, "new-regid");
}

// covers: PUSH-05
#[tokio::test]
async fn oppo_call_limited_is_retry() {
    let oppo = FakeOppo::start().await;
    let client = PushClient::new(vec![oppo.ca_cert()]);
    let creds = oppo.credentials();
    oppo.rate_limit("busy-regid");

    let outcome = client
        .send_oppo(&creds, &notification("busy-regid", "m"))
        .await;

    assert!(
        matches!(&outcome, Outcome::Retry { reason, .. } if reason == "OPPO 13: App Call Limited"),
        "{outcome:?}"
    );
    assert!(oppo.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn oppo_wrong_master_secret_is_rejected_with_the_vendor_error() {
    let oppo = FakeOppo::start().await;
    let client = PushClient::new(vec![oppo.ca_cert()]);
    let wrong = OppoCredentials {
        master_secret: "not-the-secret".into(),
        ..oppo.credentials()
    };

    let outcome = client.send_oppo(&wrong, &notification("regid", "m")).await;

    assert_eq!(
        outcome,
        Outcome::Rejected {
            reason: "OPPO 16: Invalid Signature".into()
        }
    );
    assert_eq!(oppo.tokens_issued(), 0);
    assert!(oppo.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn oppo_expired_auth_token_is_refreshed_once() {
    let oppo = FakeOppo::start().await;
    let client = PushClient::new(vec![oppo.ca_cert()]);
    let creds = oppo.credentials();
    let n = notification("regid", "m");
    assert_eq!(client.send_oppo(&creds, &n).await, Outcome::Delivered);
    oppo.expire_auth_tokens();

    assert_eq!(client.send_oppo(&creds, &n).await, Outcome::Delivered);

    assert_eq!(oppo.tokens_issued(), 2);
    // auth, send, refused send (11), auth, send
    assert_eq!(oppo.requests(), 5);
    assert_eq!(oppo.wait_for(2, WAIT).await.unwrap().len(), 2);
}

// covers: PUSH-05
#[tokio::test]
async fn oppo_long_text_is_shortened_and_large_parameters_never_sent() {
    let oppo = FakeOppo::start().await;
    let client = PushClient::new(vec![oppo.ca_cert()]);
    let creds = oppo.credentials();
    let mut long = notification("regid", "long");
    long.title = "标".repeat(80);
    long.body = "b".repeat(300);
    let mut large = notification("regid", "large");
    large.data = Some("x".repeat(meridian_push::OPPO_MAX_PARAMETERS_CHARS));

    // The fake refuses a title over 50 characters, as OPPO does.
    assert_eq!(client.send_oppo(&creds, &long).await, Outcome::Delivered);
    let refused = client.send_oppo(&creds, &large).await;

    assert!(
        matches!(&refused, Outcome::Rejected { reason } if reason.contains("4096")),
        "{refused:?}"
    );
    let push = &oppo.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(push.title.chars().count(), 50);
    assert_eq!(push.body.chars().count(), 200);
    assert_eq!(oppo.requests(), 2, "one auth, one send");
}

// ---------------------------------------------------------------------------- vivo

// covers: PUSH-05
#[tokio::test]
async fn vivo_delivers_with_one_signed_auth_token_for_several_sends() {
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let creds = vivo.credentials();
    assert_eq!(creds.validate(), Ok(()));

    for i in 0..3 {
        let n = notification(&format!("vivo-reg-{i}"), &format!("msg-{i}"));
        assert_eq!(client.send_vivo(&creds, &n).await, Outcome::Delivered);
    }

    assert_eq!(vivo.tokens_issued(), 1);
    assert_eq!(vivo.requests(), 4, "one auth, three sends");
    let pushes = vivo.wait_for(3, WAIT).await.unwrap();
    let push = &pushes[2];
    assert_eq!(push.uri, "/message/send");
    assert_eq!(push.device_token, "vivo-reg-2");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-2");
    assert_eq!(push.json["skipType"], 1);
}

/// A fan-out of one notification goes out as list pushes of up to 1,000 regIds, each
/// list's payload saved first; the regIds a list push cannot reach are gone.
// covers: PUSH-05
#[tokio::test]
async fn vivo_sends_of_one_notification_share_list_pushes_and_unknown_regids_are_gone() {
    const DEVICES: usize = 200;
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let creds = vivo.credentials();
    vivo.mark_gone("vivo-3");
    vivo.mark_gone("vivo-120");

    fan_out("vivo-", DEVICES, &[3, 120], |n| {
        let (client, creds) = (client.clone(), creds.clone());
        async move { client.send_vivo(&creds, &n).await }
    })
    .await;
    let pushes = vivo.wait_for(DEVICES - 2, WAIT).await.unwrap();
    assert_eq!(
        devices_reached(&pushes),
        DEVICES - 2,
        "each live device once"
    );
    assert!(
        pushes
            .iter()
            .all(|p| p.id == "broadcast-1" && p.title == "Alice"),
        "the saved payload is what each device shows"
    );
    let listed = pushes
        .iter()
        .filter(|p| p.uri == "/message/pushToList")
        .count();
    assert!(listed > 1, "no list push carried several regIds");
    let requests = vivo.requests();
    assert!(
        requests < DEVICES / 4,
        "{requests} requests for {DEVICES} devices"
    );
}

// covers: PUSH-05
#[tokio::test]
async fn vivo_retried_notification_keeps_its_request_id_and_shows_once() {
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let creds = vivo.credentials();
    let n = notification("vivo-reg", "msg-1");

    assert_eq!(client.send_vivo(&creds, &n).await, Outcome::Delivered);
    assert_eq!(client.send_vivo(&creds, &n).await, Outcome::Delivered);
    let other_device = notification("vivo-reg-2", "msg-1");
    assert_eq!(
        client.send_vivo(&creds, &other_device).await,
        Outcome::Delivered
    );

    assert_eq!(vivo.requests(), 4, "one auth, three sends");
    let pushes = vivo.wait_for(2, WAIT).await.unwrap();
    assert_eq!(pushes.len(), 2, "the repeat was dropped by its requestId");
}

// covers: PUSH-05
#[tokio::test]
async fn vivo_invalid_reg_id_is_token_gone() {
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let creds = vivo.credentials();
    vivo.mark_gone("old-reg");

    let gone = client
        .send_vivo(&creds, &notification("old-reg", "m"))
        .await;
    let live = client
        .send_vivo(&creds, &notification("new-reg", "m"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(live, Outcome::Delivered);
    assert_eq!(vivo.wait_for(1, WAIT).await.unwrap().len(), 1);
    assert_eq!(vivo.received()[0].device_token, "new-reg");
}

// covers: PUSH-05
#[tokio::test]
async fn vivo_volume_exceeded_is_retry() {
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let creds = vivo.credentials();
    vivo.rate_limit("busy-reg");

    let outcome = client
        .send_vivo(&creds, &notification("busy-reg", "m"))
        .await;

    assert!(
        matches!(&outcome, Outcome::Retry { reason, .. } if reason.starts_with("vivo 10070")),
        "{outcome:?}"
    );
    assert!(vivo.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn vivo_wrong_app_secret_is_rejected_with_the_vendor_error() {
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let wrong = VivoCredentials {
        app_secret: "not-the-secret".into(),
        ..vivo.credentials()
    };

    let outcome = client.send_vivo(&wrong, &notification("reg", "m")).await;

    assert!(
        matches!(&outcome, Outcome::Rejected { reason } if reason.contains("sign不合法")),
        "{outcome:?}"
    );
    assert_eq!(vivo.tokens_issued(), 0);
    assert!(vivo.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn vivo_expired_auth_token_is_refreshed_once() {
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let creds = vivo.credentials();
    assert_eq!(
        client.send_vivo(&creds, &notification("reg", "m1")).await,
        Outcome::Delivered
    );
    vivo.expire_auth_tokens();

    let second = client.send_vivo(&creds, &notification("reg", "m2")).await;

    assert_eq!(second, Outcome::Delivered);
    assert_eq!(vivo.tokens_issued(), 2);
    // auth, send, refused send (10000), auth, send
    assert_eq!(vivo.requests(), 5);
    assert_eq!(vivo.wait_for(2, WAIT).await.unwrap().len(), 2);
}

// covers: PUSH-05
#[tokio::test]
async fn vivo_counts_chinese_characters_twice_and_never_sends_a_large_map() {
    let vivo = FakeVivo::start().await;
    let client = PushClient::new(vec![vivo.ca_cert()]);
    let creds = vivo.credentials();
    let mut long = notification("reg", "long");
    long.title = "标".repeat(30);
    long.body = "b".repeat(300);
    let mut large = notification("reg", "large");
    large.data = Some("x".repeat(meridian_push::VIVO_MAX_CUSTOM_CHARS));

    // The fake refuses a title over 40 units, as vivo does.
    assert_eq!(client.send_vivo(&creds, &long).await, Outcome::Delivered);
    let refused = client.send_vivo(&creds, &large).await;

    assert!(
        matches!(&refused, Outcome::Rejected { reason } if reason.contains("1024")),
        "{refused:?}"
    );
    let push = &vivo.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(
        push.title.chars().count(),
        20,
        "19 characters and an ellipsis"
    );
    assert_eq!(
        push.body.chars().count(),
        99,
        "98 characters and an ellipsis"
    );
    assert_eq!(vivo.requests(), 2, "one auth, one send");
}

// ---------------------------------------------------------------------------- Meizu
// Meizu signs every request with the AppSecret: there is no access token to refresh.

// covers: PUSH-05
#[tokio::test]
async fn meizu_delivers_a_signed_notification_to_the_push_id() {
    let meizu = FakeMeizu::start().await;
    let client = PushClient::new(vec![meizu.ca_cert()]);
    let creds = meizu.credentials();
    assert_eq!(creds.validate(), Ok(()));

    let outcome = client
        .send_meizu(&creds, &notification("mz-push-1", "msg-1"))
        .await;

    assert_eq!(outcome, Outcome::Delivered);
    let pushes = meizu.wait_for(1, WAIT).await.unwrap();
    let push = &pushes[0];
    assert_eq!(push.uri, "/garcia/api/server/push/varnished/pushByPushId");
    assert_eq!(push.device_token, "mz-push-1");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-1");
    assert_eq!(push.json["clickTypeInfo"]["clickType"], 0);
}

// covers: PUSH-05
#[tokio::test]
async fn meizu_invalid_push_id_is_token_gone() {
    let meizu = FakeMeizu::start().await;
    let client = PushClient::new(vec![meizu.ca_cert()]);
    let creds = meizu.credentials();
    meizu.mark_gone("old-push-id");

    let gone = client
        .send_meizu(&creds, &notification("old-push-id", "m"))
        .await;
    let live = client
        .send_meizu(&creds, &notification("new-push-id", "m"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(live, Outcome::Delivered);
    assert_eq!(meizu.wait_for(1, WAIT).await.unwrap().len(), 1);
    assert_eq!(meizu.received()[0].device_token, "new-push-id");
}

// covers: PUSH-05
#[tokio::test]
async fn meizu_over_rate_is_retry() {
    let meizu = FakeMeizu::start().await;
    let client = PushClient::new(vec![meizu.ca_cert()]);
    let creds = meizu.credentials();
    meizu.rate_limit("busy-push-id");

    let outcome = client
        .send_meizu(&creds, &notification("busy-push-id", "m"))
        .await;

    assert!(
        matches!(&outcome, Outcome::Retry { reason, .. } if reason.starts_with("Meizu 518")),
        "{outcome:?}"
    );
    assert!(meizu.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn meizu_wrong_app_secret_is_rejected_with_the_vendor_error() {
    let meizu = FakeMeizu::start().await;
    let client = PushClient::new(vec![meizu.ca_cert()]);
    let wrong = MeizuCredentials {
        app_secret: "not-the-secret".into(),
        ..meizu.credentials()
    };

    let outcome = client
        .send_meizu(&wrong, &notification("push-id", "m"))
        .await;

    assert_eq!(
        outcome,
        Outcome::Rejected {
            reason: "Meizu 1006: 签名认证失败".into()
        }
    );
    assert!(meizu.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn meizu_long_text_is_shortened_and_large_parameters_never_sent() {
    let meizu = FakeMeizu::start().await;
    let client = PushClient::new(vec![meizu.ca_cert()]);
    let creds = meizu.credentials();
    let mut long = notification("push-id", "long");
    long.title = "t".repeat(40);
    long.body = "b".repeat(300);
    let mut large = notification("push-id", "large");
    large.data = Some("x".repeat(meridian_push::MEIZU_MAX_PARAMETERS_BYTES));

    // The fake refuses a title over 32 characters, as Meizu does.
    assert_eq!(client.send_meizu(&creds, &long).await, Outcome::Delivered);
    let refused = client.send_meizu(&creds, &large).await;

    assert!(
        matches!(&refused, Outcome::Rejected { reason } if reason.contains("1000")),
        "{refused:?}"
    );
    let push = &meizu.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(push.title.chars().count(), 32);
    assert_eq!(push.body.chars().count(), 100);
    assert_eq!(meizu.requests(), 1);
}

// ---------------------------------------------------------------------------- Honor

// covers: PUSH-05
#[tokio::test]
async fn honor_delivers_with_one_access_token_for_several_sends() {
    let honor = FakeHonor::start().await;
    let client = PushClient::new(vec![honor.ca_cert()]);
    let creds = honor.credentials();
    assert_eq!(creds.validate(), Ok(()));

    for i in 0..3 {
        let n = notification(&format!("honor-token-{i}"), &format!("msg-{i}"));
        assert_eq!(client.send_honor(&creds, &n).await, Outcome::Delivered);
    }

    assert_eq!(honor.tokens_issued(), 1);
    assert_eq!(honor.requests(), 4, "one token request, three sends");
    let pushes = honor.wait_for(3, WAIT).await.unwrap();
    let push = &pushes[2];
    assert_eq!(push.uri, format!("/api/v1/{}/sendMessage", creds.app_id));
    assert_eq!(push.device_token, "honor-token-2");
    assert_eq!(
        (push.title.as_str(), push.body.as_str()),
        ("Alice", "hello there")
    );
    assert_eq!(push.data.as_deref(), Some("{\"conv\":\"c1\"}"));
    assert_eq!(push.id, "msg-2");
    assert!(push.headers.contains_key("timestamp"));
}

// covers: PUSH-05
#[tokio::test]
async fn honor_expired_device_token_is_token_gone() {
    let honor = FakeHonor::start().await;
    let client = PushClient::new(vec![honor.ca_cert()]);
    let creds = honor.credentials();
    honor.mark_gone("old-token");

    let gone = client
        .send_honor(&creds, &notification("old-token", "m"))
        .await;
    let live = client
        .send_honor(&creds, &notification("new-token", "m"))
        .await;

    assert_eq!(gone, Outcome::TokenGone);
    assert_eq!(live, Outcome::Delivered);
    assert_eq!(honor.wait_for(1, WAIT).await.unwrap().len(), 1);
    assert_eq!(honor.received()[0].device_token, "new-token");
}

// covers: PUSH-05
#[tokio::test]
async fn honor_busy_is_retry_with_retry_after() {
    let honor = FakeHonor::start().await;
    let client = PushClient::new(vec![honor.ca_cert()]);
    let creds = honor.credentials();
    honor.rate_limit("busy-token");

    let outcome = client
        .send_honor(&creds, &notification("busy-token", "m"))
        .await;

    assert!(is_retry_after(&outcome, 5), "{outcome:?}");
    assert!(honor.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn honor_wrong_client_secret_is_rejected_with_the_oauth_error() {
    let honor = FakeHonor::start().await;
    let client = PushClient::new(vec![honor.ca_cert()]);
    let wrong = HonorCredentials {
        client_secret: "not-the-secret".into(),
        ..honor.credentials()
    };

    let outcome = client.send_honor(&wrong, &notification("t", "m")).await;

    assert_eq!(
        outcome,
        Outcome::Rejected {
            reason: "Honor token endpoint 401: unauthorized_client: Invalid client secret".into()
        }
    );
    assert_eq!(honor.tokens_issued(), 0);
    assert!(honor.received().is_empty());
}

// covers: PUSH-05
#[tokio::test]
async fn honor_expired_access_token_is_refreshed_once() {
    let honor = FakeHonor::start().await;
    let client = PushClient::new(vec![honor.ca_cert()]);
    let creds = honor.credentials();
    let n = notification("device", "m");
    assert_eq!(client.send_honor(&creds, &n).await, Outcome::Delivered);
    honor.expire_access_tokens();

    assert_eq!(client.send_honor(&creds, &n).await, Outcome::Delivered);

    assert_eq!(honor.tokens_issued(), 2);
    // token, send, refused send (80200003), token, send
    assert_eq!(honor.requests(), 5);
    assert_eq!(honor.wait_for(2, WAIT).await.unwrap().len(), 2);
}

// covers: PUSH-05
#[tokio::test]
async fn honor_oversize_message_is_rejected_without_sending() {
    let honor = FakeHonor::start().await;
    let client = PushClient::new(vec![honor.ca_cert()]);
    let creds = honor.credentials();
    let mut n = notification("device", "big");
    n.body = "x".repeat(meridian_push::HONOR_MAX_MESSAGE_BYTES);

    let outcome = client.send_honor(&creds, &n).await;

    assert!(
        matches!(&outcome, Outcome::Rejected { reason } if reason.contains("4096")),
        "{outcome:?}"
    );
    assert_eq!(honor.requests(), 0);
}

/// Each vendor's options where its API reads them (PUSH-05): the shape the published
/// server SDKs send as `pushExt.pushConfigs`.
// covers: API-07, PUSH-05
#[tokio::test]
async fn each_vendor_carries_the_app_servers_channel_options() {
    let mut options = PushOptions::default();
    options
        .read_push_configs(&serde_json::json!([
            {"HW": {"channelId": "hw-123", "importance": "LOW", "category": "IM", "image": "https://cdn/h.png"}},
            {"HONOR": {"importance": "NORMAL", "image": "https://cdn/o.png"}},
            {"MI": {"channelId": "mi-123", "large_icon_uri": "https://cdn/m.png"}},
            {"OPPO": {"channelId": "oppo-123"}},
            {"VIVO": {"classification": "0", "category": "MARKETING"}},
        ]))
        .unwrap();
    let n = |token: &str| Notification {
        options: options.clone(),
        ..notification(token, "msg-1")
    };
    let (huawei, honor, xiaomi, oppo, vivo) = (
        FakeHuawei::start().await,
        FakeHonor::start().await,
        FakeXiaomi::start().await,
        FakeOppo::start().await,
        FakeVivo::start().await,
    );
    let client = PushClient::new(vec![
        huawei.ca_cert(),
        honor.ca_cert(),
        xiaomi.ca_cert(),
        oppo.ca_cert(),
        vivo.ca_cert(),
    ]);
    let sent = [
        client.send_huawei(&huawei.credentials(), &n("hw")).await,
        client.send_honor(&honor.credentials(), &n("ho")).await,
        client
            .send_xiaomi(&xiaomi.credentials(PACKAGE), &n("mi"))
            .await,
        client.send_oppo(&oppo.credentials(), &n("op")).await,
        client.send_vivo(&vivo.credentials(), &n("vi")).await,
    ];
    assert!(sent.iter().all(|o| *o == Outcome::Delivered), "{sent:?}");

    let push = &huawei.wait_for(1, WAIT).await.unwrap()[0];
    let android = &push.json["message"]["android"];
    assert_eq!(android["category"], "IM");
    assert_eq!(android["notification"]["channel_id"], "hw-123");
    assert_eq!(android["notification"]["importance"], "LOW");
    assert_eq!(android["notification"]["image"], "https://cdn/h.png");

    let push = &honor.wait_for(1, WAIT).await.unwrap()[0];
    let notification = &push.json["android"]["notification"];
    assert_eq!(notification["importance"], "NORMAL");
    assert_eq!(notification["image"], "https://cdn/o.png");

    let push = &xiaomi.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(push.json["extra.channel_id"], "mi-123");
    assert_eq!(
        push.json["extra.notification_large_icon_uri"],
        "https://cdn/m.png"
    );

    let push = &oppo.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(push.json["notification"]["channel_id"], "oppo-123");

    let push = &vivo.wait_for(1, WAIT).await.unwrap()[0];
    assert_eq!(push.json["classification"], 0, "an operational message");
    assert_eq!(push.json["category"], "MARKETING");
}
