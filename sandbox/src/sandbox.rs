//! The whole sandbox in one handle: the emulated Graph tenant, the emulated SwyxServer connector and
//! the scenario API, on one clock, each on a free loopback port.

use crate::Clock;
use crate::control::{self, ControlServer, GraphHandleLike};
use crate::graph::{GraphEmulator, GraphOptions};
use crate::swyx::{SwyxEmulator, SwyxOptions, webhook};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub tenant_id: String,
    pub app_id: String,
    /// Where the emulated connector sends speaking events (the bridge's `/swyx/events`), if known yet.
    pub bridge_events_url: Option<String>,
    pub throttle_per_30s: Option<u32>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            tenant_id: "9f4ebab6-520d-49c0-85cc-7b25c78d4a93".to_string(),
            app_id: "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0".to_string(),
            bridge_events_url: None,
            throttle_per_30s: None,
        }
    }
}

pub struct Sandbox {
    pub clock: Clock,
    pub graph: GraphEmulator,
    pub swyx: SwyxEmulator,
    pub control: ControlServer,
    pub tenant_id: String,
    pub app_id: String,
    /// The app's client secret at the emulated token endpoint.
    pub client_secret: String,
    /// `whsec_` secret the bridge signs connector requests with.
    pub connector_secret: String,
    /// `whsec_` secret the connector signs events to the bridge with.
    pub events_secret: String,
}

impl Sandbox {
    pub async fn start(opts: SandboxOptions) -> anyhow::Result<Self> {
        let clock = Clock::new();
        let client_secret = format!("sandbox-secret-{}", uuid::Uuid::new_v4().simple());
        let connector_secret = webhook::generate_secret();
        let events_secret = webhook::generate_secret();
        let graph = GraphEmulator::start(GraphOptions {
            tenant_id: opts.tenant_id.clone(),
            app_id: opts.app_id.clone(),
            client_secret: client_secret.clone(),
            throttle_per_30s: opts.throttle_per_30s,
            clock: clock.clone(),
        })
        .await?;
        let swyx = SwyxEmulator::start(SwyxOptions {
            inbound_secret: connector_secret.clone(),
            outbound_secret: events_secret.clone(),
            bridge_events_url: opts.bridge_events_url.clone(),
            clock: clock.clone(),
        })
        .await?;
        let graph_control: GraphHandleLike = Arc::new(graph.clone());
        let control = control::serve_control(Some(graph_control), swyx.clone()).await?;
        Ok(Self {
            clock,
            graph,
            swyx,
            control,
            tenant_id: opts.tenant_id,
            app_id: opts.app_id,
            client_secret,
            connector_secret,
            events_secret,
        })
    }

    /// Adds one person to both sides: an Entra user in the tenant and a Swyx user with the same e-mail.
    pub fn add_person(&self, entra_id: &str, swyx_user_id: &str, email: &str, name: &str) {
        self.graph.add_user(entra_id, email, name);
        self.swyx.add_user(swyx_user_id, name, email);
    }

    /// Everything a bridge (or a person) needs to talk to this sandbox, as one JSON object.
    pub fn info_json(&self) -> serde_json::Value {
        serde_json::json!({
            "controlUrl": self.control.url(),
            "graph": {
                "baseUrl": self.graph.base_url(),
                "graphUrl": self.graph.graph_url(),
                "authorityUrl": self.graph.authority_url(),
                "jwksUrl": self.graph.jwks_url(),
                "tenantId": self.tenant_id,
                "appId": self.app_id,
                "clientSecret": self.client_secret,
            },
            "swyx": {
                "connectorUrl": self.swyx.url(),
                "inboundSecret": self.connector_secret,
                "outboundSecret": self.events_secret,
            },
        })
    }
}
