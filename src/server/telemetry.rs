//! Log output on stderr: human-readable lines or JSON objects, filtered by
//! the configured filter (`RUST_LOG`).

use super::config::{Config, LogFormat, DEFAULT_LOG_FILTER};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are no-ops (tests).
pub fn init(config: &Config) {
    install(&config.log_filter, config.log_format);
}

/// Installs the global subscriber with `filter` (an invalid filter falls back
/// to the default) and `format`; later calls are no-ops.
pub fn install(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: escape codes are noise in
        // a log file or collector, and styling every field of every job's
        // span cost a tenth of the worker's CPU in the drain benchmark.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

/// An error and its causes as one line: `outer: cause: root cause`. Causes
/// whose text the outer message already ends with are not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_chain_is_one_line_with_every_cause() {
        let error = Outer(std::io::Error::other("disk\nfull"));
        assert_eq!(error_chain(&error), "cannot start: disk full");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("wrapper: {0}")]
    struct Repeating(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let error = Repeating(std::io::Error::other("gone"));
        assert_eq!(error_chain(&error), "wrapper: gone");
    }
}
