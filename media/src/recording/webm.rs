//! One recorded stream's file: VP8 video and Opus audio frames as the publisher sent
//! them, muxed into WebM by libwebm (no transcoding). Runs on a blocking thread of its
//! own; the forwarding task hands it frames through a bounded queue.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use webm::mux::{
    AudioCodecId, AudioTrack, Segment, SegmentBuilder, VideoCodecId, VideoTrack, Writer,
};

/// Opus in WebM: always 48 kHz, stereo as WebRTC negotiates it.
const OPUS_RATE: u32 = 48_000;
const OPUS_CHANNELS: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Track {
    Audio,
    Video,
}

/// A frame as the publisher sent it.
pub(crate) struct Frame {
    pub track: Track,
    pub data: Arc<[u8]>,
    /// Its RTP time in units of `clock` per second (str0m extends it past wraps).
    pub rtp_time: u64,
    pub clock: u64,
    pub arrived: Instant,
}

/// What was written, once the stream ended.
#[derive(Debug)]
pub(crate) struct Written {
    pub path: PathBuf,
    pub size: u64,
    /// When the first frame arrived, and how long the recording lasts.
    pub started: Instant,
    pub duration: Duration,
    pub tracks: Vec<String>,
}

/// Where each track's clock starts: its first frame's RTP time, placed at its arrival.
#[derive(Clone, Copy)]
struct Origin {
    rtp_time: u64,
    offset_ns: u64,
}

struct Open {
    segment: Segment<BufWriter<File>>,
    video: Option<VideoTrack>,
    audio: AudioTrack,
    started: Instant,
    origins: [Option<Origin>; 2],
    last_ns: u64,
}

/// Writes `frames` to `path` until the queue closes. With `has_video`, the file starts at
/// the first VP8 keyframe (it carries the picture size the file's header needs, and a
/// player can start there); audio before it is dropped so both tracks start together.
pub(crate) fn write(
    path: PathBuf,
    has_video: bool,
    frames: Receiver<Frame>,
) -> std::io::Result<Option<Written>> {
    let mut open: Option<Open> = None;
    for frame in frames {
        if open.is_none() {
            let size = match frame.track {
                Track::Video => keyframe_size(&frame.data),
                Track::Audio => None,
            };
            let starts = match frame.track {
                Track::Video => size.is_some(),
                Track::Audio => !has_video,
            };
            if !starts {
                continue;
            }
            open = Some(start(&path, size, frame.arrived)?);
        }
        if let Some(open) = &mut open {
            open.add(&frame)?;
        }
    }
    let Some(open) = open else {
        return Ok(None);
    };
    let started = open.started;
    let duration = Duration::from_nanos(open.last_ns);
    let tracks = [open.video.map(|_| "VP8"), Some("opus")]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect();
    open.segment
        .finalize(None)
        .map_err(|_| std::io::Error::other("libwebm could not finalize the file"))?;
    let size = std::fs::metadata(&path)?.len();
    Ok(Some(Written {
        path,
        size,
        started,
        duration,
        tracks,
    }))
}

fn start(
    path: &PathBuf,
    video_size: Option<(u32, u32)>,
    started: Instant,
) -> std::io::Result<Open> {
    let muxer = |e: webm::mux::Error| std::io::Error::other(format!("libwebm: {e:?}"));
    let file = BufWriter::new(File::create(path)?);
    let mut builder = SegmentBuilder::new(Writer::new(file)).map_err(muxer)?;
    let mut video = None;
    if let Some((width, height)) = video_size {
        let (next, track) = builder
            .add_video_track(width, height, VideoCodecId::VP8, None)
            .map_err(muxer)?;
        builder = next;
        video = Some(track);
    }
    let (builder, audio) = builder
        .add_audio_track(
            OPUS_RATE,
            u32::from(OPUS_CHANNELS),
            AudioCodecId::Opus,
            None,
        )
        .map_err(muxer)?;
    let builder = builder
        .set_codec_private(audio, &opus_head())
        .map_err(muxer)?;
    Ok(Open {
        segment: builder.build(),
        video,
        audio,
        started,
        origins: [None, None],
        last_ns: 0,
    })
}

impl Open {
    fn add(&mut self, frame: &Frame) -> std::io::Result<()> {
        let (slot, track_num, keyframe) = match (frame.track, self.video) {
            (Track::Video, Some(video)) => {
                (0, u64::from(video), keyframe_size(&frame.data).is_some())
            }
            // A stream that had no video when its file started records none.
            (Track::Video, None) => return Ok(()),
            (Track::Audio, _) => (1, u64::from(self.audio), true),
        };
        let origin = *self.origins[slot].get_or_insert(Origin {
            rtp_time: frame.rtp_time,
            offset_ns: nanos(frame.arrived.saturating_duration_since(self.started)),
        });
        let since_first = frame.rtp_time.saturating_sub(origin.rtp_time);
        let ns = origin.offset_ns + nanos_of(since_first, frame.clock);
        // libwebm wants time to go forward across tracks; a frame that arrived a little
        // late is placed right after the one before it.
        let ns = ns.max(self.last_ns);
        self.last_ns = ns;
        self.segment
            .add_frame(track_num, &frame.data, ns, keyframe)
            .map_err(|e| std::io::Error::other(format!("libwebm: {e:?}")))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn nanos_of(ticks: u64, clock: u64) -> u64 {
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(clock.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// A VP8 keyframe's picture size (RFC 6386, 9.1: a 3-byte frame tag whose lowest bit is 0
/// for keyframes, the start code 9d 01 2a, then 14-bit width and height); `None` for
/// other frames.
pub(crate) fn keyframe_size(frame: &[u8]) -> Option<(u32, u32)> {
    let header = frame.get(..10)?;
    let keyframe = header[0] & 1 == 0;
    if !keyframe || header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([header[6], header[7]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([header[8], header[9]]) & 0x3fff);
    (width > 0 && height > 0).then_some((width, height))
}

/// The Opus identification header a WebM Opus track carries (RFC 7845, 5.1): version 1,
/// channels, no pre-skip, the input rate, no gain, channel mapping family 0.
fn opus_head() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(OPUS_CHANNELS);
    head.extend_from_slice(&0u16.to_le_bytes());
    head.extend_from_slice(&OPUS_RATE.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vp8_keyframe_tells_its_size_and_other_frames_do_not() {
        // 640x480 keyframe: tag (keyframe bit 0), start code, 14-bit sizes (scale bits set).
        let key = [
            0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x42, 0xe0, 0x41, 0x00,
        ];
        assert_eq!(keyframe_size(&key), Some((640, 480)));
        let mut inter = key;
        inter[0] |= 1;
        assert_eq!(keyframe_size(&inter), None);
        assert_eq!(keyframe_size(&key[..9]), None);
    }

    #[test]
    fn the_opus_head_is_19_bytes_for_stereo_at_48_khz() {
        let head = opus_head();
        assert_eq!(head.len(), 19);
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!(head[9], 2);
        assert_eq!(
            u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
            48_000
        );
    }

    #[test]
    fn frames_become_a_webm_file_starting_at_the_first_keyframe() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.webm");
        let (tx, rx) = std::sync::mpsc::sync_channel(64);
        let t0 = tokio::time::Instant::now().into_std();
        let key = vec![
            0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x42, 0xe0, 0x41, 0x00, 0x00,
        ];
        let frame = |track, data: &[u8], rtp_time, clock, ms| Frame {
            track,
            data: data.into(),
            rtp_time,
            clock,
            arrived: t0 + Duration::from_millis(ms),
        };
        tx.send(frame(Track::Audio, &[1, 2, 3], 0, 48_000, 0))
            .unwrap();
        tx.send(frame(Track::Video, &key, 90_000, 90_000, 10))
            .unwrap();
        for i in 1..=50u64 {
            tx.send(frame(
                Track::Audio,
                &[1, 2, 3],
                960 * i,
                48_000,
                10 + 20 * i,
            ))
            .unwrap();
        }
        tx.send(frame(
            Track::Video,
            &[0x51, 0, 0, 0],
            90_000 + 90_000,
            90_000,
            1_010,
        ))
        .unwrap();
        drop(tx);
        let written = write(path.clone(), true, rx).unwrap().expect("a file");
        assert_eq!(written.tracks, vec!["VP8", "opus"]);
        assert_eq!(written.duration, Duration::from_millis(1_000));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes[..4], [0x1a, 0x45, 0xdf, 0xa3], "an EBML header");
        assert!(bytes.windows(4).any(|w| w == b"webm"), "of doctype webm");
        assert_eq!(written.size, bytes.len() as u64);
    }
}
