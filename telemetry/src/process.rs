//! Process metrics (`meridian_process_*`), read from `/proc/self` on Linux.
//!
//! [`ProcessMetrics`] is a [`Collector`]: once registered, every
//! [`Registry::gather`] refreshes the values first, so `/metrics` always shows
//! current numbers no matter who gathers. [`ProcessMetrics::refresh`] is also
//! public for callers that read the gauges directly.
//!
//! On other platforms the gauges stay at 0.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, IntGauge, Opts, Registry};

/// Name of the resident memory gauge.
pub const RESIDENT_MEMORY_BYTES: &str = "meridian_process_resident_memory_bytes";
/// Name of the open file descriptor gauge.
pub const OPEN_FDS: &str = "meridian_process_open_fds";
/// Name of the process start time gauge.
pub const START_TIME_SECONDS: &str = "meridian_process_start_time_seconds";

/// Resident memory, open file descriptors and start time of this process.
///
/// Cloning is cheap and clones share the same gauges.
#[derive(Clone, Debug)]
pub struct ProcessMetrics {
    resident_memory_bytes: IntGauge,
    open_fds: IntGauge,
    start_time_seconds: Gauge,
    descs: Vec<Desc>,
}

impl ProcessMetrics {
    /// Creates the gauges without registering them (see [`ProcessMetrics::register`]).
    pub fn new() -> prometheus::Result<Self> {
        let resident_memory_bytes = IntGauge::with_opts(Opts::new(
            RESIDENT_MEMORY_BYTES,
            "Resident memory size of this process in bytes.",
        ))?;
        let open_fds = IntGauge::with_opts(Opts::new(
            OPEN_FDS,
            "Number of open file descriptors of this process.",
        ))?;
        let start_time_seconds = Gauge::with_opts(Opts::new(
            START_TIME_SECONDS,
            "Start time of this process since the Unix epoch in seconds.",
        ))?;
        let descs = resident_memory_bytes
            .desc()
            .into_iter()
            .chain(open_fds.desc())
            .chain(start_time_seconds.desc())
            .cloned()
            .collect();
        let metrics = Self {
            resident_memory_bytes,
            open_fds,
            start_time_seconds,
            descs,
        };
        if let Some(start) = sys::start_time_seconds() {
            metrics.start_time_seconds.set(start);
        }
        metrics.refresh();
        Ok(metrics)
    }

    /// Creates the gauges and registers them into `registry`.
    ///
    /// Fails with [`prometheus::Error::AlreadyReg`] if the registry already
    /// holds process metrics.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self::new()?;
        registry.register(Box::new(metrics.clone()))?;
        Ok(metrics)
    }

    /// Re-reads resident memory and open file descriptors. Values that cannot
    /// be read (non-Linux, unexpected `/proc` contents) are left unchanged.
    pub fn refresh(&self) {
        if let Some(rss) = sys::resident_memory_bytes() {
            self.resident_memory_bytes.set(rss);
        }
        if let Some(fds) = sys::open_fds() {
            self.open_fds.set(fds);
        }
    }

    /// Current value of `meridian_process_resident_memory_bytes`.
    pub fn resident_memory_bytes(&self) -> i64 {
        self.resident_memory_bytes.get()
    }

    /// Current value of `meridian_process_open_fds`.
    pub fn open_fds(&self) -> i64 {
        self.open_fds.get()
    }

    /// Value of `meridian_process_start_time_seconds`.
    pub fn start_time_seconds(&self) -> f64 {
        self.start_time_seconds.get()
    }
}

impl Collector for ProcessMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        let mut families = self.resident_memory_bytes.collect();
        families.extend(self.open_fds.collect());
        families.extend(self.start_time_seconds.collect());
        families
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::fs;

    /// `VmRSS:` of `/proc/self/status` (in kB) as bytes.
    pub(super) fn resident_memory_bytes() -> Option<i64> {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        parse_vm_rss_bytes(&status)
    }

    pub(super) fn parse_vm_rss_bytes(status: &str) -> Option<i64> {
        let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
        let mut words = line.split_whitespace();
        let value: i64 = words.next()?.parse().ok()?;
        let multiplier = match words.next() {
            Some("kB") | Some("KB") | Some("kb") => 1024,
            Some("mB") | Some("MB") => 1024 * 1024,
            Some("B") | None => 1,
            Some(_) => return None,
        };
        value.checked_mul(multiplier)
    }

    /// Entries of `/proc/self/fd` (includes the descriptor used to list it).
    pub(super) fn open_fds() -> Option<i64> {
        let dir = fs::read_dir("/proc/self/fd").ok()?;
        i64::try_from(dir.count()).ok()
    }

    /// Boot time (`btime` of `/proc/stat`) plus the start time field of
    /// `/proc/self/stat` (clock ticks since boot) divided by `AT_CLKTCK`.
    pub(super) fn start_time_seconds() -> Option<f64> {
        let stat = fs::read_to_string("/proc/self/stat").ok()?;
        let ticks = parse_start_ticks(&stat)?;
        let boot = parse_btime(&fs::read_to_string("/proc/stat").ok()?)?;
        let hz = clock_ticks_per_second().unwrap_or(100);
        if hz == 0 {
            return None;
        }
        Some(boot as f64 + ticks as f64 / hz as f64)
    }

    /// Field 22 (`starttime`) of `/proc/<pid>/stat`. The command name (field
    /// 2) is parenthesised and may contain spaces and ')', so parse from the
    /// last ')'.
    pub(super) fn parse_start_ticks(stat: &str) -> Option<u64> {
        let after_comm = &stat[stat.rfind(')')? + 1..];
        // after_comm starts with field 3 (state); starttime is field 22.
        after_comm.split_whitespace().nth(22 - 3)?.parse().ok()
    }

    pub(super) fn parse_btime(stat: &str) -> Option<u64> {
        stat.lines()
            .find_map(|l| l.strip_prefix("btime"))?
            .trim()
            .parse()
            .ok()
    }

    /// `AT_CLKTCK` from the auxiliary vector (what `sysconf(_SC_CLK_TCK)` returns).
    fn clock_ticks_per_second() -> Option<u64> {
        let auxv = fs::read("/proc/self/auxv").ok()?;
        parse_auxv_clktck(&auxv)
    }

    pub(super) fn parse_auxv_clktck(auxv: &[u8]) -> Option<u64> {
        const AT_NULL: usize = 0;
        const AT_CLKTCK: usize = 17;
        const WORD: usize = std::mem::size_of::<usize>();
        let word = |chunk: &[u8]| -> Option<usize> {
            let bytes: [u8; WORD] = chunk.try_into().ok()?;
            Some(usize::from_ne_bytes(bytes))
        };
        for pair in auxv.chunks_exact(2 * WORD) {
            let key = word(&pair[..WORD])?;
            let value = word(&pair[WORD..])?;
            match key {
                AT_NULL => return None,
                AT_CLKTCK => return u64::try_from(value).ok(),
                _ => {}
            }
        }
        None
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn resident_memory_bytes() -> Option<i64> {
        None
    }

    pub(super) fn open_fds() -> Option<i64> {
        None
    }

    pub(super) fn start_time_seconds() -> Option<f64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_once_per_registry() {
        let registry = Registry::new();
        let metrics = ProcessMetrics::register(&registry).expect("first registration");
        assert!(matches!(
            ProcessMetrics::register(&registry),
            Err(prometheus::Error::AlreadyReg)
        ));
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        for name in [RESIDENT_MEMORY_BYTES, OPEN_FDS, START_TIME_SECONDS] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing in {names:?}"
            );
        }
        drop(metrics);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_values_are_plausible() {
        let metrics = ProcessMetrics::new().expect("metrics");
        metrics.refresh();
        assert!(metrics.resident_memory_bytes() > 0);
        assert!(metrics.open_fds() > 0);
        let now = meridian_clock::since_epoch().as_secs_f64();
        let start = metrics.start_time_seconds();
        // Boot time has 1 s resolution, ticks 10 ms: allow a little slack.
        assert!(
            start > 1_000_000_000.0 && start <= now + 2.0,
            "start={start} now={now}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn parsers() {
        assert_eq!(
            sys::parse_vm_rss_bytes("Name:\tx\nVmRSS:\t    1234 kB\nVmData: 1 kB\n"),
            Some(1234 * 1024)
        );
        assert_eq!(sys::parse_vm_rss_bytes("Name:\tx\n"), None);
        assert_eq!(sys::parse_vm_rss_bytes("VmRSS: lots kB\n"), None);

        let stat = "42 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19 20";
        assert_eq!(sys::parse_start_ticks(stat), Some(777));
        assert_eq!(sys::parse_start_ticks("42 (x) S 1"), None);
        assert_eq!(sys::parse_start_ticks("garbage"), None);

        assert_eq!(
            sys::parse_btime("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
        assert_eq!(sys::parse_btime("cpu 1 2\n"), None);

        let mut auxv = Vec::new();
        for (k, v) in [(6usize, 4096usize), (17, 250), (0, 0)] {
            auxv.extend_from_slice(&k.to_ne_bytes());
            auxv.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(sys::parse_auxv_clktck(&auxv), Some(250));
        assert_eq!(sys::parse_auxv_clktck(&auxv[..3]), None);
    }
}
