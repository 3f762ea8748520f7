//! The LDAP / Active Directory source (`ldap3`): one bind, one paged subtree search with the
//! administrator's filter, attribute names from the configuration. Paging (RFC 2696) because
//! Active Directory returns at most 1,000 entries per plain search.

use super::{DirectoryError, DirectoryUser};
use crate::config::LdapConfig;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

const PAGE_SIZE: i32 = 500;

pub async fn read(cfg: &LdapConfig) -> Result<Vec<DirectoryUser>, DirectoryError> {
    tokio::time::timeout(cfg.timeout * 6, read_inner(cfg))
        .await
        .map_err(|_| DirectoryError::Ldap(format!("no complete answer from {} in time", cfg.url)))?
}

async fn read_inner(cfg: &LdapConfig) -> Result<Vec<DirectoryUser>, DirectoryError> {
    let fail = |what: &str, e: ldap3::LdapError| DirectoryError::Ldap(format!("{what}: {e}"));
    let settings = LdapConnSettings::new().set_conn_timeout(cfg.timeout);
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
        .await
        .map_err(|e| fail(&format!("connecting to {}", cfg.url), e))?;
    ldap3::drive!(conn);
    ldap.with_timeout(cfg.timeout);
    if let (Some(dn), Some(pw)) = (&cfg.bind_dn, &cfg.bind_password) {
        ldap.simple_bind(dn, pw)
            .await
            .and_then(|r| r.success())
            // The error names the DN, never the password.
            .map_err(|e| fail(&format!("bind as {dn}"), e))?;
    }
    let attrs = vec![
        cfg.attr_id.clone(),
        cfg.attr_name.clone(),
        cfg.attr_email.clone(),
        cfg.attr_sip_uri.clone(),
        cfg.attr_groups.clone(),
    ];
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE_SIZE)),
    ];
    let mut stream = ldap
        .streaming_search_with(adapters, &cfg.base_dn, Scope::Subtree, &cfg.filter, attrs)
        .await
        .map_err(|e| fail(&format!("search under {}", cfg.base_dn), e))?;
    let mut users = Vec::new();
    while let Some(entry) = stream
        .next()
        .await
        .map_err(|e| fail("reading the search results", e))?
    {
        let e = SearchEntry::construct(entry);
        let first = |a: &str| {
            e.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(a))
                .and_then(|(_, v)| v.first())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let Some(id) = first(&cfg.attr_id) else {
            tracing::warn!(dn = %e.dn, attribute = %cfg.attr_id, "LDAP entry without a Swyx user id skipped");
            continue;
        };
        let groups = e
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&cfg.attr_groups))
            .map(|(_, v)| v.iter().map(|g| group_name(g)).collect())
            .unwrap_or_default();
        users.push(DirectoryUser {
            name: first(&cfg.attr_name).unwrap_or_else(|| id.clone()),
            email: first(&cfg.attr_email),
            sip_uri: first(&cfg.attr_sip_uri).map(|s| sip_uri(&s)),
            groups,
            swyx_user_id: id,
        });
    }
    let result = stream.finish().await;
    result
        .success()
        .map_err(|e| fail("finishing the search", e))?;
    let _ = ldap.unbind().await;
    Ok(users)
}

/// `memberOf` holds DNs (`CN=Sales,OU=Groups,DC=example,DC=local`): the group is the first RDN's
/// value. A plain value (e.g. from a custom attribute) is kept as it is.
fn group_name(value: &str) -> String {
    let first = value.split(',').next().unwrap_or(value);
    match first.split_once('=') {
        Some((_, v)) if value.contains(',') => v.trim().to_string(),
        _ => value.trim().to_string(),
    }
}

/// AD's `msRTCSIP-PrimaryUserAddress` is already `sip:…`; a bare address gets the scheme.
fn sip_uri(value: &str) -> String {
    if value.to_ascii_lowercase().starts_with("sip:")
        || value.to_ascii_lowercase().starts_with("sips:")
    {
        value.to_string()
    } else {
        format!("sip:{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_the_first_rdn_of_a_dn_and_sip_addresses_get_a_scheme() {
        assert_eq!(
            group_name("CN=Sales,OU=Groups,DC=example,DC=local"),
            "Sales"
        );
        assert_eq!(group_name("Berlin"), "Berlin");
        assert_eq!(sip_uri("alice@example.com"), "sip:alice@example.com");
        assert_eq!(sip_uri("SIP:alice@example.com"), "SIP:alice@example.com");
    }
}
