//! The admin API's per-app push settings: vendor channels (`…/push-vendors`, PUSH-05),
//! the push style (`…/push-style`, PUSH-07, PUSH-08), the ultra-group pace
//! (`…/ultra-group-push`, ULG-06), the push rate cap (`…/push-rate`, PUSH-01) and the
//! push templates (`…/push-templates/{templateId}`, PUSH-07). Each is a record of its
//! own, replaced whole by a PUT.

use serde_json::{json, Value};

use super::AdminApi;
use crate::client::ClusterError;
use crate::state::push_style::{
    PushRate, PushStyle, SetPushRate, SetPushStyle, SetUltraGroupPushPace, UltraGroupPushPace,
};
use crate::state::push_templates::{PushTemplate, SetPushTemplate};
use crate::state::vendor_push::{SetVendorPush, VendorPush};
use crate::state::{Command, Query, QueryOutput};

impl AdminApi {
    /// The vendor push channels, secrets redacted.
    pub(super) async fn get_push_vendors(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::VendorPush {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::VendorPush(vendors) => Ok(json!({ "pushVendors": vendors.redacted() })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Replaces the vendor push channels whole.
    pub(super) async fn put_push_vendors(
        &self,
        key: &str,
        vendors: VendorPush,
    ) -> Result<Value, ClusterError> {
        let shown = vendors.redacted();
        let command = Command::SetVendorPush(SetVendorPush {
            app_key: key.to_string(),
            vendors,
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "pushVendors": shown }))
    }

    pub(super) async fn get_push_style(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::PushStyle {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::PushStyle(style) => Ok(json!({ "pushStyle": style })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Replaces the push sound and quiet hours whole.
    pub(super) async fn put_push_style(
        &self,
        key: &str,
        style: PushStyle,
    ) -> Result<Value, ClusterError> {
        let command = Command::SetPushStyle(SetPushStyle {
            app_key: key.to_string(),
            style: style.clone(),
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "pushStyle": style }))
    }

    pub(super) async fn get_ultra_group_push(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::UltraGroupPushPace {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::UltraGroupPushPace(pace) => Ok(json!({ "ultraGroupPush": pace })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    pub(super) async fn put_ultra_group_push(
        &self,
        key: &str,
        pace: UltraGroupPushPace,
    ) -> Result<Value, ClusterError> {
        let command = Command::SetUltraGroupPushPace(SetUltraGroupPushPace {
            app_key: key.to_string(),
            pace,
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "ultraGroupPush": pace }))
    }

    pub(super) async fn get_push_rate(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::PushRate {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::PushRate(rate) => Ok(json!({ "pushRate": rate })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    pub(super) async fn put_push_rate(
        &self,
        key: &str,
        rate: PushRate,
    ) -> Result<Value, ClusterError> {
        let command = Command::SetPushRate(SetPushRate {
            app_key: key.to_string(),
            rate,
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "pushRate": rate }))
    }

    pub(super) async fn get_push_templates(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::PushTemplates {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::PushTemplates(templates) => Ok(json!({ "pushTemplates": templates })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Puts (`Some`) or removes (`None`) one template.
    pub(super) async fn set_push_template(
        &self,
        key: &str,
        template_id: &str,
        template: Option<PushTemplate>,
    ) -> Result<Value, ClusterError> {
        let command = Command::SetPushTemplate(SetPushTemplate {
            app_key: key.to_string(),
            template_id: template_id.to_string(),
            template: template.clone(),
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "templateId": template_id, "pushTemplate": template }))
    }
}
