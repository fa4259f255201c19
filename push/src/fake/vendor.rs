//! What the fakes of the vendor channels (Huawei, Honor, Xiaomi, OPPO, vivo, Meizu) share:
//! a TLS port speaking HTTP/2 or HTTP/1.1, the requests and pushes they recorded, and the
//! device tokens they answer as gone or rate limited. Each vendor's module says how its
//! protocol answers ([`VendorState`]) and how its credentials are made.

use super::*;

/// Kept by every vendor fake's state.
pub struct Shared {
    pub(super) recorder: Recorder,
    pub(super) devices: DeviceRules,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            recorder: Recorder::new(),
            devices: DeviceRules::default(),
        }
    }
}

/// A vendor's protocol as its fake answers it.
pub trait VendorState: Send + Sync + 'static {
    fn shared(&self) -> &Shared;
    fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>>;
}

/// One vendor's fake on a loopback TLS port; it stops serving when dropped.
pub struct VendorFake<S> {
    pub(super) state: Arc<S>,
    ca_cert: CertificateDer<'static>,
    server: Server,
}

impl<S: VendorState> VendorFake<S> {
    pub(super) async fn serve(state: S) -> Self {
        let (ca_cert, tls) = tls_identity(&[b"h2", b"http/1.1"]);
        let state = Arc::new(state);
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |parts, body| handler_state.answer(parts, body));
        let server = serve(Some(tls), false, handler).await;
        VendorFake {
            state,
            ca_cert,
            server,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    /// The certificate to trust ([`crate::PushClient::new`]).
    pub fn ca_cert(&self) -> CertificateDer<'static> {
        self.ca_cert.clone()
    }

    /// Sends to `device_token` are answered as the vendor answers a token that is no
    /// longer valid.
    pub fn mark_gone(&self, device_token: &str) {
        self.state.shared().devices.mark_gone(device_token);
    }

    /// Sends to `device_token` are answered as the vendor answers a sender over its rate.
    pub fn rate_limit(&self, device_token: &str) {
        self.state.shared().devices.rate_limit(device_token);
    }

    /// Every HTTP request that reached the fake (token endpoints included).
    pub fn requests(&self) -> usize {
        self.state.shared().recorder.requests.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<ReceivedPush> {
        self.state.shared().recorder.received()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedPush>, String> {
        self.state.shared().recorder.wait_for(n, timeout).await
    }
}

/// The access tokens a vendor fake's OAuth endpoint issued: those in force (with the app
/// each is for) and those expired, which the vendors answer with their own code.
#[derive(Default)]
pub(super) struct AccessTokens {
    in_force: HashMap<String, String>,
    expired: HashSet<String>,
    issued: usize,
}

/// What a send's bearer token is worth.
pub(super) enum TokenCheck {
    Valid,
    Expired,
    Unknown,
}

impl AccessTokens {
    pub(super) fn issue(&mut self, token: String, app_id: String) {
        self.in_force.insert(token, app_id);
        self.issued += 1;
    }

    /// Every token in force expires.
    pub(super) fn expire_all(&mut self) {
        self.expired
            .extend(self.in_force.drain().map(|(token, _)| token));
    }

    pub(super) fn issued(&self) -> usize {
        self.issued
    }

    /// Whether `token` may send for `app_id`.
    pub(super) fn check(&self, token: &str, app_id: &str) -> TokenCheck {
        match self.in_force.get(token) {
            Some(owner) if owner == app_id => TokenCheck::Valid,
            _ if self.expired.contains(token) => TokenCheck::Expired,
            _ => TokenCheck::Unknown,
        }
    }
}
