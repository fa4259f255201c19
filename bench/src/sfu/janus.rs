//! Janus (Debian's `janus`, its VideoRoom plugin) as the peer of `bench sfu --janus`: the
//! same publisher and subscribers as against Meridian's media server, signalled through
//! Janus's HTTP API. Janus is started here with a configuration of its own: the HTTP
//! transport on loopback, the VideoRoom plugin alone, one room for one VP8 + Opus
//! publisher. Janus gathers no loopback candidates, so its media goes through the
//! machine's own address (the kernel delivers it locally, as it does loopback).

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use str0m::media::Direction;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::peer::Peer;
use super::ANSWER_WAIT;
use crate::host::{find_binary, free_port, scratch_dir};

/// Where Debian installs Janus's plugins and transports.
const LIBRARIES: &str = "/usr/lib/x86_64-linux-gnu/janus";
const ROOM_ID: u64 = 1234;
/// How long Janus may take to answer HTTP after it starts.
const START_WAIT: Duration = Duration::from_secs(20);
/// Janus answers a long poll with a keep-alive after 30 s.
const POLL_WAIT: Duration = Duration::from_secs(40);

pub(super) struct Janus {
    child: Child,
    /// Where Janus gathers its ICE candidate, and the clients bind.
    address: IpAddr,
    /// Numbers each request's transaction.
    transactions: AtomicU64,
    /// `http://127.0.0.1:{port}/janus`
    url: String,
    dir: PathBuf,
}

/// One session with the VideoRoom plugin attached.
struct Handle {
    session: String,
    handle: String,
}

impl Janus {
    pub(super) async fn start() -> anyhow::Result<Self> {
        let janus = find_binary("janus").context("Janus is not installed (Debian's `janus`)")?;
        let dir = scratch_dir()?.join("janus");
        let _ = std::fs::remove_dir_all(&dir);
        for folder in ["plugins", "transports", "none"] {
            std::fs::create_dir_all(dir.join(folder))?;
        }
        // Only the plugin and the transport used: Janus loads every library it finds.
        std::os::unix::fs::symlink(
            format!("{LIBRARIES}/plugins/libjanus_videoroom.so"),
            dir.join("plugins/libjanus_videoroom.so"),
        )?;
        std::os::unix::fs::symlink(
            format!("{LIBRARIES}/transports/libjanus_http.so"),
            dir.join("transports/libjanus_http.so"),
        )?;
        let port = free_port()?;
        let d = dir.display();
        std::fs::write(
            dir.join("janus.jcfg"),
            format!(
                "general: {{\n  configs_folder = \"{d}\"\n  plugins_folder = \"{d}/plugins\"\n  \
                 transports_folder = \"{d}/transports\"\n  events_folder = \"{d}/none\"\n  \
                 loggers_folder = \"{d}/none\"\n  log_to_stdout = false\n  \
                 log_to_file = \"{d}/janus.log\"\n  debug_level = 4\n  session_timeout = 0\n}}\n\
                 nat: {{\n  ignore_mdns = true\n}}\n\
                 events: {{\n  broadcast = false\n}}\n"
            ),
        )?;
        std::fs::write(
            dir.join("janus.transport.http.jcfg"),
            format!(
                "general: {{\n  json = \"plain\"\n  base_path = \"/janus\"\n  http = true\n  \
                 port = {port}\n  ip = \"127.0.0.1\"\n  https = false\n}}\n\
                 admin: {{\n  admin_http = false\n  admin_https = false\n}}\n"
            ),
        )?;
        std::fs::write(
            dir.join("janus.plugin.videoroom.jcfg"),
            format!(
                "general: {{\n}}\nroom-{ROOM_ID}: {{\n  description = \"bench\"\n  publishers = 1\n  \
                 bitrate = 0\n  fir_freq = 0\n  videocodec = \"vp8\"\n  audiocodec = \"opus\"\n}}\n"
            ),
        )?;
        let child = Command::new(janus)
            .arg("--config")
            .arg(dir.join("janus.jcfg"))
            .arg("--configs-folder")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting janus")?;
        let janus = Self {
            child,
            address: machine_address()?.into(),
            transactions: AtomicU64::new(0),
            url: format!("http://127.0.0.1:{port}/janus"),
            dir,
        };
        let started = Instant::now();
        while get(&format!("{}/info", janus.url), ANSWER_WAIT)
            .await
            .is_err()
        {
            if started.elapsed() > START_WAIT {
                bail!(
                    "janus did not answer within {START_WAIT:?} (its log: {})",
                    janus.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(janus)
    }

    pub(super) fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("janus has exited")
    }

    fn log(&self) -> String {
        self.dir.join("janus.log").display().to_string()
    }

    /// A publisher in the room: its client, and its feed id for subscribers.
    pub(super) async fn publisher(&self) -> anyhow::Result<(Peer, u64)> {
        let handle = self.attach().await?;
        let join = json!({"request": "join", "ptype": "publisher", "room": ROOM_ID});
        let joined = self.request(&handle, join, None).await?;
        let feed = joined["plugindata"]["data"]["id"]
            .as_u64()
            .with_context(|| format!("janus joined with no id: {joined}"))?;
        let publish = json!({"request": "publish", "audio": true, "video": true});
        let peer = Peer::offer(self.address, Direction::SendOnly, async |offer: String| {
            let jsep = json!({"type": "offer", "sdp": offer});
            let answer = self.request(&handle, publish, Some(jsep)).await?;
            sdp(&answer)
        })
        .await?;
        Ok((peer, feed))
    }

    /// A subscriber to `feed`: Janus offers, the client answers.
    pub(super) async fn subscriber(&self, feed: u64) -> anyhow::Result<Peer> {
        let handle = self.attach().await?;
        let join = json!({
            "request": "join", "ptype": "subscriber", "room": ROOM_ID,
            "streams": [{"feed": feed}],
        });
        // The publisher's feed exists once its transport is up.
        let asked = Instant::now();
        let attached = loop {
            match self.request(&handle, join.clone(), None).await {
                Err(e) if no_such_feed(&e) && asked.elapsed() < ANSWER_WAIT => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                answer => break answer?,
            }
        };
        let (peer, answer) = Peer::answer(self.address, &sdp(&attached)?).await?;
        let jsep = json!({"type": "answer", "sdp": answer});
        self.request(&handle, json!({"request": "start"}), Some(jsep))
            .await?;
        Ok(peer)
    }

    /// A new session with the VideoRoom plugin attached.
    async fn attach(&self) -> anyhow::Result<Handle> {
        let created = self.post(&self.url, json!({"janus": "create"})).await?;
        let session = format!("{}/{}", self.url, id(&created)?);
        let attach = json!({"janus": "attach", "plugin": "janus.plugin.videoroom"});
        let attached = self.post(&session, attach).await?;
        let handle = format!("{session}/{}", id(&attached)?);
        Ok(Handle { session, handle })
    }

    /// Sends a VideoRoom request (with a JSEP offer or answer) and answers the plugin's
    /// event that replies to it.
    async fn request(
        &self,
        handle: &Handle,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut message = json!({"janus": "message", "body": body});
        if let Some(jsep) = jsep {
            message["jsep"] = jsep;
        }
        let sent = self.post(&handle.handle, message).await?;
        if sent["janus"] == "success" {
            return Ok(sent);
        }
        loop {
            let event = get(&format!("{}?maxev=1", handle.session), POLL_WAIT).await?;
            if event["janus"] != "event" {
                continue;
            }
            let data = &event["plugindata"]["data"];
            if let Some(code) = data["error_code"].as_u64() {
                let reason = data["error"].to_string();
                return Err(Refused { code, reason }).context(format!("janus refused {body}"));
            }
            return Ok(event);
        }
    }

    /// POSTs a Janus API request; refuses its error answers.
    async fn post(&self, url: &str, mut body: Value) -> anyhow::Result<Value> {
        body["transaction"] = json!(self
            .transactions
            .fetch_add(1, Ordering::Relaxed)
            .to_string());
        let text = body.to_string();
        let answer = meridian_rpc::http::request_with_body(
            "POST",
            url,
            None,
            Some(("application/json", text.as_bytes())),
            ANSWER_WAIT,
        )
        .await?;
        let answer: Value = serde_json::from_slice(&answer.body)
            .with_context(|| format!("janus answered {}: {}", answer.status, answer.text()))?;
        if answer["janus"] == "error" {
            bail!("janus refused {text}: {}", answer["error"]);
        }
        Ok(answer)
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An error the VideoRoom plugin answered.
#[derive(Debug)]
struct Refused {
    code: u64,
    reason: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

impl std::error::Error for Refused {}

/// JANUS_VIDEOROOM_ERROR_NO_SUCH_FEED
fn no_such_feed(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Refused>().is_some_and(|r| r.code == 428)
}

/// The first IPv4 address of an interface that is up and not loopback, as Janus picks
/// its own ("Using … as local IP").
fn machine_address() -> anyhow::Result<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, which is read only until freeifaddrs frees it.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(io::Error::last_os_error().into());
    }
    let wanted = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
    let mut found = None;
    let mut entry = list;
    while let Some(e) = unsafe { entry.as_ref() } {
        let usable = e.ifa_flags & wanted == wanted && e.ifa_flags & libc::IFF_LOOPBACK as u32 == 0;
        // SAFETY: a non-null ifa_addr points at a sockaddr, a sockaddr_in when AF_INET.
        if let Some(addr) = unsafe { e.ifa_addr.as_ref() } {
            if usable && addr.sa_family == libc::AF_INET as libc::sa_family_t {
                let ip = unsafe { &*e.ifa_addr.cast::<libc::sockaddr_in>() }
                    .sin_addr
                    .s_addr;
                found = Some(Ipv4Addr::from(u32::from_be(ip)));
                break;
            }
        }
        entry = e.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs and is not used after this.
    unsafe { libc::freeifaddrs(list) };
    found.context("no IPv4 address but loopback's, where Janus gathers no candidate")
}

async fn get(url: &str, wait: Duration) -> anyhow::Result<Value> {
    let answer = meridian_rpc::http::request("GET", url, None, None, wait).await?;
    Ok(serde_json::from_slice(&answer.body)?)
}

fn id(answer: &Value) -> anyhow::Result<u64> {
    answer["data"]["id"]
        .as_u64()
        .with_context(|| format!("janus answered no id: {answer}"))
}

fn sdp(event: &Value) -> anyhow::Result<String> {
    event["jsep"]["sdp"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("janus answered no SDP: {event}"))
}
