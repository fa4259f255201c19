//! Logging setup shared by every Meridian process.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer};

/// Output format of the log lines written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Human-readable single-line records (ANSI colours when stderr is a terminal).
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The spelling accepted by [`FromStr`] and produced by [`fmt::Display`].
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of parsing a [`LogFormat`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {0:?} (expected \"pretty\" or \"json\")")]
pub struct ParseLogFormatError(pub String);

impl FromStr for LogFormat {
    type Err = ParseLogFormatError;

    /// Accepts `pretty` and `json`, ignoring ASCII case and surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("pretty") {
            Ok(LogFormat::Pretty)
        } else if t.eq_ignore_ascii_case("json") {
            Ok(LogFormat::Json)
        } else {
            Err(ParseLogFormatError(s.to_string()))
        }
    }
}

/// Installs the global `tracing` subscriber writing to stderr.
///
/// The filter comes from `RUST_LOG` when it is set and valid, otherwise from
/// `default_filter` (e.g. `"info"` or `"info,meridian_cluster=debug"`), and
/// `"info"` if that does not parse either. Calling it again (or after another
/// subscriber was installed) does nothing. The filter never changes: the answer's
/// [`StartingLogs::started`] does nothing, so callers can treat it like
/// [`init_logging_while_starting`]'s.
pub fn init_logging(format: LogFormat, default_filter: &str) -> StartingLogs {
    let filter = filter_or_default(default_filter);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(stderr_layer(format))
        .try_init()
        .is_ok();
    if installed {
        warn_of_invalid_env(default_filter);
    }
    StartingLogs { switch: None }
}

/// [`init_logging`] for a process that logs with `starting_filter` while it starts and
/// with `default_filter` once it calls [`StartingLogs::started`]. A valid `RUST_LOG`
/// applies throughout.
pub fn init_logging_while_starting(
    format: LogFormat,
    starting_filter: &str,
    default_filter: &str,
) -> StartingLogs {
    let (subscriber, logs) = switchable_subscriber(format, starting_filter, default_filter);
    if subscriber.try_init().is_err() {
        return StartingLogs { switch: None };
    }
    warn_of_invalid_env(starting_filter);
    logs
}

fn switchable_subscriber(
    format: LogFormat,
    starting_filter: &str,
    default_filter: &str,
) -> (impl tracing::Subscriber + Send + Sync, StartingLogs) {
    let (filter, handle) = reload::Layer::new(filter_or_default(starting_filter));
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(stderr_layer(format));
    let default_filter = default_filter.to_string();
    let logs = StartingLogs {
        switch: Some(Box::new(move || {
            let _ = handle.reload(filter_or_default(&default_filter));
        })),
    };
    (subscriber, logs)
}

/// Returned by [`init_logging_while_starting`].
pub struct StartingLogs {
    switch: Option<Box<dyn FnOnce() + Send>>,
}

impl StartingLogs {
    /// The process has started: log with the default filter from now on.
    pub fn started(self) {
        if let Some(switch) = self.switch {
            switch();
        }
    }
}

/// `RUST_LOG` when it is set and valid, else `default_filter`, else `info`.
fn filter_or_default(default_filter: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

fn stderr_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => layer.with_ansi(std::io::stderr().is_terminal()).boxed(),
        LogFormat::Json => layer
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    }
}

/// A `RUST_LOG` that does not parse is worth one line once logging works.
fn warn_of_invalid_env(default_filter: &str) {
    if std::env::var_os(EnvFilter::DEFAULT_ENV).is_none() {
        return;
    }
    if let Err(e) = EnvFilter::try_from_default_env() {
        tracing::warn!(
            error = %e,
            default_filter,
            "invalid {}, using the default filter",
            EnvFilter::DEFAULT_ENV
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        for f in [LogFormat::Pretty, LogFormat::Json] {
            assert_eq!(f.to_string().parse::<LogFormat>(), Ok(f));
        }
        assert_eq!(" JSON ".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("Pretty".parse::<LogFormat>(), Ok(LogFormat::Pretty));
        let err = "xml".parse::<LogFormat>().unwrap_err();
        assert!(err.to_string().contains("xml"));
        assert_eq!(LogFormat::default(), LogFormat::Pretty);
    }

    #[test]
    fn starting_logs_switch_to_the_default_filter() {
        if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some() {
            return; // RUST_LOG replaces both filters by design.
        }
        let (subscriber, logs) =
            switchable_subscriber(LogFormat::Pretty, "info,noisy=error", "info");
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(target: "noisy", tracing::Level::WARN));
            assert!(tracing::enabled!(target: "other", tracing::Level::WARN));
            logs.started();
            assert!(tracing::enabled!(target: "noisy", tracing::Level::WARN));
        });
    }

    #[test]
    fn init_is_idempotent() {
        init_logging(LogFormat::Json, "info");
        init_logging(LogFormat::Pretty, "not a [valid filter");
        tracing::info!("still logging");
    }
}
