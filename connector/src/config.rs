//! One TOML file configures the connector. It is validated as a whole at start (and by
//! `swyx-connector check-config`): every error names the setting, so an administrator on the
//! SwyxServer host can fix it without reading code. Secrets may be written inline, or as
//! `env:NAME` / `file:PATH` so they stay out of the file.

mod raw;
mod sections;
mod validate;

pub use raw::RawConfig;
pub use sections::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use swyx_contract::signature::WebhookSecret;

/// A setting and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting `{setting}`: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

pub(crate) fn err(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        problem: problem.into(),
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The API over HTTPS with this certificate; plain HTTP without (loopback, or behind a proxy).
    pub tls: Option<crate::tls::TlsFiles>,
    pub admin_listen: Option<SocketAddr>,
    pub store_path: PathBuf,
    pub bridge: BridgeConfig,
    pub directory: DirectoryConfig,
    pub sip: Option<SipConfig>,
    pub presence: PresenceConfig,
    pub writer: WriterConfig,
}

impl Config {
    /// Reads and validates a file; errors name the file or the setting.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err("(file)", format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Parses TOML text; relative paths are taken from `base` (the file's folder).
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            // The message and line only: toml's full report quotes the line, which may hold a secret.
            let line = e
                .span()
                .map(|s| text.get(..s.start).unwrap_or(text).lines().count().max(1));
            let at = line.map_or(String::new(), |l| format!("line {l}: "));
            err("(file)", format!("{at}{}", e.message()))
        })?;
        validate::validate(raw, base)
    }
}

/// `env:NAME`, `file:PATH` or the value itself. Errors name the setting, never the value.
pub(crate) fn resolve_secret(
    setting: &str,
    value: &str,
    base: &Path,
) -> Result<String, ConfigError> {
    if let Some(name) = value.strip_prefix("env:") {
        std::env::var(name)
            .map_err(|_| err(setting, format!("environment variable {name} is not set")))
    } else if let Some(file) = value.strip_prefix("file:") {
        let path = base.join(file);
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| err(setting, format!("cannot read {}: {e}", path.display())))
    } else {
        Ok(value.to_string())
    }
}

pub(crate) fn webhook_secret(
    setting: &str,
    value: &str,
    base: &Path,
) -> Result<WebhookSecret, ConfigError> {
    let text = resolve_secret(setting, value, base)?;
    WebhookSecret::parse(&text).map_err(|e| err(setting, e.to_string()))
}

pub(crate) fn addr(setting: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        err(
            setting,
            format!("{value:?} is not an address like 0.0.0.0:8081"),
        )
    })
}

pub(crate) fn within(setting: &str, v: u64, lo: u64, hi: u64) -> Result<u64, ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(err(setting, format!("{v} is outside {lo}..={hi}")))
    }
}

pub(crate) fn secs(v: u64) -> Duration {
    Duration::from_secs(v)
}
