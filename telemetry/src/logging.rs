//! Logging setup shared by every Meridian process.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

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
/// subscriber was installed) does nothing.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let env_error = match EnvFilter::try_from_default_env() {
        Ok(_) => None,
        Err(e) if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some() => Some(e.to_string()),
        Err(_) => None,
    };
    let filter = || {
        EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(default_filter))
            .unwrap_or_else(|_| EnvFilter::new("info"))
    };
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_env_filter(filter())
            .try_init()
            .is_ok(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter())
            .try_init()
            .is_ok(),
    };
    if installed {
        if let Some(e) = env_error {
            tracing::warn!(
                error = %e,
                default_filter,
                "invalid {}, using the default filter",
                EnvFilter::DEFAULT_ENV
            );
        }
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
    fn init_is_idempotent() {
        init_logging(LogFormat::Json, "info");
        init_logging(LogFormat::Pretty, "not a [valid filter");
        tracing::info!("still logging");
    }
}
