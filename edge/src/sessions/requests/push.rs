//! A device registers where its pushes go (PUSH-01) while it is offline, reports the
//! notifications its user tapped (PUSH-09), and sets the language of its user's push
//! templates (PUSH-07).

use meridian_cluster::state::push_templates::SetPushLanguage;
use meridian_cluster::state::{push, Command, DeviceToken, PushProvider, RegisterPushToken};
use meridian_proto::ServerFrame;

use super::{Context, SessionError};

fn parse_provider(name: &str) -> Result<PushProvider, SessionError> {
    PushProvider::parse(name).ok_or_else(|| {
        SessionError::invalid("provider must be apns, apns_voip, fcm, webhook or a vendor's")
    })
}

pub(super) async fn register(
    cx: &Context<'_>,
    req_id: u64,
    provider: &str,
    token: String,
    app_id: String,
) -> Result<ServerFrame, SessionError> {
    let provider = parse_provider(provider)?;
    let device_id = cx.handle.device_id.clone();
    let device = DeviceToken {
        // A PushKit token is kept beside the device's notification token.
        device_id: match provider {
            PushProvider::ApnsVoip => push::voip_device_id(&device_id),
            _ => device_id,
        },
        provider,
        token,
        app_id,
    };
    let command = Command::RegisterPushToken(RegisterPushToken {
        app_key: cx.app_key(),
        user_id: cx.user_id(),
        device,
    });
    cx.write(command, None).await?;
    Ok(ServerFrame::Done { req_id })
}

/// Counted by the edge and sent to the app's usage with its next flush.
pub(super) fn clicked(
    cx: &Context<'_>,
    req_id: u64,
    provider_name: &str,
) -> Result<ServerFrame, SessionError> {
    let provider = parse_provider(provider_name)?;
    cx.shared
        .usage
        .push_clicked(cx.identity.area, &cx.identity.app_key, provider.name());
    Ok(ServerFrame::Done { req_id })
}

pub(super) async fn set_language(
    cx: &Context<'_>,
    req_id: u64,
    language: String,
) -> Result<ServerFrame, SessionError> {
    let command = Command::SetPushLanguage(SetPushLanguage {
        app_key: cx.app_key(),
        user_id: cx.user_id(),
        language: Some(language).filter(|l| !l.is_empty()),
    });
    cx.write(command, None).await?;
    Ok(ServerFrame::Done { req_id })
}
