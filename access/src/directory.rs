//! Which app an App Key belongs to, and where it lives. Apps of the areas this edge fronts
//! are served; an app homed in another area is refused with that area's API host. App
//! records are cached for a second: a request costs no extra round trip to the cluster,
//! and a changed or deleted app is seen within that second.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_cluster::state::{
    App, AppEnv, AppLimits, AppSettings, CommandError, PreviousSecret, Query, QueryOutput,
    SdkFeatures,
};
use meridian_cluster::{ClusterClient, ClusterError};
use meridian_regions::AreaCode;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::token::{self, TokenClaims, TokenError};

const CACHE_TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; past this, expired ones are dropped first.
const CACHE_MAX: usize = 100_000;

/// An app environment this edge serves.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub app: App,
    pub env: AppEnv,
    pub area: AreaCode,
    /// The environment's settings, as fresh as the cache (one second).
    pub settings: AppSettings,
    /// The environment's limits (API-08), as fresh.
    pub limits: AppLimits,
    /// The secret a rotation replaced, while it overlaps (LIFE-04).
    pub previous_secret: Option<PreviousSecret>,
    /// The client SDK services the environment switched on (WEB-06), as fresh.
    pub sdk_features: SdkFeatures,
}

impl Resolved {
    pub fn app_key(&self) -> &str {
        &self.app.credentials(self.env).app_key
    }

    /// The secret that signs (tokens, links, callbacks).
    pub fn secret(&self) -> &str {
        &self.app.credentials(self.env).app_secret
    }

    /// The secrets a signature or token may be made with now: the current one, then the
    /// one a rotation replaced while its overlap lasts (LIFE-04).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        let now_ms = meridian_clock::now_ms();
        let previous = self
            .previous_secret
            .as_ref()
            .filter(|previous| previous.until_ms > now_ms)
            .map(|previous| previous.app_secret.as_str());
        std::iter::once(self.secret()).chain(previous)
    }

    /// Whether `signed` holds for one of [`Resolved::secrets`].
    pub fn signed_by(&self, signed: impl Fn(&str) -> bool) -> bool {
        self.secrets().any(signed)
    }

    /// A user token of this app, issued with one of [`Resolved::secrets`].
    pub fn verify_token(&self, user_token: &str) -> Result<TokenClaims, TokenError> {
        let mut verified = Err(TokenError::BadSignature);
        for secret in self.secrets() {
            verified = token::verify(secret, user_token);
            if verified.is_ok() {
                break;
            }
        }
        verified
    }
}

/// Another area this edge can look apps up in (but does not serve).
pub struct ForeignArea {
    pub client: Arc<ClusterClient>,
    /// Where that area's Server API is, for the refusal message.
    pub api: String,
}

#[derive(Clone)]
enum Lookup {
    Served(Box<Resolved>),
    Elsewhere { home: AreaCode, api: String },
    Unknown,
}

pub struct AppDirectory {
    served: BTreeMap<AreaCode, Arc<ClusterClient>>,
    foreign: BTreeMap<AreaCode, ForeignArea>,
    cache: Mutex<HashMap<String, (Instant, Lookup)>>,
}

impl AppDirectory {
    pub fn new(
        served: BTreeMap<AreaCode, Arc<ClusterClient>>,
        foreign: BTreeMap<AreaCode, ForeignArea>,
    ) -> Self {
        Self {
            served,
            foreign,
            cache: Mutex::default(),
        }
    }

    pub fn client(&self, area: AreaCode) -> Option<&Arc<ClusterClient>> {
        self.served.get(&area)
    }

    /// The served app owning `app_key`, or why there is none.
    pub async fn resolve(&self, app_key: &str) -> Result<Resolved, ApiError> {
        let lookup = match self.cached(app_key) {
            Some(lookup) => lookup,
            None => {
                // Boxed: five cluster reads make a large future, and every request path
                // awaits this one (unboxed, debug builds overflowed a thread's stack).
                let lookup = Box::pin(self.look_up(app_key)).await?;
                self.remember(app_key, lookup.clone());
                lookup
            }
        };
        match lookup {
            Lookup::Served(resolved) => Ok(*resolved),
            Lookup::Elsewhere { home, api } => Err(ApiError::WrongArea {
                app_key: app_key.to_string(),
                home,
                api_host: api,
            }),
            Lookup::Unknown => Err(ApiError::AppKey),
        }
    }

    fn cached(&self, app_key: &str) -> Option<Lookup> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(app_key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, lookup)| lookup.clone())
    }

    fn remember(&self, app_key: &str, lookup: Lookup) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHE_MAX {
                return;
            }
        }
        cache.insert(app_key.to_string(), (Instant::now(), lookup));
    }

    async fn look_up(&self, app_key: &str) -> Result<Lookup, ApiError> {
        for (&area, client) in &self.served {
            if let Some((app, env)) = find(client, app_key).await? {
                let settings = match client
                    .read(Query::AppSettings {
                        app_key: app_key.to_string(),
                    })
                    .await?
                {
                    QueryOutput::Settings(settings) => settings,
                    other => return Err(crate::error::unexpected(other)),
                };
                let limits = match client
                    .read(Query::AppLimits {
                        app_key: app_key.to_string(),
                    })
                    .await?
                {
                    QueryOutput::Limits(limits) => limits,
                    other => return Err(crate::error::unexpected(other)),
                };
                let previous_secret = match client
                    .read(Query::PreviousSecret {
                        app_key: app_key.to_string(),
                        now_ms: meridian_clock::now_ms(),
                    })
                    .await?
                {
                    QueryOutput::PreviousSecret(previous) => previous,
                    other => return Err(crate::error::unexpected(other)),
                };
                let sdk_features = match client
                    .read(Query::SdkFeatures {
                        app_key: app_key.to_string(),
                    })
                    .await?
                {
                    QueryOutput::SdkFeatures(features) => features,
                    other => return Err(crate::error::unexpected(other)),
                };
                return Ok(Lookup::Served(Box::new(Resolved {
                    app,
                    env,
                    area,
                    settings,
                    limits,
                    previous_secret,
                    sdk_features,
                })));
            }
        }
        for (&home, foreign) in &self.foreign {
            // Another area being down must not break this one's apps: skip it.
            if let Ok(Some(_)) = find(&foreign.client, app_key).await {
                return Ok(Lookup::Elsewhere {
                    home,
                    api: foreign.api.clone(),
                });
            }
        }
        Ok(Lookup::Unknown)
    }
}

async fn find(client: &ClusterClient, app_key: &str) -> Result<Option<(App, AppEnv)>, ApiError> {
    match client
        .read(Query::GetApp {
            app_key: app_key.to_string(),
        })
        .await
    {
        Ok(QueryOutput::App(app, env)) => Ok(Some((app, env))),
        Ok(other) => Err(crate::error::unexpected(other)),
        Err(ClusterError::Refused(CommandError::NotFound { .. })) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
