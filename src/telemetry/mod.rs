//! Logging: JSON lines in Lambda (CloudWatch), human-readable text on a terminal, plain text in a
//! file where the terminal is taken (the demo draws its progress and table there). `RUST_LOG`
//! filters (default `info`).

pub mod recent;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Every log line into `file`, without terminal colours.
pub fn init_to_file(file: std::fs::File) {
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

/// Logs to stderr, as JSON lines or readable text; warnings and errors are also kept in the
/// process's [`recent`] ring for the admin page.
pub fn init(json: bool) {
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry()
        .with(filter())
        .with(recent::global().layer());
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = if json {
        registry
            .with(
                fmt.json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .without_time(),
            )
            .try_init()
    } else {
        registry.with(fmt).try_init()
    };
}

/// An error and its causes on one line, `outer: inner: root`, for the places that log an error
/// rather than hand it to a caller (the format `anyhow` prints with `{:#}`).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_follow_the_error_on_one_line() {
        let path = std::path::Path::new("/nonexistent/c.toml");
        let e = crate::config::RawConfig::from_file(path).unwrap_err();
        let io = std::fs::read(path).unwrap_err();
        assert_eq!(
            with_causes(&e),
            format!("configuration: /nonexistent/c.toml: cannot read the configuration file: {io}")
        );
    }
}
