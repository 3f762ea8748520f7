//! The checks that turn the file as written ([`super::raw`]) into the validated sections, each
//! error naming its setting.

use super::raw::*;
use super::sections::*;
use super::{ConfigError, addr, err, resolve_secret, secs, webhook_secret, within};
use std::path::Path;
use std::time::Duration;

pub(super) fn validate(raw: RawConfig, base: &Path) -> Result<super::Config, ConfigError> {
    let listen = addr(
        "server.listen",
        raw.server.listen.as_deref().unwrap_or("0.0.0.0:8081"),
    )?;
    let admin_listen = match raw.server.admin_listen.as_deref() {
        Some("") | Some("off") => None,
        Some(a) => Some(addr("server.admin_listen", a)?),
        None => Some(addr("server.admin_listen", "127.0.0.1:9466")?),
    };
    let tls = crate::tls::files_of(raw.server.tls_cert_file, raw.server.tls_key_file, base)?;
    let store_path = base.join(raw.store.path.ok_or_else(|| {
        err(
            "store.path",
            "required (the SQLite file of applied statuses and the outbox)",
        )
    })?);
    Ok(super::Config {
        listen,
        tls,
        admin_listen,
        store_path,
        bridge: bridge(raw.bridge, base)?,
        directory: directory(raw.directory, base)?,
        sip: sip(raw.sip, base)?,
        presence: presence(raw.presence)?,
        writer: writer(raw.writer, base)?,
    })
}

fn url(setting: &str, value: Option<String>) -> Result<reqwest::Url, ConfigError> {
    let v = value.ok_or_else(|| err(setting, "required"))?;
    let u =
        reqwest::Url::parse(&v).map_err(|e| err(setting, format!("{v:?} is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(err(setting, "must be an http:// or https:// URL"));
    }
    Ok(u)
}

fn bridge(raw: RawBridge, base: &Path) -> Result<BridgeConfig, ConfigError> {
    let inbound = raw
        .inbound_secrets
        .filter(|v| !v.is_empty())
        .ok_or_else(|| err("bridge.inbound_secrets", "at least one secret is required"))?;
    let inbound_secrets = inbound
        .iter()
        .enumerate()
        .map(|(i, s)| webhook_secret(&format!("bridge.inbound_secrets[{i}]"), s, base))
        .collect::<Result<Vec<_>, _>>()?;
    let outbound = raw
        .outbound_secret
        .ok_or_else(|| err("bridge.outbound_secret", "required"))?;
    Ok(BridgeConfig {
        events_url: url("bridge.events_url", raw.events_url)?,
        inbound_secrets,
        outbound_secret: webhook_secret("bridge.outbound_secret", &outbound, base)?,
        timeout: Duration::from_millis(within(
            "bridge.timeout_ms",
            raw.timeout_ms.unwrap_or(5000),
            100,
            60_000,
        )?),
        retry_max: secs(within(
            "bridge.retry_max_secs",
            raw.retry_max_secs.unwrap_or(60),
            1,
            3600,
        )?),
    })
}

fn directory(raw: RawDirectory, base: &Path) -> Result<DirectoryConfig, ConfigError> {
    let refresh = secs(within(
        "directory.refresh_secs",
        raw.refresh_secs.unwrap_or(300),
        5,
        86_400,
    )?);
    let source = match raw.source.as_deref() {
        Some("csv") => DirectorySource::Csv(base.join(raw.csv_path.ok_or_else(|| {
            err(
                "directory.csv_path",
                "required when directory.source = \"csv\"",
            )
        })?)),
        Some("ldap") => DirectorySource::Ldap(Box::new(ldap(
            raw.ldap.ok_or_else(|| {
                err(
                    "directory.ldap",
                    "required when directory.source = \"ldap\"",
                )
            })?,
            base,
        )?)),
        Some(other) => {
            return Err(err(
                "directory.source",
                format!("{other:?} is neither \"csv\" nor \"ldap\""),
            ));
        }
        None => return Err(err("directory.source", "required: \"csv\" or \"ldap\"")),
    };
    Ok(DirectoryConfig { source, refresh })
}

fn ldap(raw: RawLdap, base: &Path) -> Result<LdapConfig, ConfigError> {
    let url = raw.url.ok_or_else(|| {
        err(
            "directory.ldap.url",
            "required, e.g. ldaps://dc1.example.local",
        )
    })?;
    if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
        return Err(err(
            "directory.ldap.url",
            "must start with ldap:// or ldaps://",
        ));
    }
    let bind_password = raw
        .bind_password
        .map(|p| resolve_secret("directory.ldap.bind_password", &p, base))
        .transpose()?;
    if raw.bind_dn.is_some() != bind_password.is_some() {
        return Err(err(
            "directory.ldap.bind_dn",
            "bind_dn and bind_password go together",
        ));
    }
    let s = |v: Option<String>, d: &str| v.unwrap_or_else(|| d.to_string());
    Ok(LdapConfig {
        url,
        bind_dn: raw.bind_dn,
        bind_password,
        base_dn: raw
            .base_dn
            .ok_or_else(|| err("directory.ldap.base_dn", "required"))?,
        filter: s(raw.filter, "(&(objectClass=person)(mail=*))"),
        attr_id: s(raw.attr_id, "sAMAccountName"),
        attr_name: s(raw.attr_name, "displayName"),
        attr_email: s(raw.attr_email, "mail"),
        attr_sip_uri: s(raw.attr_sip_uri, "msRTCSIP-PrimaryUserAddress"),
        attr_groups: s(raw.attr_groups, "memberOf"),
        timeout: secs(within(
            "directory.ldap.timeout_secs",
            raw.timeout_secs.unwrap_or(10),
            1,
            300,
        )?),
    })
}

fn sip(raw: RawSip, base: &Path) -> Result<Option<SipConfig>, ConfigError> {
    if raw.enabled == Some(false) {
        return Ok(None);
    }
    let server = raw.server.ok_or_else(|| {
        err(
            "sip.server",
            "required, e.g. \"swyx.example.local:5060\" (or set sip.enabled = false)",
        )
    })?;
    let transport = match raw
        .transport
        .as_deref()
        .unwrap_or("udp")
        .to_ascii_lowercase()
        .as_str()
    {
        "udp" => SipTransport::Udp,
        "tcp" => SipTransport::Tcp,
        "tls" => SipTransport::Tls,
        other => {
            return Err(err(
                "sip.transport",
                format!("{other:?} is not udp, tcp or tls"),
            ));
        }
    };
    let host = server
        .rsplit_once(':')
        .map_or(server.as_str(), |(h, _)| h)
        .to_string();
    let username = raw.username.ok_or_else(|| {
        err(
            "sip.username",
            "required (the monitor user's SIP user name)",
        )
    })?;
    let password = resolve_secret(
        "sip.password",
        &raw.password
            .ok_or_else(|| err("sip.password", "required"))?,
        base,
    )?;
    let template = raw
        .watch_uri_template
        .unwrap_or_else(|| "sip:{user}@{domain}".into());
    if !template.contains("{user}") {
        return Err(err("sip.watch_uri_template", "must contain {user}"));
    }
    Ok(Some(SipConfig {
        transport,
        domain: raw.domain.unwrap_or(host),
        auth_username: raw.auth_username.unwrap_or_else(|| username.clone()),
        username,
        password,
        local_address: addr(
            "sip.local_address",
            raw.local_address.as_deref().unwrap_or("0.0.0.0:0"),
        )?,
        register_expires: within(
            "sip.register_expires_secs",
            raw.register_expires_secs.unwrap_or(600).into(),
            10,
            86_400,
        )? as u32,
        subscribe_expires: within(
            "sip.subscribe_expires_secs",
            raw.subscribe_expires_secs.unwrap_or(3600).into(),
            10,
            86_400,
        )? as u32,
        subscribe_rate_per_sec: within(
            "sip.subscribe_rate_per_sec",
            raw.subscribe_rate_per_sec.unwrap_or(20).into(),
            1,
            1000,
        )? as u32,
        retry_min: Duration::from_millis(within(
            "sip.retry_min_ms",
            raw.retry_min_ms.unwrap_or(1000),
            10,
            60_000,
        )?),
        retry_max: secs(within(
            "sip.retry_max_secs",
            raw.retry_max_secs.unwrap_or(300),
            1,
            3600,
        )?),
        watch_uri_template: template,
        t1: Duration::from_millis(within("sip.t1_ms", raw.t1_ms.unwrap_or(500), 10, 5000)?),
        tls_ca_file: raw.tls_ca_file.map(|f| base.join(f)),
        tls_server_name: raw.tls_server_name,
        server,
    }))
}

fn presence(raw: RawPresence) -> Result<PresenceConfig, ConfigError> {
    let d = PresenceConfig::default();
    let norm = |v: Option<Vec<String>>, d: Vec<String>| {
        v.map(|v| v.iter().map(|s| s.trim().to_lowercase()).collect())
            .unwrap_or(d)
    };
    let p = PresenceConfig {
        speaking: norm(raw.speaking, d.speaking),
        available: norm(raw.available, d.available),
        away: norm(raw.away, d.away),
        do_not_disturb: norm(raw.do_not_disturb, d.do_not_disturb),
        logged_off: norm(raw.logged_off, d.logged_off),
        status_changed: raw.status_changed.unwrap_or(d.status_changed),
        teams_echo_window: secs(within(
            "presence.teams_echo_window_secs",
            raw.teams_echo_window_secs.unwrap_or(30),
            0,
            3600,
        )?),
        ignore_active_while_teams_speaking: raw
            .ignore_active_while_teams_speaking
            .unwrap_or(d.ignore_active_while_teams_speaking),
    };
    if p.speaking.is_empty() {
        return Err(err(
            "presence.speaking",
            "needs at least one value (the one meaning \"speaking\")",
        ));
    }
    let lists = [
        &p.speaking,
        &p.available,
        &p.away,
        &p.do_not_disturb,
        &p.logged_off,
    ];
    let mut seen = std::collections::HashSet::new();
    for v in lists.iter().flat_map(|l| l.iter()) {
        if !seen.insert(v) {
            return Err(err(
                "presence",
                format!("the value {v:?} is listed for two states"),
            ));
        }
    }
    Ok(p)
}

fn writer(raw: RawWriter, base: &Path) -> Result<WriterConfig, ConfigError> {
    match raw.kind.as_deref() {
        Some("log") => Ok(WriterConfig::Log),
        Some("command") => {
            let c = raw
                .command
                .ok_or_else(|| err("writer.command", "required when writer.kind = \"command\""))?;
            let program = c
                .program
                .ok_or_else(|| err("writer.command.program", "required"))?;
            Ok(WriterConfig::Command(CommandWriterConfig {
                program: base.join(program),
                args: c.args.unwrap_or_default(),
                timeout: secs(within(
                    "writer.command.timeout_secs",
                    c.timeout_secs.unwrap_or(10),
                    1,
                    600,
                )?),
                retries: within(
                    "writer.command.retries",
                    c.retries.unwrap_or(2).into(),
                    0,
                    10,
                )? as u32,
                retry_backoff: Duration::from_millis(within(
                    "writer.command.retry_backoff_ms",
                    c.retry_backoff_ms.unwrap_or(500),
                    0,
                    60_000,
                )?),
            }))
        }
        Some("http") => {
            let h = raw
                .http
                .ok_or_else(|| err("writer.http", "required when writer.kind = \"http\""))?;
            let secret = h
                .secret
                .ok_or_else(|| err("writer.http.secret", "required (whsec_…)"))?;
            Ok(WriterConfig::Http(Box::new(HttpWriterConfig {
                url: url("writer.http.url", h.url)?,
                secret: webhook_secret("writer.http.secret", &secret, base)?,
                timeout: Duration::from_millis(within(
                    "writer.http.timeout_ms",
                    h.timeout_ms.unwrap_or(5000),
                    100,
                    60_000,
                )?),
                retries: within("writer.http.retries", h.retries.unwrap_or(2).into(), 0, 10)?
                    as u32,
            })))
        }
        Some(other) => Err(err(
            "writer.kind",
            format!("{other:?} is not command, http or log"),
        )),
        None => Err(err(
            "writer.kind",
            "required: \"command\", \"http\" or \"log\"",
        )),
    }
}
