//! `meridian_app`: an app (tenant) with its `dev` and `prod` credentials, created in the
//! area whose admin API the provider talks to. A changed App Secret is rotated in place
//! (LIFE-04): the old one stays valid for `secret_overlap_seconds`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tf_provider::schema::{AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::admin::AdminClient;
use crate::attributes::{
    check, check_area_code, computed, optional, optional_computed, or_unknown, required, sensitive,
    text,
};
use crate::provider::{report, Connection};

pub struct AppResource {
    connection: Connection,
}

impl AppResource {
    pub fn new(connection: Connection) -> Self {
        Self { connection }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    /// The prod App Key, which names the app in the admin API.
    id: Value<String>,
    name: Value<String>,
    home_area: Value<String>,
    dev_app_key: Value<String>,
    dev_app_secret: Value<String>,
    prod_app_key: Value<String>,
    prod_app_secret: Value<String>,
    /// How long a rotated-out secret stays valid; only the provider keeps it.
    secret_overlap_seconds: Value<i64>,
}

/// A day: time to redeploy app servers and for clients to fetch new tokens.
const DEFAULT_OVERLAP_SECONDS: i64 = 86_400;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    app_key: String,
    app_secret: String,
}

/// The admin API's app record (the fields the resource shows).
#[derive(Deserialize)]
struct App {
    name: String,
    home: String,
    dev: Credentials,
    prod: Credentials,
}

impl From<App> for AppState {
    fn from(app: App) -> Self {
        Self {
            id: app.prod.app_key.clone().into(),
            name: app.name.into(),
            home_area: app.home.into(),
            dev_app_key: app.dev.app_key.into(),
            dev_app_secret: app.dev.app_secret.into(),
            prod_app_key: app.prod.app_key.into(),
            prod_app_secret: app.prod.app_secret.into(),
            secret_overlap_seconds: Value::Null,
        }
    }
}

impl AppState {
    /// Attributes whose change the admin API cannot apply in place: it has no rename and
    /// no change of App Key, so Terraform replaces the app (deleting its users and
    /// messages). Secrets are rotated in place.
    fn replaced_on_change(&self) -> [(&'static str, &Value<String>); 4] {
        [
            ("name", &self.name),
            ("home_area", &self.home_area),
            ("dev_app_key", &self.dev_app_key),
            ("prod_app_key", &self.prod_app_key),
        ]
    }

    /// The overlap a rotation keeps the old secret valid for.
    fn overlap_seconds(&self) -> i64 {
        match self.secret_overlap_seconds {
            Value::Value(seconds) => seconds,
            _ => DEFAULT_OVERLAP_SECONDS,
        }
    }

    /// Each environment's key and secret, by attribute name.
    fn credentials(&self) -> [[(&'static str, &Value<String>); 2]; 2] {
        [
            [
                ("dev_app_key", &self.dev_app_key),
                ("dev_app_secret", &self.dev_app_secret),
            ],
            [
                ("prod_app_key", &self.prod_app_key),
                ("prod_app_secret", &self.prod_app_secret),
            ],
        ]
    }
}

/// App Keys and Secrets as the admin API accepts them.
fn check_credential(value: &str) -> Result<(), String> {
    if !(6..=64).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("must be 6 to 64 ASCII letters or digits".into());
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim() != name || name.is_empty() || name.chars().count() > 64 {
        return Err("must be 1 to 64 characters, without surrounding spaces".into());
    }
    Ok(())
}

/// The `{appKey, appSecret}` the configuration brings for one environment, if any.
fn brought_credentials(key: &Value<String>, secret: &Value<String>) -> Option<serde_json::Value> {
    Some(json!({ "appKey": key.as_ref_option()?, "appSecret": secret.as_ref_option()? }))
}

/// The area whose cluster answers at this endpoint.
async fn served_area(admin: &AdminClient, diags: &mut Diagnostics) -> Option<String> {
    match admin.get("/admin/v1/cluster").await {
        Ok(answer) => match answer["status"]["area"].as_str() {
            Some(area) => Some(area.to_string()),
            None => {
                diags.root_error("Unexpected cluster status", answer.to_string());
                None
            }
        },
        Err(error) => {
            report(diags, "read the cluster status", error);
            None
        }
    }
}

fn parse_app(diags: &mut Diagnostics, answer: &serde_json::Value) -> Option<AppState> {
    match serde_json::from_value::<App>(answer["app"].clone()) {
        Ok(app) => Some(app.into()),
        Err(error) => {
            diags.root_error("Unexpected app record", format!("{error}: {answer}"));
            None
        }
    }
}

#[async_trait]
impl Resource for AppResource {
    type State<'a> = AppState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let text = AttributeType::String;
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "An app (tenant) with a dev and a prod environment, each with its own App Key and Secret. It lives in the area whose admin API the provider talks to. A changed App Secret is rotated in place, the old one valid for secret_overlap_seconds; changing the name, area or an App Key replaces the app, which deletes its users and messages.",
                ),
                attributes: map! {
                    "id" => computed(text.clone(), "The prod App Key."),
                    "name" => required(text.clone(), "Display name, 1 to 64 characters."),
                    "home_area" => optional_computed(
                        text.clone(),
                        "The area the app lives in: CN, SG, SG-B, NA or SA. When set, creating fails unless the provider's endpoint serves that area.",
                    ),
                    "dev_app_key" => optional_computed(text.clone(), "App Key of the dev environment; generated unless given (an app moving in keeps its keys)."),
                    "dev_app_secret" => sensitive(optional_computed(text.clone(), "App Secret of the dev environment; generated unless given with dev_app_key.")),
                    "prod_app_key" => optional_computed(text.clone(), "App Key of the prod environment; generated unless given."),
                    "prod_app_secret" => sensitive(optional_computed(text, "App Secret of the prod environment; generated unless given with prod_app_key.")),
                    "secret_overlap_seconds" => optional(AttributeType::Number, "When a configured App Secret changes, it is rotated in place and the old one stays valid this long (default 86400, at most 30 days)."),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: AppState) -> Option<()> {
        check(diags, "name", &config.name, check_name);
        check(diags, "home_area", &config.home_area, check_area_code);
        check(
            diags,
            "secret_overlap_seconds",
            &config.secret_overlap_seconds,
            |seconds: &i64| match (0..=30 * 86_400).contains(seconds) {
                true => Ok(()),
                false => Err("must be 0 to 2592000 seconds (30 days)".into()),
            },
        );
        for [(key_name, key), (secret_name, secret)] in config.credentials() {
            check(diags, key_name, key, check_credential);
            check(diags, secret_name, secret, check_credential);
            if key.is_null() != secret.is_null() {
                diags.error(
                    format!("{key_name} and {secret_name} go together"),
                    "Give both to keep existing credentials, or neither to have them generated.",
                    AttributePath::new(secret_name),
                );
            }
        }
        if let (Value::Value(dev), Value::Value(prod)) = (&config.dev_app_key, &config.prod_app_key)
        {
            if dev == prod {
                diags.error_short(
                    "dev_app_key must differ from prod_app_key",
                    AttributePath::new("dev_app_key"),
                );
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AppState,
        private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        let path = format!("/admin/v1/apps/{}", text(&state.id));
        match admin.get(&path).await {
            Ok(answer) => {
                let read = parse_app(diags, &answer).map(|read| AppState {
                    secret_overlap_seconds: state.secret_overlap_seconds,
                    ..read
                });
                Some((read.unwrap_or(state), private_state))
            }
            // Deleted outside Terraform: gone from the state, planned for creation again.
            Err(error) if error.is_not_found() => None,
            Err(error) => {
                report(diags, "read the app", error);
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed_state: AppState,
        config_state: AppState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppState, ValueEmpty)> {
        let planned = AppState {
            id: Value::Unknown,
            name: proposed_state.name,
            home_area: or_unknown(config_state.home_area),
            dev_app_key: or_unknown(config_state.dev_app_key),
            dev_app_secret: or_unknown(config_state.dev_app_secret),
            prod_app_key: or_unknown(config_state.prod_app_key),
            prod_app_secret: or_unknown(config_state.prod_app_secret),
            secret_overlap_seconds: config_state.secret_overlap_seconds,
        };
        Some((planned, Default::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior_state: AppState,
        proposed_state: AppState,
        _config_state: AppState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppState, ValueEmpty, Vec<AttributePath>)> {
        let replace = proposed_state
            .replaced_on_change()
            .into_iter()
            .zip(prior_state.replaced_on_change())
            .filter(|((_, proposed), (_, prior))| proposed != prior)
            .map(|((name, _), _)| AttributePath::new(name))
            .collect();
        Some((proposed_state, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: AppState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(prior_private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: AppState,
        _config_state: AppState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        if let Value::Value(wanted) = &planned_state.home_area {
            let served = served_area(&admin, diags).await?;
            if &served != wanted {
                diags.error(
                    "The provider's endpoint serves another area",
                    format!("home_area is {wanted} but the admin API at this endpoint serves {served}: point the provider at {wanted}'s admin API."),
                    AttributePath::new("home_area"),
                );
                return None;
            }
        }
        let mut body = json!({ "name": text(&planned_state.name) });
        if let Some(dev) =
            brought_credentials(&planned_state.dev_app_key, &planned_state.dev_app_secret)
        {
            body["dev"] = dev;
        }
        if let Some(prod) =
            brought_credentials(&planned_state.prod_app_key, &planned_state.prod_app_secret)
        {
            body["prod"] = prod;
        }
        match admin.post("/admin/v1/apps", &body).await {
            Ok(answer) => {
                let created = AppState {
                    secret_overlap_seconds: planned_state.secret_overlap_seconds,
                    ..parse_app(diags, &answer)?
                };
                Some((created, planned_private_state))
            }
            Err(error) => {
                report(diags, "create the app", error);
                None
            }
        }
    }

    /// Rotates each environment's secret the configuration changed (the only in-place
    /// change besides the overlap itself).
    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: AppState,
        planned_state: AppState,
        _config_state: AppState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        for ([(_, key), (name, planned)], [_, (_, prior)]) in planned_state
            .credentials()
            .into_iter()
            .zip(prior_state.credentials())
        {
            let Value::Value(new_secret) = planned else {
                continue;
            };
            if planned == prior {
                continue;
            }
            let body = json!({
                "newSecret": new_secret,
                "overlapSeconds": planned_state.overlap_seconds(),
            });
            let path = format!("/admin/v1/apps/{}/secret", text(key));
            if let Err(error) = admin.post(&path, &body).await {
                report(diags, &format!("rotate {name}"), error);
                return None;
            }
        }
        Some((planned_state, planned_private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: AppState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<()> {
        let admin = self.connection.client(diags)?;
        let path = format!("/admin/v1/apps/{}", text(&prior_state.id));
        match admin.delete(&path).await {
            Ok(_) => Some(()),
            Err(error) if error.is_not_found() => Some(()),
            Err(error) => {
                report(diags, "delete the app", error);
                None
            }
        }
    }

    /// `terraform import meridian_app.NAME <App Key>` (either environment's key).
    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(AppState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        match admin.get(&format!("/admin/v1/apps/{id}")).await {
            Ok(answer) => Some((parse_app(diags, &answer)?, Default::default())),
            Err(error) => {
                report(diags, &format!("import app {id}"), error);
                None
            }
        }
    }
}
