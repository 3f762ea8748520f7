//! What follows from the cloud the bridge is configured for: the Graph resource a token is asked
//! for is the configured Graph base URL's origin (`https://graph.microsoft.us` in US Government
//! L4), and a national cloud's tokens are issued by its own authority. Graph documents the
//! scope as `{resource}/.default` (client credentials) and `{resource}/{permission}` (delegated).

/// The global service's Graph resource.
pub const GLOBAL_GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// The Graph resource tokens are asked for: `https://graph.microsoft.com` of
/// `https://graph.microsoft.com/v1.0` (scheme, host and a non-default port, the way Entra names
/// it). A loopback base URL is an emulator standing in for the global service (configuration
/// allows plain http only there), so it keeps the global resource.
pub fn graph_origin(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(url) if is_loopback(&url) => GLOBAL_GRAPH_RESOURCE.to_string(),
        Ok(url) if url.has_host() => url.origin().ascii_serialization(),
        // Configuration checks base URLs; should one slip through, everything before the path.
        _ => {
            let after_scheme = base_url.find("://").map_or(0, |i| i + 3);
            let end = base_url[after_scheme..]
                .find('/')
                .map_or(base_url.len(), |i| after_scheme + i);
            base_url[..end].to_string()
        }
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(crate::config::is_loopback_host)
}

/// The client-credentials scope: every application permission granted on the Graph resource.
pub fn app_scope(graph_base_url: &str) -> String {
    format!("{}/.default", graph_origin(graph_base_url))
}

/// The delegated scope a sync account consents to: presence subscriptions need
/// `Presence.Read.All`, and `offline_access` gives the refresh token.
pub fn sync_account_scope(graph_base_url: &str) -> String {
    format!(
        "{}/Presence.Read.All offline_access",
        graph_origin(graph_base_url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_GRAPH_BASE_URL;

    #[test]
    fn the_global_service_keeps_its_scopes() {
        assert_eq!(
            app_scope(DEFAULT_GRAPH_BASE_URL),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            sync_account_scope(DEFAULT_GRAPH_BASE_URL),
            "https://graph.microsoft.com/Presence.Read.All offline_access"
        );
    }

    #[test]
    fn a_national_cloud_base_url_names_its_own_resource() {
        assert_eq!(
            app_scope("https://graph.microsoft.us/v1.0"),
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(
            sync_account_scope("https://dod-graph.microsoft.us/v1.0/"),
            "https://dod-graph.microsoft.us/Presence.Read.All offline_access"
        );
        assert_eq!(
            app_scope("https://microsoftgraph.chinacloudapi.cn/v1.0"),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        // A default port is not part of the resource's name; another port is.
        assert_eq!(
            graph_origin("https://graph.microsoft.us:443/v1.0"),
            "https://graph.microsoft.us"
        );
        // An emulator on a loopback address stands in for the global service.
        assert_eq!(
            app_scope("http://127.0.0.1:9/v1.0"),
            "https://graph.microsoft.com/.default"
        );
    }
}
