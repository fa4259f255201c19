//! DTLS for every transport from one dimpl configuration. str0m's rust-crypto provider
//! builds a dimpl `Config` for each transport, and building one checks the crypto
//! backend by running a key exchange in each group it supports (P-256, P-384, X25519):
//! about 1 ms of the forwarding thread for every offer answered. Here a configuration is
//! built once per MTU and shared; the transports are otherwise made as str0m makes them.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use str0m::config::{CryptoProvider, DtlsCert};
use str0m::crypto::dtls::{
    DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};
use str0m::crypto::CryptoError;

/// str0m's crypto, with DTLS from [`SharedConfig`].
pub(crate) static CRYPTO: LazyLock<Arc<CryptoProvider>> = LazyLock::new(|| {
    Arc::new(CryptoProvider {
        dtls_provider: &SHARED,
        ..str0m::crypto::from_feature_flags()
    })
});

static SHARED: SharedConfig = SharedConfig {
    configs: Mutex::new(Vec::new()),
};

/// The configurations built so far, by the MTU str0m asked for (one, in practice).
struct SharedConfig {
    configs: Mutex<Vec<(Option<usize>, Arc<dimpl::Config>)>>,
}

impl std::fmt::Debug for SharedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConfig").finish_non_exhaustive()
    }
}

impl SharedConfig {
    fn config(&self, mtu: Option<usize>) -> Result<Arc<dimpl::Config>, CryptoError> {
        let mut configs = self.configs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, config)) = configs.iter().find(|(m, _)| *m == mtu) {
            return Ok(config.clone());
        }
        // As str0m's provider configures it: ICE has checked the peer's address before
        // DTLS starts, so the server's cookie exchange would add nothing.
        let mut builder = dimpl::Config::builder().use_server_cookie(false);
        if let Some(mtu) = mtu {
            builder = builder.mtu(mtu);
        }
        let config = Arc::new(
            builder
                .build()
                .map_err(|e| CryptoError::Other(format!("DTLS configuration: {e}")))?,
        );
        configs.push((mtu, config.clone()));
        Ok(config)
    }
}

impl DtlsProvider for SharedConfig {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        dimpl::certificate::generate_self_signed_certificate().ok()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let config = self.config(mtu)?;
        let dtls = match dtls_version {
            DtlsVersion::Dtls12 => dimpl::Dtls::new_12(config, cert.clone(), now),
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert.clone(), now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert.clone(), now),
            other => {
                return Err(CryptoError::Other(format!(
                    "unsupported DTLS version {other}"
                )))
            }
        };
        Ok(Box::new(Dtls(dtls)))
    }
}

/// A dimpl endpoint as str0m drives one.
struct Dtls(dimpl::Dtls);

impl std::fmt::Debug for Dtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dtls").finish_non_exhaustive()
    }
}

impl DtlsInstance for Dtls {
    fn set_active(&mut self, active: bool) {
        self.0.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.0.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        self.0.poll_output(buf)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.0.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<(), DtlsImplError> {
        self.0.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.0.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.0.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_configuration_serves_every_transport_of_an_mtu() {
        let shared = SharedConfig {
            configs: Mutex::new(Vec::new()),
        };
        let first = shared.config(Some(1150)).expect("a configuration");
        let again = shared.config(Some(1150)).expect("a configuration");
        assert!(Arc::ptr_eq(&first, &again));
        let other = shared.config(None).expect("a configuration");
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(shared.configs.lock().expect("unpoisoned").len(), 2);
    }
}
