//! The provider block: where the operator admin API is, the token it wants, the CA its
//! certificate comes from and the area the calls are for.

use std::collections::HashMap;
use std::path::Path;
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
use crate::attributes::{check, check_area_code, optional, sensitive};
use crate::cluster_member::ClusterMemberResource;
use crate::endpoints::EndpointsDataSource;

const ENDPOINT_ENV: &str = "MERIDIAN_ENDPOINT";
const TOKEN_ENV: &str = "MERIDIAN_OPERATOR_TOKEN";
const CA_FILE_ENV: &str = "MERIDIAN_CA_FILE";
const AREA_ENV: &str = "MERIDIAN_AREA";

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
    ca_file: Value<String>,
    area: Value<String>,
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
                        "Base URL of the operator admin API: a cluster node's admin port (http://host:port) or an edge's public URL (http:// or https://; set `area` when the edge fronts several areas). Default: MERIDIAN_ENDPOINT.",
                    ),
                    "ca_file" => optional(
                        AttributeType::String,
                        "Path of a PEM file of CA certificates trusted for an https:// endpoint besides the web's public roots (an edge certificate from a private CA). Default: MERIDIAN_CA_FILE.",
                    ),
                    "area" => optional(
                        AttributeType::String,
                        "Area code (CN, SG, SG-B, NA, SA) sent with every call as the X-Meridian-Area header: required by an edge fronting several areas. Default: MERIDIAN_AREA.",
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
        check(diags, "endpoint", &config.endpoint, check_endpoint);
        check(diags, "area", &config.area, check_area_code);
        check(diags, "ca_file", &config.ca_file, |path: &str| {
            if path.trim().is_empty() {
                Err("must be the path of a PEM file".into())
            } else {
                Ok(())
            }
        });
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
        let ca_file = configured_or_env(config.ca_file, CA_FILE_ENV);
        let area = configured_or_env(config.area, AREA_ENV);
        let unknown = |value: &Value<String>| matches!(value, Value::Unknown);
        if [&endpoint, &token, &ca_file, &area]
            .into_iter()
            .any(unknown)
        {
            diags.root_error(
                "The meridian provider's settings must be known when planning",
                "Use values for endpoint, token, ca_file and area that do not depend on resources created in the same run.",
            );
            return Some(());
        }
        // Values taken from the environment have not been validated yet.
        let errors = diags.errors.len();
        check(diags, "endpoint", &endpoint, check_endpoint);
        check(diags, "area", &area, check_area_code);
        if diags.errors.len() > errors {
            return Some(());
        }
        let (Value::Value(endpoint), Value::Value(token)) = (&endpoint, &token) else {
            if endpoint.is_null() {
                // No endpoint: data sources reading files still work; resources will
                // say what is missing.
                return Some(());
            }
            diags.error(
                "Missing operator token",
                format!("Set `token` in the provider block or {TOKEN_ENV}."),
                AttributePath::new("token"),
            );
            return Some(());
        };
        let area = area.as_ref_option().map(String::as_str);
        let ca_file = ca_file.as_ref_option().map(Path::new);
        match AdminClient::new(endpoint, token, area, ca_file) {
            Ok(client) => self.connection.set(client),
            Err(problem) => diags.error(
                "Invalid ca_file",
                format!("Could not read CA certificates from it: {problem}"),
                AttributePath::new("ca_file"),
            ),
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

/// An `http://` or `https://` base URL with a host.
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let usage = "use http://host:port (a cluster node's admin port, or an edge without TLS) \
                 or https://host[:port] (an edge with public_tls)";
    if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
        return Err(format!(
            "{endpoint:?} is neither http:// nor https://: {usage}"
        ));
    }
    match endpoint.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|host| !host.is_empty()) => Ok(()),
        _ => Err(format!("{endpoint:?} is not a URL: {usage}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_http_or_https_urls_with_a_host() {
        for good in [
            "http://10.0.1.10:7013",
            "https://127.0.0.1:8443",
            "https://admin.sg.example.com/",
        ] {
            assert_eq!(check_endpoint(good), Ok(()), "{good}");
        }
        for (bad, problem) in [
            ("ftp://10.0.1.10:7013", "is neither http:// nor https://"),
            ("10.0.1.10:7013", "is neither http:// nor https://"),
            (
                "HTTPS://admin.example.com",
                "is neither http:// nor https://",
            ),
            ("https://", "is not a URL"),
            ("http://exa mple.com", "is not a URL"),
        ] {
            let error = check_endpoint(bad).unwrap_err();
            assert!(error.contains(problem), "{bad}: {error}");
            assert!(error.contains("https://host[:port]"), "{bad}: {error}");
        }
    }
}
