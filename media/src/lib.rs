//! The media server of one area ([sfu], RTC-05, RTC-08): a WebRTC SFU on str0m that
//! forwards each publisher's audio and video to the room members watching it. Clients
//! publish over WHIP and watch over WHEP (`signalling.rs`), authorized by the area's
//! cluster (`members.rs`); all media shares one UDP socket (`sfu/`), with ICE-TCP on the
//! WHIP/WHEP port for networks that block UDP, ICE-lite on the server side, DTLS-SRTP as
//! WebRTC requires. Rooms the app server orders recorded are
//! written to WebM files kept among the app's files (`recording/`).

pub mod config;
mod members;
mod metrics;
mod mixing;
mod recording;
mod sfu;
mod signalling;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use meridian_access::directory::AppDirectory;
use meridian_cluster::ClusterClient;
use meridian_rpc::TlsSettings;
use meridian_telemetry::{AdminHooks, AdminServer, Divert};
use prometheus::Registry;
use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::{ConfigError, MediaConfig};
pub use sfu::{answer_offer, dtls_certificate, Peer};

use members::Members;
use metrics::MediaMetrics;
use recording::Recordings;
use sfu::Sfu;
use signalling::{PublicHooks, Signalling};

/// Socket buffers the media socket asks for (the kernel caps them at
/// `net.core.wmem_max`/`rmem_max`): one video frame written to 400 subscribers is over a
/// thousand datagrams at once, which the default 208 KiB would drop.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

fn widen_buffers(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let widened = socket
        .set_send_buffer_size(SOCKET_BUFFER_BYTES)
        .and_then(|()| socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES));
    if let Err(e) = widened {
        tracing::warn!(error = %e, "media socket buffers stay at the system's default");
    }
}

/// Runs the future `task` makes on a thread of its own, with a runtime of its own: the
/// forwarding loop is busy for every packet, and sharing the server's worker threads cost
/// it wake-ups and switches between them. The handle resolves when the future has ended.
fn on_thread_of_its_own<F, T>(name: &str, task: F) -> std::io::Result<JoinHandle<()>>
where
    F: FnOnce() -> T + Send + 'static,
    T: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (ended, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            runtime.block_on(task());
            let _ = ended.send(());
        })?;
    Ok(tokio::spawn(async move {
        let _ = done.await;
    }))
}

/// Signalling requests waiting for the forwarding task.
const COMMAND_QUEUE: usize = 256;
/// ICE-TCP packets waiting for the forwarding task.
const TCP_EVENT_QUEUE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Listen(#[from] meridian_telemetry::ListenError),
    #[error("{0}")]
    Setup(String),
}

pub struct MediaServer {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
}

struct AdminPort {
    area: String,
    media: SocketAddr,
}

impl AdminHooks for AdminPort {
    fn stats(&self) -> serde_json::Value {
        json!({ "area": self.area, "media": self.media.to_string() })
    }
}

impl MediaServer {
    pub async fn start(config: MediaConfig) -> Result<Self, MediaError> {
        config.validate()?;
        let setup = |e: &dyn std::fmt::Display| MediaError::Setup(e.to_string());
        let public = meridian_telemetry::listen("listen", &config.listen).await?;
        let public_addr = public.local_addr().map_err(|e| setup(&e))?;
        // Media takes the same port number over UDP (`listen` may ask for port 0).
        let socket = UdpSocket::bind(public_addr)
            .await
            .map_err(|e| setup(&format!("listen (udp {public_addr}): {e}")))?;
        widen_buffers(&socket);
        let admin = meridian_telemetry::listen("admin_listen", &config.admin_listen).await?;
        let admin_addr = admin.local_addr().map_err(|e| setup(&e))?;
        // validate() saw to it that this is an address clients can reach.
        let ip = config.advertised_ip.unwrap_or(public_addr.ip());
        let advertised = SocketAddr::new(ip, public_addr.port());
        let tls = match &config.tls {
            Some(files) => Some(TlsSettings::load(files).map_err(|e| setup(&e))?),
            None => None,
        };
        let client = Arc::new(ClusterClient::new(config.area, config.cluster.clone(), tls));
        let directory = AppDirectory::new(
            BTreeMap::from([(config.area, client.clone())]),
            BTreeMap::new(),
        );
        let members = Arc::new(Members::new(directory, client.clone()));
        let registry = Registry::new();
        let metrics = MediaMetrics::register(&registry).map_err(|e| setup(&e))?;
        let recordings = match &config.files {
            Some(files) => {
                let store = meridian_files::Store::open(files).map_err(|e| setup(&e))?;
                let scratch = config
                    .recording_dir
                    .clone()
                    .unwrap_or_else(std::env::temp_dir);
                std::fs::create_dir_all(&scratch)
                    .map_err(|e| setup(&format!("recording_dir {}: {e}", scratch.display())))?;
                Some(Arc::new(Recordings::new(
                    store,
                    client,
                    scratch,
                    metrics.clone(),
                )))
            }
            None => None,
        };
        let recording = recordings.is_some();
        let mixing = match mixing::available() {
            Ok(()) => Some(mixing::Mixing::new(metrics.clone())),
            Err(reason) => {
                tracing::warn!(%reason, "rooms will not be mixed (RTC-09)");
                None
            }
        };
        let watching = members::Watching {
            recording,
            mixing: mixing.is_some(),
        };
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let (stop, stop_rx) = watch::channel(false);
        let signalling = Arc::new(Signalling {
            members: members.clone(),
            commands: commands.clone(),
            metrics: metrics.clone(),
        });
        // ICE-TCP connections arrive on the WHIP/WHEP port (sfu::tcp).
        let (tcp_accepted, tcp_handed) = mpsc::channel(COMMAND_QUEUE);
        let (tcp_events, tcp_events_rx) = mpsc::channel(TCP_EVENT_QUEUE);
        let mut public_server =
            AdminServer::new(Registry::new(), Arc::new(PublicHooks(signalling)))
                // An SDP offer is a few kilobytes.
                .body_limit(64 * 1024)
                .divert(Divert {
                    prefix: sfu::tcp::PREFIX,
                    claims: sfu::tcp::claims,
                    to: tcp_accepted,
                });
        if let Some(files) = &config.public_tls {
            public_server = public_server.tls(files.server_config().map_err(|e| setup(&e))?);
        }
        let admin_server = AdminServer::new(
            registry,
            Arc::new(AdminPort {
                area: config.area.to_string(),
                media: advertised,
            }),
        );
        let wait = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let certificate = sfu::dtls_certificate().map_err(|e| setup(&e))?;
        // The socket moves to the forwarding thread's runtime, whose reactor watches it.
        let socket = socket.into_std().map_err(|e| setup(&e))?;
        let sfu_stop = stop_rx.clone();
        let forwarding = move || async move {
            match UdpSocket::from_std(socket) {
                Ok(socket) => {
                    let sfu =
                        Sfu::new(socket, advertised, certificate, metrics, recordings, mixing);
                    sfu.run(commands_rx, tcp_events_rx, sfu_stop).await;
                }
                Err(e) => tracing::error!(error = %e, "media socket"),
            }
        };
        let tasks = vec![
            on_thread_of_its_own("media-forwarding", forwarding).map_err(|e| setup(&e))?,
            tokio::spawn(sfu::tcp::serve(tcp_handed, tcp_events, stop_rx.clone())),
            tokio::spawn(members::watch(members, commands, watching, stop_rx.clone())),
            tokio::spawn({
                let stop = wait(stop_rx.clone());
                async move {
                    if let Err(e) = public_server.serve(public, stop).await {
                        tracing::error!(error = %e, "media public listener failed");
                    }
                }
            }),
            tokio::spawn({
                let stop = wait(stop_rx);
                async move {
                    if let Err(e) = admin_server.serve(admin, stop).await {
                        tracing::error!(error = %e, "media admin listener failed");
                    }
                }
            }),
        ];
        tracing::info!(%public_addr, %advertised, area = %config.area, "media server up");
        Ok(Self {
            stop,
            tasks,
            public_addr,
            admin_addr,
        })
    }

    /// WHIP/WHEP and ICE-TCP (TCP) and media (UDP) share this address.
    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Closes every transport and stops serving.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
