//! Mixing and CDN push of audio/video rooms (RTC-09). The app server orders a room mixed
//! (`/rtc/mix/start.json`): the area's media servers compose the video published there
//! onto one canvas in the order's layout, mix its audio, and push the result over RTMP
//! to the order's CDN URLs. Starting again changes the layout or the URLs of a running
//! mix. An order lasts until stopped or until the room ends.

use serde::{Deserialize, Serialize};

use super::super::apply::{Apply, ApplyContext, CommandError};
use super::super::apps;
use super::super::apps::MAX_URL_CHARS;
use super::super::keys::rtc as keys;
use super::super::store::{Overlay, StateRead};
use super::live_session;
use super::media::MAX_VIDEO_HOSTS;

/// The largest canvas (1080p).
pub const MAX_CANVAS: (u32, u32) = (1920, 1080);
/// The smallest canvas side.
pub const MIN_CANVAS_SIDE: u32 = 16;
pub const MAX_FPS: u32 = 30;
/// The video bitrate of the mixed stream, in kbit/s.
pub const BITRATE_KBPS: (u32, u32) = (100, 8_000);
/// CDN URLs one mix is pushed to.
pub const MAX_PUSH_URLS: usize = 3;

/// How the room's videos share the canvas (the seed's three layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LayoutKind {
    /// Each video where the order's regions put it.
    Custom,
    /// The main video fills the canvas; the others float over it, small, one above the
    /// other along its right edge.
    Floating,
    /// Every video the same size, in a grid that splits the canvas evenly.
    Adaptive,
}

/// Where a custom layout draws one member's video, in canvas pixels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MixRegion {
    pub user_id: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// What the app server asks of a mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MixSettings {
    pub layout: LayoutKind,
    #[serde(default = "default_width")]
    pub width: u32,
    #[serde(default = "default_height")]
    pub height: u32,
    #[serde(default = "default_fps")]
    pub fps: u32,
    #[serde(default = "default_bitrate")]
    pub bitrate_kbps: u32,
    /// `rtmp://` or `rtmps://` URLs, stream key included.
    pub push_urls: Vec<String>,
    /// The floating layout's full-canvas video: this member's (the earliest publisher's
    /// when absent or not publishing).
    #[serde(default)]
    pub main_user_id: Option<String>,
    /// The custom layout's regions; members without one are not drawn (but heard).
    #[serde(default)]
    pub regions: Vec<MixRegion>,
}

fn default_width() -> u32 {
    1280
}
fn default_height() -> u32 {
    720
}
fn default_fps() -> u32 {
    25
}
fn default_bitrate() -> u32 {
    1_500
}

/// A room the app server asked to mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MixOrder {
    pub app_key: String,
    pub room_id: String,
    /// The room's lifetime the order belongs to.
    pub session_id: String,
    pub started_ms: u64,
    pub settings: MixSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeMix {
    pub app_key: String,
    pub room_id: String,
    pub change: MixChange,
}

/// Variants are appended, never reordered (bincode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MixChange {
    /// Mixes the room from now on with these settings; a mixed room takes the new ones.
    Start(Box<MixSettings>),
    /// The mix ends; a room not mixed stays so.
    Stop,
}

impl MixSettings {
    /// Every limit of RTC-09; the first broken one is the error.
    pub fn validate(&self) -> Result<(), CommandError> {
        let (max_width, max_height) = MAX_CANVAS;
        let side = |field: &str, value: u32, max: u32| {
            if !(MIN_CANVAS_SIDE..=max).contains(&value) || value % 2 == 1 {
                return Err(CommandError::invalid(
                    field,
                    format!("must be an even number of pixels from {MIN_CANVAS_SIDE} to {max}"),
                ));
            }
            Ok(())
        };
        side("width", self.width, max_width)?;
        side("height", self.height, max_height)?;
        if !(1..=MAX_FPS).contains(&self.fps) {
            return Err(CommandError::invalid(
                "fps",
                format!("must be from 1 to {MAX_FPS}"),
            ));
        }
        let (low, high) = BITRATE_KBPS;
        if !(low..=high).contains(&self.bitrate_kbps) {
            return Err(CommandError::invalid(
                "bitrateKbps",
                format!("must be from {low} to {high}"),
            ));
        }
        if self.push_urls.is_empty() || self.push_urls.len() > MAX_PUSH_URLS {
            return Err(CommandError::invalid(
                "pushUrls",
                format!("must list 1 to {MAX_PUSH_URLS} URLs"),
            ));
        }
        for url in &self.push_urls {
            validate_push_url(url)?;
        }
        self.validate_regions()
    }

    fn validate_regions(&self) -> Result<(), CommandError> {
        let custom = self.layout == LayoutKind::Custom;
        if custom && self.regions.is_empty() {
            return Err(CommandError::invalid(
                "regions",
                "the custom layout needs at least one region",
            ));
        }
        if !custom && !self.regions.is_empty() {
            return Err(CommandError::invalid(
                "regions",
                "only the custom layout takes regions",
            ));
        }
        if self.regions.len() as u64 > MAX_VIDEO_HOSTS {
            return Err(CommandError::invalid(
                "regions",
                format!("at most {MAX_VIDEO_HOSTS} (a room's video hosts)"),
            ));
        }
        for (i, region) in self.regions.iter().enumerate() {
            super::super::users::validate_user_id(&region.user_id)?;
            let inside = region.width >= 2
                && region.height >= 2
                && region.x + region.width <= self.width
                && region.y + region.height <= self.height;
            if !inside {
                return Err(CommandError::invalid(
                    &format!("regions[{i}]"),
                    "must be at least 2×2 pixels and inside the canvas",
                ));
            }
            if self.regions[..i]
                .iter()
                .any(|r| r.user_id == region.user_id)
            {
                return Err(CommandError::invalid(
                    &format!("regions[{i}]"),
                    "names a member another region already places",
                ));
            }
        }
        Ok(())
    }
}

fn validate_push_url(url: &str) -> Result<(), CommandError> {
    let parsed = url.parse::<http::Uri>().ok();
    let valid = url.len() <= MAX_URL_CHARS
        && parsed.is_some_and(|uri| {
            matches!(uri.scheme_str(), Some("rtmp" | "rtmps"))
                && uri.host().is_some_and(|host| !host.is_empty())
                && uri.path().len() > 1
        });
    if valid {
        Ok(())
    } else {
        Err(CommandError::invalid(
            "pushUrls",
            format!(
                "each must be an rtmp:// or rtmps:// URL with a host and a path, at most {MAX_URL_CHARS} characters"
            ),
        ))
    }
}

impl Apply for ChangeMix {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            change,
        } = self;
        apps::by_key(state, app_key)?;
        match change {
            MixChange::Start(settings) => {
                settings.validate()?;
                let session_id = live_session(state, app_key, room_id)?;
                let key = keys::mixing(app_key, room_id);
                let started_ms = state
                    .get::<MixOrder>(&key)?
                    .map_or(ctx.now_ms, |order| order.started_ms);
                let order = MixOrder {
                    app_key: app_key.clone(),
                    room_id: room_id.clone(),
                    session_id,
                    started_ms,
                    settings: (**settings).clone(),
                };
                Ok(state.put(key, &order)?)
            }
            MixChange::Stop => {
                state.delete(keys::mixing(app_key, room_id));
                Ok(())
            }
        }
    }
}

/// The room ended: its mix ends with it.
pub(super) fn room_ended(state: &mut Overlay<'_>, app_key: &str, room_id: &str) {
    state.delete(keys::mixing(app_key, room_id));
}

/// Every room of the area being mixed.
pub fn orders(state: &impl StateRead) -> Result<Vec<MixOrder>, CommandError> {
    Ok(state.scan(keys::MIXING)?)
}
