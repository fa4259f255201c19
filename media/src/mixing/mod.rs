//! Mixing and CDN push (RTC-09). The app server orders a room mixed
//! (`/rtc/mix/start.json`); while the order stands, this media server composes the videos
//! published in the room onto one canvas in the order's layout, mixes their audio, encodes
//! the result (H.264 and AAC in FLV) and pushes it over RTMP to the order's CDN URLs, all
//! in a GStreamer pipeline per room. Publishers' frames enter it as they arrive (decoded
//! there, never here); a black, silent canvas keeps the push going while nobody
//! publishes. A pipeline that fails (a CDN refusing the push) is built again after
//! [`RETRY_AFTER`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSrc;
use meridian_cluster::state::rtc::{MixOrder, MixSettings};
use meridian_cluster::state::{Query, QueryOutput};
use meridian_cluster::{ClusterClient, ClusterError};
use str0m::format::Codec;
use str0m::media::MediaData;
use tokio::time::Instant;

use crate::metrics::MediaMetrics;
use crate::sfu::Member;

mod layout;

/// How long a failed mix waits before its pipeline is built again.
const RETRY_AFTER: Duration = Duration::from_secs(3);
/// How long the compositor and the audio mixer wait for a late input, in nanoseconds.
const MIXER_LATENCY_NS: u64 = 200_000_000;
/// What an input may hold queued before its oldest frames are dropped.
const INPUT_QUEUE_BYTES: u64 = 4 * 1024 * 1024;
const AUDIO_BITRATE: i32 = 128_000;
/// Every element a mix needs, checked once at start.
const ELEMENTS: &[&str] = &[
    "appsrc",
    "compositor",
    "audiomixer",
    "videotestsrc",
    "audiotestsrc",
    "videoconvert",
    "audioconvert",
    "audioresample",
    "x264enc",
    "h264parse",
    "voaacenc",
    "aacparse",
    "flvmux",
    "tee",
    "queue",
    "rtmp2sink",
    "vp8dec",
    "vp9dec",
    "avdec_h264",
    "opusdec",
];

/// The rooms the area mixes now, by app and room.
#[derive(Default)]
pub(crate) struct MixOrders(HashMap<(String, String), MixOrder>);

impl MixOrders {
    pub(crate) async fn read(cluster: &ClusterClient) -> Result<Self, ClusterError> {
        let QueryOutput::RtcMixes(list) = cluster.read(Query::RtcMixes).await? else {
            return Err(ClusterError::Protocol(
                "unexpected answer to RtcMixes".into(),
            ));
        };
        Ok(Self(
            list.into_iter()
                .map(|order| ((order.app_key.clone(), order.room_id.clone()), order))
                .collect(),
        ))
    }
}

/// Whether this machine's GStreamer has what mixing needs; the reason when not.
pub(crate) fn available() -> Result<(), String> {
    gst::init().map_err(|e| format!("GStreamer: {e}"))?;
    let missing: Vec<&str> = ELEMENTS
        .iter()
        .copied()
        .filter(|name| gst::ElementFactory::find(name).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "GStreamer elements missing: {}",
            missing.join(", ")
        ))
    }
}

/// Every mix this media server runs.
pub(crate) struct Mixing {
    mixes: HashMap<(String, String), Mix>,
    metrics: MediaMetrics,
}

impl Mixing {
    pub(crate) fn new(metrics: MediaMetrics) -> Self {
        Self {
            mixes: HashMap::new(),
            metrics,
        }
    }

    /// Follows the area's orders: starts, changes and ends mixes; a failed pipeline is
    /// built again once it has waited.
    pub(crate) fn follow(&mut self, orders: MixOrders) {
        self.mixes.retain(|room, _| orders.0.contains_key(room));
        for (room, order) in orders.0 {
            let mix = self.mixes.entry(room).or_insert_with(|| Mix {
                settings: order.settings.clone(),
                running: None,
                failed_at: None,
            });
            mix.settings = order.settings;
            if let Some(running) = &mut mix.running {
                if let Some(error) = running.error() {
                    tracing::warn!(room = %order.room_id, %error, "mix failed");
                    self.metrics.mix_failures.inc();
                    mix.running = None;
                    mix.failed_at = Some(Instant::now());
                } else if running.output != Output::of(&mix.settings) {
                    // A new canvas or new URLs: a new pipeline.
                    mix.running = None;
                } else {
                    running.arrange(&mix.settings);
                }
            }
            let waited = mix.failed_at.is_none_or(|at| at.elapsed() >= RETRY_AFTER);
            if mix.running.is_none() && waited {
                match Pipeline::build(&mix.settings) {
                    Ok(pipeline) => mix.running = Some(pipeline),
                    Err(error) => {
                        tracing::warn!(room = %order.room_id, %error, "mix not started");
                        self.metrics.mix_failures.inc();
                        mix.failed_at = Some(Instant::now());
                    }
                }
            }
        }
        self.metrics.mixes.set(self.mixes.len() as i64);
    }

    /// Feeds a frame of `publisher`'s (whose member is `member`) to its room's mix;
    /// answers whether its video input there still waits for a keyframe to start from
    /// (asked for with every frame until it comes; the publisher's rate limit spaces them).
    pub(crate) fn push(&mut self, publisher: u64, member: &Member, data: &MediaData) -> bool {
        // Every forwarded frame comes here: without any mix, no key is built for it.
        if self.mixes.is_empty() {
            return false;
        }
        let room = (member.app_key.clone(), member.room_id.clone());
        let Some(mix) = self.mixes.get_mut(&room) else {
            return false;
        };
        let Some(running) = &mut mix.running else {
            return false;
        };
        let fed = running.push(publisher, &member.user_id, data);
        if fed.opened {
            running.arrange(&mix.settings);
        }
        fed.awaits_keyframe
    }

    /// The publisher's transport closed: its inputs leave its room's mix.
    pub(crate) fn remove(&mut self, publisher: u64, member: &Member) {
        let room = (member.app_key.clone(), member.room_id.clone());
        if let Some(mix) = self.mixes.get_mut(&room) {
            if let Some(running) = &mut mix.running {
                if running.remove(publisher) {
                    running.arrange(&mix.settings);
                }
            }
        }
    }
}

/// One room's mix: what is asked, and the pipeline doing it.
struct Mix {
    settings: MixSettings,
    running: Option<Pipeline>,
    failed_at: Option<Instant>,
}

/// What a pipeline's output depends on: changing any of it builds a new pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Output {
    width: u32,
    height: u32,
    fps: u32,
    bitrate_kbps: u32,
    push_urls: Vec<String>,
}

impl Output {
    fn of(settings: &MixSettings) -> Self {
        Self {
            width: settings.width,
            height: settings.height,
            fps: settings.fps,
            bitrate_kbps: settings.bitrate_kbps,
            push_urls: settings.push_urls.clone(),
        }
    }
}

/// One publisher's track entering the mix: its source, the elements decoding it, and
/// the mixer pad it is drawn or heard through.
struct Input {
    user_id: String,
    video: bool,
    /// Set at the decoder's first picture. Until then the input waits for a keyframe: the
    /// one asked for may have been lost, or dropped by the full queue of a pipeline that
    /// is still connecting to its CDN.
    decoding: Arc<AtomicBool>,
    source: AppSrc,
    elements: Vec<gst::Element>,
    mixer_pad: gst::Pad,
}

/// What feeding a frame did to its input.
struct Fed {
    opened: bool,
    awaits_keyframe: bool,
}

struct Pipeline {
    pipeline: gst::Pipeline,
    video_mixer: gst::Element,
    audio_mixer: gst::Element,
    output: Output,
    /// By publisher transport (earliest publisher first) and kind (video is `true`).
    inputs: BTreeMap<(u64, bool), Input>,
}

impl Drop for Pipeline {
    /// Stopping waits for the pipeline's streaming threads (7–10 ms when a push failed),
    /// so, like starting, it is not done on the caller's thread: that is the forwarding
    /// thread, and every room's media would wait. A replacement pushing to the same CDN
    /// may connect before this one has left; a CDN that refuses a second publisher fails
    /// it once, and it is built again after [`RETRY_AFTER`].
    fn drop(&mut self) {
        self.pipeline.call_async(|pipeline| {
            let _ = pipeline.set_state(gst::State::Null);
        });
    }
}

fn element(factory: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|e| format!("{factory}: {e}"))
}

impl Pipeline {
    fn build(settings: &MixSettings) -> Result<Self, String> {
        let output = Output::of(settings);
        let Output {
            width,
            height,
            fps,
            bitrate_kbps,
            ..
        } = output.clone();
        let canvas = format!("video/x-raw,width={width},height={height},framerate={fps}/1");
        // The fixed part: canvas and silence, encoders, the FLV muxer and its tee. The
        // CDN URLs are set as properties below, never parsed as part of a description.
        let description = format!(
            "compositor name=video background=black ignore-inactive-pads=true \
               latency={MIXER_LATENCY_NS} ! {canvas} ! videoconvert ! \
             x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate_kbps} \
               key-int-max={keyframes} ! h264parse ! queue ! \
             flvmux name=mux streamable=true ! tee name=out \
             videotestsrc is-live=true pattern=black ! {canvas} ! video. \
             audiomixer name=audio ignore-inactive-pads=true latency={MIXER_LATENCY_NS} ! \
               audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! \
             voaacenc bitrate={AUDIO_BITRATE} ! aacparse ! queue ! mux. \
             audiotestsrc is-live=true wave=silence ! audio.",
            keyframes = fps * 2,
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| format!("pipeline: {e}"))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "pipeline: not a pipeline".to_string())?;
        let by_name = |name: &str| {
            pipeline
                .by_name(name)
                .ok_or_else(|| format!("pipeline: no {name}"))
        };
        let (video_mixer, audio_mixer, tee) =
            (by_name("video")?, by_name("audio")?, by_name("out")?);
        for url in &output.push_urls {
            let queue = element("queue")?;
            let sink = element("rtmp2sink")?;
            sink.set_property("location", url);
            pipeline
                .add_many([&queue, &sink])
                .map_err(|e| e.to_string())?;
            gst::Element::link_many([&tee, &queue, &sink]).map_err(|e| e.to_string())?;
        }
        // Connecting to the CDN may take a while: not on the caller's thread.
        pipeline.call_async(|pipeline| {
            if let Err(e) = pipeline.set_state(gst::State::Playing) {
                tracing::warn!(error = %e, "mix pipeline did not start");
            }
        });
        Ok(Self {
            pipeline,
            video_mixer,
            audio_mixer,
            output,
            inputs: BTreeMap::new(),
        })
    }

    /// The first error the pipeline reported, if any.
    fn error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        let message = bus.pop_filtered(&[gst::MessageType::Error])?;
        match message.view() {
            gst::MessageView::Error(error) => Some(format!(
                "{} ({})",
                error.error(),
                error.debug().unwrap_or_default()
            )),
            _ => None,
        }
    }

    /// Feeds the frame to its input, opening the input at the track's first frame.
    fn push(&mut self, publisher: u64, user_id: &str, data: &MediaData) -> Fed {
        let video = !data.params.spec().codec.is_audio();
        let mut opened = false;
        if !self.inputs.contains_key(&(publisher, video)) {
            match self.open(user_id, video, data.params.spec().codec) {
                Ok(input) => {
                    self.inputs.insert((publisher, video), input);
                    opened = true;
                }
                Err(error) => {
                    tracing::debug!(%error, user = user_id, "track not mixed");
                    return Fed {
                        opened,
                        awaits_keyframe: false,
                    };
                }
            }
        }
        let input = self
            .inputs
            .get_mut(&(publisher, video))
            .expect("opened above if it was not");
        // Leaky: a full queue drops its oldest frames rather than refuse this one.
        let _ = input
            .source
            .push_buffer(gst::Buffer::from_slice(data.data.clone()));
        Fed {
            opened,
            awaits_keyframe: !input.decoding.load(Ordering::Relaxed),
        }
    }

    fn open(&self, user_id: &str, video: bool, codec: Codec) -> Result<Input, String> {
        let (caps, decode): (gst::Caps, &[&str]) = match codec {
            Codec::Vp8 => (gst::Caps::builder("video/x-vp8").build(), &["vp8dec"]),
            Codec::Vp9 => (gst::Caps::builder("video/x-vp9").build(), &["vp9dec"]),
            Codec::H264 => (
                gst::Caps::builder("video/x-h264")
                    .field("stream-format", "byte-stream")
                    .field("alignment", "au")
                    .build(),
                &["h264parse", "avdec_h264"],
            ),
            Codec::Opus => (
                gst::Caps::builder("audio/x-opus")
                    .field("channel-mapping-family", 0i32)
                    .field("rate", 48_000i32)
                    .field("channels", 2i32)
                    .build(),
                &["opusdec"],
            ),
            other => return Err(format!("{other:?} is not mixed")),
        };
        let source = AppSrc::builder()
            .caps(&caps)
            .is_live(true)
            .format(gst::Format::Time)
            .do_timestamp(true)
            .max_bytes(INPUT_QUEUE_BYTES)
            .build();
        source.set_property_from_str("leaky-type", "downstream");
        let convert: &[&str] = if video {
            &["videoconvert", "queue"]
        } else {
            &["audioconvert", "audioresample", "queue"]
        };
        let mut elements = vec![source.clone().upcast::<gst::Element>()];
        for factory in decode.iter().chain(convert) {
            elements.push(element(factory)?);
        }
        let decoding = Arc::new(AtomicBool::new(!video));
        if video {
            let decoded = decoding.clone();
            elements[decode.len()]
                .static_pad("src")
                .ok_or("no decoder src pad")?
                .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                    decoded.store(true, Ordering::Relaxed);
                    gst::PadProbeReturn::Remove
                });
        }
        self.pipeline
            .add_many(&elements)
            .map_err(|e| e.to_string())?;
        gst::Element::link_many(&elements).map_err(|e| e.to_string())?;
        let mixer = if video {
            &self.video_mixer
        } else {
            &self.audio_mixer
        };
        let mixer_pad = mixer
            .request_pad_simple("sink_%u")
            .ok_or("the mixer has no pad to give")?;
        if video {
            mixer_pad.set_property_from_str("sizing-policy", "keep-aspect-ratio");
            // Hidden until arranged.
            mixer_pad.set_property("alpha", 0.0f64);
        }
        let last = elements.last().expect("a source at least");
        last.static_pad("src")
            .ok_or("no src pad")?
            .link(&mixer_pad)
            .map_err(|e| e.to_string())?;
        for element in &elements {
            element
                .sync_state_with_parent()
                .map_err(|e| e.to_string())?;
        }
        Ok(Input {
            user_id: user_id.to_string(),
            video,
            decoding,
            source,
            elements,
            mixer_pad,
        })
    }

    /// Takes the publisher's inputs out; answers whether it had any.
    fn remove(&mut self, publisher: u64) -> bool {
        let mut removed = false;
        for video in [true, false] {
            let Some(input) = self.inputs.remove(&(publisher, video)) else {
                continue;
            };
            removed = true;
            let mixer = if input.video {
                &self.video_mixer
            } else {
                &self.audio_mixer
            };
            if let Some(peer) = input.mixer_pad.peer() {
                let _ = peer.unlink(&input.mixer_pad);
            }
            mixer.release_request_pad(&input.mixer_pad);
            for element in &input.elements {
                let _ = element.set_state(gst::State::Null);
            }
            let _ = self.pipeline.remove_many(&input.elements);
        }
        removed
    }

    /// Places every video input where the layout says (hiding those it does not draw).
    fn arrange(&self, settings: &MixSettings) {
        let videos: Vec<&Input> = self.inputs.values().filter(|i| i.video).collect();
        let users: Vec<&str> = videos.iter().map(|i| i.user_id.as_str()).collect();
        for (input, place) in videos.iter().zip(layout::place(settings, &users)) {
            let pad = &input.mixer_pad;
            match place {
                Some(place) => {
                    pad.set_property("xpos", place.x);
                    pad.set_property("ypos", place.y);
                    pad.set_property("width", place.width);
                    pad.set_property("height", place.height);
                    pad.set_property("zorder", place.layer);
                    pad.set_property("alpha", 1.0f64);
                }
                None => pad.set_property("alpha", 0.0f64),
            }
        }
    }
}
