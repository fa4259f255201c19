//! The baseline of `meridian bench ws`: the XMPP server ejabberd (Debian's package) on
//! loopback, with its offline storage on. It gets the same load: 50 online sender →
//! receiver pairs of one-to-one chat messages at the same total rate, each message
//! carrying its send instant. The XMPP client here is just enough of RFC 6120: stream,
//! in-band registration (XEP-0077), SASL PLAIN, resource binding, presence, messages.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use anyhow::{bail, Context};
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::ANSWER_WAIT;
use crate::host::free_port;

const DOMAIN: &str = "localhost";
const PASSWORD: &str = "bench-password";

/// An ejabberd started for one run, in its own directory, killed (with its Erlang VM)
/// when dropped.
pub struct Ejabberd {
    child: Child,
    port: u16,
    /// The Erlang node name, unique to this run: su starts the VM in a session of its
    /// own, so it is found by this name on its command line.
    node: String,
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in processes_naming(&self.node) {
            // SAFETY: kill(2) on a process started for this run; no memory is touched.
            let _ = unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Processes whose command line contains `needle`.
fn processes_naming(needle: &str) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

fn config(port: u16) -> String {
    format!(
        r#"hosts:
  - {DOMAIN}
loglevel: warning
auth_method: internal
registration_timeout: infinity
listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: all
    starttls_required: false
shaper_rules:
  c2s_shaper: none
  max_user_sessions: 10
  max_user_offline_messages: 1000000
access_rules:
  register:
    allow: all
modules:
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_register:
    access: register
    ip_access: all
  mod_roster: {{}}
"#
    )
}

impl Ejabberd {
    /// Starts `ejabberdctl foreground` with a configuration of its own under `dir`.
    pub async fn start(ejabberdctl: &Path, dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        std::fs::create_dir_all(dir.join("spool"))?;
        std::fs::create_dir_all(dir.join("logs"))?;
        std::fs::write(dir.join("ejabberd.yml"), config(port))?;
        // Without a ctl config of its own, ejabberdctl reads Debian's, which names
        // /etc/ejabberd/ejabberd.yml whatever --config says.
        std::fs::write(
            dir.join("ejabberdctl.cfg"),
            "POLL=true\nERL_PROCESSES=250000\n",
        )?;
        // Run as root, ejabberdctl switches to the ejabberd user: give it the directory.
        if unsafe { libc::geteuid() } == 0 {
            let status = Command::new("chown")
                .args(["-R", "ejabberd"])
                .arg(dir)
                .status()?;
            if !status.success() {
                bail!("chown -R ejabberd {} failed", dir.display());
            }
        }
        let node = format!("meridianbench{}@localhost", std::process::id());
        let child = Command::new(ejabberdctl)
            .arg("--config")
            .arg(dir.join("ejabberd.yml"))
            .arg("--ctl-config")
            .arg(dir.join("ejabberdctl.cfg"))
            .arg("--spool")
            .arg(dir.join("spool"))
            .arg("--logs")
            .arg(dir.join("logs"))
            .args(["--node", &node, "foreground"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", ejabberdctl.display()))?;
        let server = Self { child, port, node };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "ejabberd did not listen within 60 s (logs in {})",
                    dir.join("logs").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// A new account `user`, logged in and available.
    pub async fn online_user(&self, user: &str) -> anyhow::Result<XmppSession> {
        let mut session = XmppSession::open(self.port).await?;
        session.register(user).await?;
        session.login(user).await?;
        Ok(session)
    }
}

/// One client stream.
pub struct XmppSession {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    /// Received and not yet consumed.
    pending: String,
}

const STREAM_HEADER: &str = "<?xml version='1.0'?><stream:stream to='localhost' \
    xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

impl XmppSession {
    async fn open(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        let mut session = Self {
            reader,
            writer,
            pending: String::new(),
        };
        session.start_stream().await?;
        Ok(session)
    }

    async fn send(&mut self, xml: &str) -> anyhow::Result<()> {
        self.writer.write_all(xml.as_bytes()).await?;
        Ok(())
    }

    /// Reads until `marker` arrives; consumes everything up to and including it.
    async fn read_until(&mut self, marker: &str) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        loop {
            if let Some(at) = self.pending.find(marker) {
                let rest = self.pending.split_off(at + marker.len());
                return Ok(std::mem::replace(&mut self.pending, rest));
            }
            let mut buf = [0u8; 16 * 1024];
            let n = tokio::time::timeout_at(deadline, self.reader.read(&mut buf))
                .await
                .with_context(|| format!("ejabberd did not send {marker:?}"))??;
            if n == 0 {
                bail!("ejabberd closed the stream waiting for {marker:?}");
            }
            self.pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }

    async fn start_stream(&mut self) -> anyhow::Result<()> {
        self.send(STREAM_HEADER).await?;
        self.read_until("</stream:features>").await?;
        Ok(())
    }

    async fn register(&mut self, user: &str) -> anyhow::Result<()> {
        self.send(&format!(
            "<iq type='set' id='reg'><query xmlns='jabber:iq:register'>\
             <username>{user}</username><password>{PASSWORD}</password></query></iq>"
        ))
        .await?;
        let answer = self.read_until("id='reg'").await?;
        // The answer's attributes come in any order: read the rest of its tag.
        let tail = self.read_until(">").await?;
        if !(answer + &tail).contains("type='result'") {
            bail!("ejabberd refused to register {user}");
        }
        Ok(())
    }

    async fn login(&mut self, user: &str) -> anyhow::Result<()> {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{PASSWORD}"));
        self.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{credentials}</auth>"
        ))
        .await?;
        let answer = self.read_until("/>").await?;
        if !answer.contains("<success") {
            bail!("ejabberd refused the login of {user}: {answer}");
        }
        self.start_stream().await?;
        self.send(
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>bench</resource></bind></iq>",
        )
        .await?;
        self.read_until("</iq>").await?;
        self.send("<presence/>").await?;
        // Our own presence comes back: from here on only messages arrive.
        self.read_until("<presence").await?;
        self.read_until("/>").await?;
        Ok(())
    }

    /// A chat message to `to` whose body is `number`.
    pub async fn send_number(&mut self, to: &str, number: u64) -> anyhow::Result<()> {
        self.send(&format!(
            "<message to='{to}@{DOMAIN}' type='chat'><body>{number}</body></message>"
        ))
        .await
    }

    /// The latency of every message body (a send instant, ns after `epoch`) until `stop`.
    pub async fn receive_stamped(
        mut self,
        epoch: Instant,
        received: Arc<AtomicU64>,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Vec<Duration>> {
        let mut latencies = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            tokio::select! {
                n = self.reader.read(&mut buf) => {
                    let n = n?;
                    if n == 0 {
                        bail!("ejabberd closed a receiver's stream");
                    }
                    self.pending.push_str(&String::from_utf8_lossy(&buf[..n]));
                    while let Some(stamp) = self.take_body() {
                        if let Ok(stamp) = stamp.parse::<u64>() {
                            let sent_at = Duration::from_nanos(stamp);
                            latencies.push(epoch.elapsed().saturating_sub(sent_at));
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ = stop.changed() => break,
            }
        }
        Ok(latencies)
    }

    /// The next complete `<body>` text received, consumed.
    fn take_body(&mut self) -> Option<String> {
        let start = self.pending.find("<body>")? + "<body>".len();
        let end = start + self.pending[start..].find("</body>")?;
        let body = self.pending[start..end].to_string();
        self.pending.drain(..end + "</body>".len());
        Some(body)
    }
}

/// Where `ejabberdctl` is, or why the baseline cannot run.
pub fn locate(name: &str) -> anyhow::Result<PathBuf> {
    crate::host::find_binary(name)
        .or_else(|| crate::host::find_binary(&format!("/usr/sbin/{name}")))
        .with_context(|| {
            format!("{name} not found (install Debian's ejabberd package, or pass --no-ejabberd)")
        })
}
