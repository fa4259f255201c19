//! Who a connection is: its query string, and the user its token names.

use std::sync::Arc;

use meridian_cluster::state::{AppSettings, CommandError, Query, QueryOutput};
use meridian_cluster::{ClusterClient, ClusterError};
use meridian_regions::AreaCode;
use meridian_rmtp::ConnAckLayout;

use super::error::SessionError;
use super::Shared;
use crate::now_ms;
use meridian_access::directory::{AppDirectory, Resolved};
use meridian_access::params::Params;

/// The query string of `GET /websocket`.
#[derive(Debug, Default)]
pub struct ConnectParams {
    pub app_key: String,
    pub token: String,
    pub device_id: String,
    pub platform: String,
    pub cursor: Option<u64>,
    /// `ip:port` of the device, as this edge sees it (not from the query).
    pub client_ip: String,
    /// A commercial SDK (COMMERCIAL-PROTOCOL.md), and the CONNACK layout it asked for.
    pub commercial: Option<ConnAckLayout>,
}

impl ConnectParams {
    /// The query string is form-encoded, like a Server API body: one parser serves both.
    pub fn parse(query: &str) -> Self {
        let Ok(params) = Params::parse_form(query.as_bytes()) else {
            return Self::default();
        };
        let text = |key: &str| params.get(key).unwrap_or_default().to_string();
        // Only the commercial SDKs send `sdkVer`.
        let commercial = params
            .get("sdkVer")
            .map(|_| ConnAckLayout::for_version(params.get("protocolVer")));
        let mut device_id = text("deviceId");
        if commercial.is_some() && device_id.is_empty() {
            // The 2.x SDKs name no device: each connection is a device of its own (it
            // tells its own messages apart by their ids).
            device_id = format!("rc-{:016x}", rand::random::<u64>());
        }
        Self {
            app_key: params
                .get("appId")
                .or_else(|| params.get("appKey"))
                .unwrap_or_default()
                .to_string(),
            token: text("token"),
            device_id,
            platform: text("platform"),
            cursor: params.get("cursor").and_then(|c| c.parse().ok()),
            client_ip: String::new(),
            commercial,
        }
    }
}

/// The authenticated user of a connection.
pub(super) struct Identity {
    pub(super) area: AreaCode,
    pub(super) app_key: String,
    pub(super) user_id: String,
    pub(super) client: Arc<ClusterClient>,
    /// The app's settings as of the connect (MSG-11: every connect reads them afresh).
    pub(super) settings: AppSettings,
    /// Messages this connection may send per second: the app's limit (API-08), else the
    /// edge's setting.
    pub(super) sends_per_second: u32,
}

pub(super) async fn authenticate(
    shared: &Shared,
    params: &ConnectParams,
) -> Result<Identity, SessionError> {
    let user = user_of_token(&shared.directory, &params.app_key, &params.token).await?;
    let sends_per_second = user
        .app
        .limits
        .client_sends_per_second
        .unwrap_or(shared.settings.sends_per_second);
    Ok(Identity {
        area: user.app.area,
        app_key: params.app_key.clone(),
        user_id: user.user_id,
        client: user.client,
        settings: user.settings,
        sends_per_second,
    })
}

/// The user a token of `app_key` names: issued with the app's secret, not expired, for a
/// user who exists and is not banned.
pub(crate) struct TokenUser {
    pub(crate) app: Resolved,
    pub(crate) user_id: String,
    pub(crate) client: Arc<ClusterClient>,
    pub(crate) settings: AppSettings,
}

pub(crate) async fn user_of_token(
    directory: &AppDirectory,
    app_key: &str,
    user_token: &str,
) -> Result<TokenUser, SessionError> {
    let incorrect = |why: &dyn std::fmt::Display| SessionError::TokenIncorrect(why.to_string());
    let resolved = directory
        .resolve(app_key)
        .await
        .map_err(|e| incorrect(&e))?;
    let claims = resolved
        .verify_token(user_token)
        .map_err(|e| incorrect(&e))?;
    if claims.app_key != app_key {
        return Err(incorrect(&"issued for another app"));
    }
    let client = directory
        .client(resolved.area)
        .cloned()
        .ok_or_else(|| incorrect(&"app not served here"))?;
    let access = client
        .read(Query::UserAccess {
            app_key: app_key.to_string(),
            user_id: claims.user_id.clone(),
        })
        .await;
    let settings = match access {
        Ok(QueryOutput::Access(user, ban, settings)) => {
            if claims.issued_at_ms < user.tokens_valid_after_ms {
                return Err(incorrect(&"expired"));
            }
            if let Some(ban) = ban.filter(|ban| ban.until_ms > now_ms()) {
                return Err(SessionError::Banned {
                    until_ms: ban.until_ms,
                });
            }
            settings
        }
        Ok(_) => return Err(SessionError::unexpected_answer()),
        Err(ClusterError::Refused(CommandError::NotFound { .. })) => {
            return Err(incorrect(&"unknown user"))
        }
        Err(e) => return Err(SessionError::Unavailable(e.to_string())),
    };
    Ok(TokenUser {
        app: resolved,
        user_id: claims.user_id,
        client,
        settings,
    })
}
