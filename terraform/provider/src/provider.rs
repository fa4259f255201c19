//! The provider block: where the operator admin API is and the token it wants.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::admin::{AdminClient, AdminError};
use crate::app::AppResource;
use crate::app_settings::AppSettingsResource;
use crate::area::AreaResource;
use crate::attributes::{optional, sensitive};
use crate::cluster_member::ClusterMemberResource;
use crate::endpoints::EndpointsDataSource;

const ENDPOINT_ENV: &str = "MERIDIAN_ENDPOINT";
const TOKEN_ENV: &str = "MERIDIAN_OPERATOR_TOKEN";

/// The admin client once Terraform has configured the provider. Resources are built
/// before that, so they share this handle rather than a client.
#[derive(Clone, Default)]
pub struct Connection(Arc<RwLock<Option<AdminClient>>>);

impl Connection {
    fn set(&self, client: AdminClient) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(client);
    }

    /// The client, or an error saying the provider has no endpoint.
    pub fn client(&self, diags: &mut Diagnostics) -> Option<AdminClient> {
        let client = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if client.is_none() {
            diags.root_error(
                "The meridian provider has no admin API endpoint",
                format!("Set `endpoint` in the provider block or {ENDPOINT_ENV}."),
            );
        }
        client
    }
}

/// Adds a failed admin call to the diagnostics.
pub fn report(diags: &mut Diagnostics, what: &str, error: AdminError) {
    diags.root_error(format!("Could not {what}"), error.to_string());
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    endpoint: Value<String>,
    token: Value<String>,
}

#[derive(Default)]
pub struct MeridianProvider {
    connection: Connection,
}

/// The configured value, else the environment variable's.
fn configured_or_env(value: Value<String>, env: &str) -> Value<String> {
    match value {
        Value::Null => std::env::var(env).ok().filter(|v| !v.is_empty()).into(),
        other => other,
    }
}

#[async_trait]
impl Provider for MeridianProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain("Meridian's control plane: the operator admin API"),
                attributes: map! {
                    "endpoint" => optional(
                        AttributeType::String,
                        "Base URL of the operator admin API: a cluster node's admin port or an edge's admin URL serving one area (http://host:port). Default: MERIDIAN_ENDPOINT.",
                    ),
                    "token" => sensitive(optional(
                        AttributeType::String,
                        "Operator token. Default: MERIDIAN_OPERATOR_TOKEN.",
                    )),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ProviderConfig) -> Option<()> {
        if let Some(endpoint) = config.endpoint.as_ref_option() {
            if !endpoint.starts_with("http://") {
                diags.error(
                    "Invalid endpoint",
                    "The admin API is plain HTTP on the operators' network: use http://host:port.",
                    AttributePath::new("endpoint"),
                );
            }
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: ProviderConfig,
    ) -> Option<()> {
        let endpoint = configured_or_env(config.endpoint, ENDPOINT_ENV);
        let token = configured_or_env(config.token, TOKEN_ENV);
        match (endpoint, token) {
            (Value::Value(endpoint), Value::Value(token)) => {
                self.connection.set(AdminClient::new(&endpoint, &token));
            }
            (Value::Unknown, _) | (_, Value::Unknown) => diags.root_error(
                "The meridian provider's endpoint and token must be known when planning",
                "Use values that do not depend on resources created in the same run.",
            ),
            (Value::Value(_), Value::Null) => diags.error(
                "Missing operator token",
                format!("Set `token` in the provider block or {TOKEN_ENV}."),
                AttributePath::new("token"),
            ),
            // No endpoint: data sources reading files still work; resources will say
            // what is missing.
            (Value::Null, _) => {}
        }
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! {
            "app" => AppResource::new(self.connection.clone()),
            "app_settings" => AppSettingsResource::new(self.connection.clone()),
            "area" => AreaResource::new(self.connection.clone()),
            "cluster_member" => ClusterMemberResource::new(self.connection.clone()),
        })
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(map! {
            "endpoints" => EndpointsDataSource,
        })
    }
}
