//! The validated sections (what the rest of the connector reads); [`super::validate`] makes them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use swyx_contract::signature::WebhookSecret;

#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Full URL of the bridge's `POST /swyx/events`.
    pub events_url: reqwest::Url,
    /// Secrets the bridge signs its requests with (several while one is rotated).
    pub inbound_secrets: Vec<WebhookSecret>,
    /// The secret the connector signs its events with.
    pub outbound_secret: WebhookSecret,
    pub timeout: Duration,
    pub retry_max: Duration,
}

#[derive(Debug, Clone)]
pub enum DirectorySource {
    Csv(PathBuf),
    Ldap(Box<LdapConfig>),
}

#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    pub source: DirectorySource,
    pub refresh: Duration,
}

#[derive(Debug, Clone)]
pub struct LdapConfig {
    pub url: String,
    pub bind_dn: Option<String>,
    /// Resolved; never logged.
    pub bind_password: Option<String>,
    pub base_dn: String,
    pub filter: String,
    pub attr_id: String,
    pub attr_name: String,
    pub attr_email: String,
    pub attr_sip_uri: String,
    pub attr_groups: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipTransport {
    Udp,
    Tcp,
    Tls,
}

#[derive(Clone)]
pub struct SipConfig {
    pub server: String,
    pub transport: SipTransport,
    pub domain: String,
    pub username: String,
    pub auth_username: String,
    pub password: String,
    pub local_address: SocketAddr,
    pub register_expires: u32,
    pub subscribe_expires: u32,
    pub subscribe_rate_per_sec: u32,
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// `{user}` and `{domain}` are replaced; used when the directory has no SIP URI for a user.
    pub watch_uri_template: String,
    /// RFC 3261 T1 (round-trip estimate); 500 ms unless a test shortens it.
    pub t1: Duration,
    pub tls_ca_file: Option<PathBuf>,
    pub tls_server_name: Option<String>,
}

impl std::fmt::Debug for SipConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipConfig")
            .field("server", &self.server)
            .field("transport", &self.transport)
            .field("domain", &self.domain)
            .field("username", &self.username)
            .field("password", &"***")
            .finish_non_exhaustive()
    }
}

/// How `<userstatus>` values (lower-cased, trimmed) map to what the connector acts on.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    pub speaking: Vec<String>,
    pub available: Vec<String>,
    pub away: Vec<String>,
    pub do_not_disturb: Vec<String>,
    pub logged_off: Vec<String>,
    pub status_changed: bool,
    pub teams_echo_window: Duration,
    pub ignore_active_while_teams_speaking: bool,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        let v = |s: &str| vec![s.to_string()];
        Self {
            speaking: v("active"),
            available: v("logged on"),
            away: v("away"),
            do_not_disturb: v("donotdisturb"),
            logged_off: v("logged off"),
            status_changed: false,
            teams_echo_window: Duration::from_secs(30),
            ignore_active_while_teams_speaking: true,
        }
    }
}

#[derive(Debug, Clone)]
pub enum WriterConfig {
    Log,
    Command(CommandWriterConfig),
    Http(Box<HttpWriterConfig>),
}

#[derive(Debug, Clone)]
pub struct CommandWriterConfig {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpWriterConfig {
    pub url: reqwest::Url,
    pub secret: WebhookSecret,
    pub timeout: Duration,
    pub retries: u32,
}
