//! `meridian bench push`: pushes per second from a 3-node loopback area through Huawei
//! Push Kit's fake (the same TLS fake the tests use), with every device offline. Two
//! shapes of one fan-out over the same devices: a notice to everyone (one message, so
//! the pushes share Push Kit requests of up to 1,000 tokens) and one private message to
//! each user (each push its own request, as any per-user text is). The figure is devices
//! pushed per second, from the commit of the last write until the fake has them all.

use std::time::Duration;
use tokio::time::Instant;

use anyhow::Context;
use base64::Engine;
use clap::Args;
use meridian_cluster::client::ClusterError;
use meridian_cluster::state::push::{Notice, NoticeAudience, NoticeOptions};
use meridian_cluster::state::vendor_push::{SetVendorPush, VendorApp, VendorChannel, VendorPush};
use meridian_cluster::state::CommandError;
use meridian_cluster::state::{
    Command, DeviceToken, Envelope, NewMessage, Publish, PushNoticeWithOptions, PushProvider,
    PutUser, RegisterPushToken,
};
use meridian_cluster::ClusterClient;
use meridian_push::fake::FakeHuawei;
use meridian_regions::AreaCode;
use serde_json::json;

#[derive(Args)]
pub struct PushArgs {
    #[arg(long)]
    json: bool,
    /// Offline devices, one per user.
    #[arg(long, default_value_t = 5_000)]
    devices: usize,
}

const PACKAGE: &str = "com.example.bench";
/// Commands per write while setting up and publishing.
const WRITE_BATCH: usize = 500;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

struct Shape {
    name: &'static str,
    seconds: f64,
    pushes_per_sec: f64,
    /// Push Kit requests per device (token requests included).
    requests_per_device: f64,
}

fn envelope(command: Command) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command,
    }
}

async fn write_all(client: &ClusterClient, commands: Vec<Command>) -> anyhow::Result<()> {
    let mut commands = commands.into_iter().peekable();
    while commands.peek().is_some() {
        let batch: Vec<Envelope> = commands.by_ref().take(WRITE_BATCH).map(envelope).collect();
        for result in client.write(batch).await? {
            result.context("a bench write was refused")?;
        }
    }
    Ok(())
}

/// Writes `command` once the area takes its command level: a fresh area's nodes learn
/// each other's levels within a poll or two, and refuse newer commands until then.
async fn write_when_known(client: &ClusterClient, command: Command) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        match client.write_one(envelope(command.clone())).await {
            Err(ClusterError::Refused(CommandError::Upgrading { .. }))
                if Instant::now() < until =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            written => return written.map(drop).context("a bench write was refused"),
        }
    }
}

fn user(n: usize) -> String {
    format!("d{n:06}")
}

/// Users, one Huawei device each, and the app's Huawei channel pointed at `huawei`.
async fn set_up(
    client: &ClusterClient,
    app_key: &str,
    huawei: &FakeHuawei,
    devices: usize,
) -> anyhow::Result<()> {
    let vendors = VendorPush {
        apps: vec![VendorApp {
            app_id: PACKAGE.into(),
            channels: vec![VendorChannel::Huawei(huawei.credentials())],
        }],
    };
    let mut commands = vec![Command::SetVendorPush(SetVendorPush {
        app_key: app_key.into(),
        vendors,
    })];
    for n in 0..devices {
        commands.push(Command::PutUser(PutUser {
            app_key: app_key.into(),
            user_id: user(n),
            name: Some(format!("user {n}")),
            portrait: None,
        }));
        commands.push(Command::RegisterPushToken(RegisterPushToken {
            app_key: app_key.into(),
            user_id: user(n),
            device: DeviceToken {
                device_id: "phone".into(),
                provider: PushProvider::Huawei,
                token: format!("hw-{n}"),
                app_id: PACKAGE.into(),
            },
        }));
    }
    write_all(client, commands).await
}

/// Runs `fan_out`'s writes and waits until the fake has `devices` more pushes.
async fn measure(
    name: &'static str,
    huawei: &FakeHuawei,
    client: &ClusterClient,
    devices: usize,
    fan_out: Vec<Command>,
) -> anyhow::Result<Shape> {
    let (before, requests_before) = (huawei.received().len(), huawei.requests());
    let started = Instant::now();
    match <[Command; 1]>::try_from(fan_out) {
        Ok([one]) => write_when_known(client, one).await?,
        Err(many) => write_all(client, many).await?,
    }
    huawei
        .wait_for(before + devices, DRAIN_TIMEOUT)
        .await
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let requests = huawei.requests() - requests_before;
    Ok(Shape {
        name,
        seconds,
        pushes_per_sec: devices as f64 / seconds,
        requests_per_device: requests as f64 / devices as f64,
    })
}

pub async fn run(args: PushArgs) -> anyhow::Result<()> {
    let devices = args.devices.max(1);
    let huawei = FakeHuawei::start().await;
    let dir = crate::host::scratch_dir()?.join("push");
    std::fs::create_dir_all(&dir)?;
    // The nodes trust the fake's self-signed certificate, as an operator adds a CA.
    let ca = dir.join("fake-huawei-ca.pem");
    let der = base64::engine::general_purpose::STANDARD.encode(huawei.ca_cert().as_ref());
    std::fs::write(
        &ca,
        format!("-----BEGIN CERTIFICATE-----\n{der}\n-----END CERTIFICATE-----\n"),
    )?;
    let (nodes, client, creds) = crate::area::start_bench_area(&dir, vec![ca]).await?;
    let app_key = creds.app_key.clone();
    set_up(&client, &app_key, &huawei, devices).await?;

    let notice = Command::PushNoticeWithOptions(PushNoticeWithOptions {
        app_key: app_key.clone(),
        notice: Notice {
            audience: NoticeAudience {
                everyone: true,
                ..NoticeAudience::default()
            },
            title: "News".into(),
            body: "The same text for everyone".into(),
            data: None,
        },
        options: Box::new(NoticeOptions::default()),
    });
    let to_everyone = measure(
        "notice to everyone",
        &huawei,
        &client,
        devices,
        vec![notice],
    )
    .await?;
    let messages: Vec<Command> = (0..devices)
        .map(|n| {
            let content = json!({ "content": format!("hello {n}") }).to_string();
            Command::Publish(Publish {
                app_key: app_key.clone(),
                messages: vec![NewMessage::private_text("sender", &user(n), &content)],
            })
        })
        .collect();
    let one_each = measure("a message to each", &huawei, &client, devices, messages).await?;
    let shapes = [to_everyone, one_each];

    for node in nodes {
        node.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        let points: Vec<_> = shapes
            .iter()
            .map(|s| {
                json!({
                    "shape": s.name,
                    "seconds": s.seconds,
                    "pushes_per_sec": s.pushes_per_sec,
                    "requests_per_device": s.requests_per_device,
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "benchmark": "push", "machine": crate::measure::machine(), "devices": devices, "meridian": points })
        );
    } else {
        println!("{devices} offline Huawei devices");
        println!("shape                seconds  pushes/s  requests/device");
        for s in &shapes {
            println!(
                "{:<20} {:>7.2} {:>9.0} {:>16.3}",
                s.name, s.seconds, s.pushes_per_sec, s.requests_per_device
            );
        }
    }
    Ok(())
}
