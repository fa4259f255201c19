//! Which simulcast layer each subscriber watches (RTC-06). A publisher's layers are
//! measured as they arrive; each subscriber's transport estimates the bandwidth towards
//! it (str0m's TWCC estimator, probing up to what the biggest layer needs), and an
//! unpinned subscriber is moved to the biggest layer that fits: at that layer's next
//! keyframe (asked for at once), with its timestamps carried on from the layer before so
//! the subscriber's decoder sees one continuous stream.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::media::{MediaTime, Rid};

/// Layer bitrates are measured over windows this long.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// A layer fits when the estimate exceeds its bitrate by this share (headroom for audio,
/// retransmissions and the rate's swings).
const HEADROOM: f64 = 1.25;
/// Where each subscriber's estimate starts before it is measured.
pub(super) const INITIAL_ESTIMATE: Bitrate = Bitrate::kbps(1_000);
/// The gap placed between the last frame of one layer and the first of the next, in
/// the video clock (90 kHz): one frame at 30 frames per second.
const SWITCH_GAP: u64 = 3_000;

/// A publisher's layers' bitrates, measured.
#[derive(Default)]
pub(super) struct LayerRates {
    window_start: Option<Instant>,
    bytes: HashMap<Rid, u64>,
    /// Bits per second of each layer in the last whole window.
    rates: HashMap<Rid, u64>,
}

impl LayerRates {
    pub(super) fn add(&mut self, rid: Rid, bytes: usize, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= RATE_WINDOW {
            let seconds = elapsed.as_secs_f64();
            self.rates = self
                .bytes
                .drain()
                .map(|(rid, bytes)| (rid, (bytes as f64 * 8.0 / seconds) as u64))
                .collect();
            self.window_start = Some(now);
        }
        *self.bytes.entry(rid).or_default() += bytes as u64;
    }

    /// What the biggest of `layers` needs, for the estimator to probe up to.
    pub(super) fn desired(&self, layers: &[Rid]) -> Option<Bitrate> {
        let biggest = self.rates.get(layers.first()?)?;
        Some(Bitrate::bps((*biggest as f64 * HEADROOM) as u64))
    }

    /// The biggest of `layers` (biggest first) that `estimate` carries, else the
    /// smallest; `None` until the layers have been measured.
    pub(super) fn fitting(&self, layers: &[Rid], estimate: Bitrate) -> Option<Rid> {
        if layers.iter().any(|rid| !self.rates.contains_key(rid)) {
            return None;
        }
        let fits = |rid: &&Rid| (self.rates[*rid] as f64 * HEADROOM) <= estimate.as_f64();
        layers.iter().find(fits).or(layers.last()).copied()
    }
}

/// What a subscriber of a simulcast stream watches.
#[derive(Default)]
pub(super) struct Watching {
    /// Asked for with `?layer=`: kept whatever the bandwidth.
    pub(super) pinned: Option<Rid>,
    /// The layer forwarded now (the publisher's first until chosen).
    current: Option<Rid>,
    /// The layer to move to at its next keyframe.
    next: Option<Rid>,
    /// Added to the publisher's video times so a switch keeps them continuous.
    offset: i64,
    last_time: Option<u64>,
}

/// Whether a frame of a simulcast layer goes to the subscriber, and at which time.
pub(super) enum Pass {
    Drop,
    /// Forward it at this time; `true` when it is the first frame after a switch.
    Forward(MediaTime, bool),
}

impl Watching {
    pub(super) fn pinned(layer: Option<Rid>) -> Self {
        Self {
            pinned: layer,
            current: layer,
            ..Self::default()
        }
    }

    /// Moves to `layer` at its next keyframe; answers whether that is a change.
    pub(super) fn aim(&mut self, layer: Rid) -> bool {
        if self.pinned.is_some() || Some(layer) == self.current || Some(layer) == self.next {
            return false;
        }
        self.next = Some(layer);
        true
    }

    /// The layer the subscriber wants keyframes of: the one it moves to, else the one
    /// it watches (`None` before the first frame: the publisher's first).
    pub(super) fn wanted(&self) -> Option<Rid> {
        self.next.or(self.current)
    }

    /// Decides a video frame of layer `rid` at `time`; `default` is the layer watched
    /// until one is chosen.
    pub(super) fn pass(&mut self, rid: Rid, time: MediaTime, keyframe: bool, default: Rid) -> Pass {
        let current = *self.current.get_or_insert(default);
        let mut switched = false;
        if Some(rid) == self.next && keyframe {
            // Carry the times on from the layer before.
            if let Some(last) = self.last_time {
                let wanted = last + SWITCH_GAP;
                self.offset = wanted as i64 - time.numer() as i64;
            }
            self.current = self.next.take();
            switched = true;
        } else if rid != current {
            return Pass::Drop;
        }
        let out = (time.numer() as i64 + self.offset).max(0) as u64;
        self.last_time = Some(out);
        Pass::Forward(MediaTime::new(out, time.frequency()), switched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::media::Frequency;

    fn rid(name: &str) -> Rid {
        Rid::from(name)
    }

    #[test]
    fn the_biggest_layer_the_estimate_carries_is_chosen() {
        let t0 = tokio::time::Instant::now().into_std();
        let mut rates = LayerRates::default();
        let layers = [rid("big"), rid("small")];
        assert_eq!(
            rates.fitting(&layers, Bitrate::mbps(10)),
            None,
            "unmeasured"
        );
        // Over one second: big 1 Mbit/s, small 200 kbit/s.
        rates.add(rid("big"), 125_000, t0);
        rates.add(rid("small"), 25_000, t0);
        rates.add(rid("small"), 0, t0 + RATE_WINDOW);
        assert_eq!(
            rates.fitting(&layers, Bitrate::kbps(1_300)),
            Some(rid("big"))
        );
        assert_eq!(
            rates.fitting(&layers, Bitrate::kbps(1_100)),
            Some(rid("small"))
        );
        assert_eq!(
            rates.fitting(&layers, Bitrate::kbps(100)),
            Some(rid("small"))
        );
        assert_eq!(rates.desired(&layers), Some(Bitrate::kbps(1_250)));
    }

    #[test]
    fn a_switch_waits_for_a_keyframe_and_keeps_times_continuous() {
        let at = |t| MediaTime::new(t, Frequency::NINETY_KHZ);
        let (big, small) = (rid("big"), rid("small"));
        let mut watching = Watching::default();
        assert!(
            matches!(watching.pass(big, at(1_000), false, big), Pass::Forward(t, false) if t == at(1_000))
        );
        assert!(matches!(
            watching.pass(small, at(50), false, big),
            Pass::Drop
        ));
        assert!(watching.aim(small));
        assert!(!watching.aim(small), "already on the way");
        assert!(
            matches!(watching.pass(small, at(80), false, big), Pass::Drop),
            "no keyframe yet"
        );
        assert!(matches!(
            watching.pass(big, at(4_000), false, big),
            Pass::Forward(..)
        ));
        let Pass::Forward(first, true) = watching.pass(small, at(100), true, big) else {
            panic!("switched at the keyframe");
        };
        assert_eq!(first, at(4_000 + SWITCH_GAP));
        assert!(matches!(
            watching.pass(big, at(7_000), false, big),
            Pass::Drop
        ));
        assert!(
            matches!(watching.pass(small, at(3_100), false, big), Pass::Forward(t, false) if t == at(10_000))
        );
        let mut pinned = Watching::pinned(Some(small));
        assert!(!pinned.aim(big), "a pinned subscriber stays");
    }
}
