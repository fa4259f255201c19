//! Callback URLs kept apart from an app's settings: where audio/video room events go
//! (`…/rtc-callback`, RTC-01) and where finished erasures are told
//! (`…/erasure-callback`, LIFE-02). `null` stops them.

use serde_json::{json, Value};

use super::AdminApi;
use crate::client::ClusterError;
use crate::state::{Command, Query, QueryOutput};

/// `PUT …/rtc-callback`'s and `PUT …/erasure-callback`'s body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CallbackUrl {
    pub url: Option<String>,
}

impl AdminApi {
    pub(super) async fn get_callback_url(&self, query: Query) -> Result<Value, ClusterError> {
        match self.cluster.read(query).await? {
            QueryOutput::RtcCallback(url) | QueryOutput::CallbackUrl(url) => {
                Ok(json!({ "url": url }))
            }
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Writes the command `set` makes of `url`; answers the URL.
    pub(super) async fn put_callback_url(
        &self,
        url: Option<String>,
        set: impl FnOnce(Option<String>) -> Command,
    ) -> Result<Value, ClusterError> {
        self.cluster
            .write_one(self.envelope(set(url.clone())))
            .await?;
        Ok(json!({ "url": url }))
    }
}
