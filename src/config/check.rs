//! The checks every section shares (required, GUID, URL, range), each producing the one error
//! shape that names the setting the way the operator wrote it (`graph.tenant_id` in a file,
//! `GRAPH_TENANT_ID` in the environment).

use super::{ConfigError, Origin, SecretRef, name};
use std::fmt::Display;
use std::ops::RangeInclusive;

/// Validation in the operator's own vocabulary: `path` arguments are TOML paths, errors name the
/// setting as the configuration's [`Origin`] spells it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Check {
    pub origin: Origin,
}

impl Check {
    pub fn new(origin: Origin) -> Self {
        Self { origin }
    }

    /// The setting's name as the operator wrote it.
    pub fn name(self, path: &str) -> String {
        name(self.origin, path)
    }

    pub fn fail(self, path: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            setting: self.name(path),
            problem: problem.into(),
        }
    }

    /// The trimmed value, or "missing (required)".
    pub fn required(self, path: &str, value: Option<String>) -> Result<String, ConfigError> {
        text(value).ok_or_else(|| self.fail(path, "missing (required)"))
    }

    /// A required GUID, lower-cased (Entra ids compare without case).
    pub fn guid(self, path: &str, value: Option<String>) -> Result<String, ConfigError> {
        let v = self.required(path, value)?;
        if super::is_guid(&v) {
            Ok(v.to_ascii_lowercase())
        } else {
            Err(self.fail(
                path,
                format!("{v:?} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"),
            ))
        }
    }

    /// An outbound URL: it carries secrets (the client secret, tokens, connector signatures), so
    /// https, or plain http to a loopback host only (the sandbox, a connector on the same machine).
    pub fn url(self, path: &str, value: String) -> Result<String, ConfigError> {
        let Ok(url) = reqwest::Url::parse(&value) else {
            return Err(self.fail(path, format!("{value:?} is not a URL")));
        };
        match url.scheme() {
            "https" => Ok(value),
            "http" if url.host_str().is_some_and(is_loopback_host) => Ok(value),
            "http" => Err(self.fail(
                path,
                format!(
                    "{value:?} must be https: plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost)"
                ),
            )),
            _ => Err(self.fail(path, format!("{value:?} is not an https URL"))),
        }
    }

    /// `value` or `default`, which must lie in `range`; `why` follows the range in the message
    /// (e.g. " (Graph's setPresence range)").
    pub fn within<T>(
        self,
        path: &str,
        value: Option<T>,
        default: T,
        range: RangeInclusive<T>,
        why: &str,
    ) -> Result<T, ConfigError>
    where
        T: PartialOrd + Display + Copy,
    {
        let v = value.unwrap_or(default);
        if range.contains(&v) {
            Ok(v)
        } else {
            Err(self.fail(
                path,
                format!("{v} is outside {}..={}{why}", range.start(), range.end()),
            ))
        }
    }
}

/// localhost, 127.0.0.0/8 or ::1: where plain http is allowed (and an emulator stands in).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The trimmed value, `None` when absent or blank.
pub(super) fn text(value: Option<String>) -> Option<String> {
    value
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A secret reference, `None` when absent or blank.
pub(super) fn secret(value: Option<&str>) -> Option<SecretRef> {
    value.filter(|s| !s.trim().is_empty()).map(SecretRef::parse)
}
