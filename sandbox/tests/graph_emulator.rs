//! The emulated Microsoft Graph tenant, exercised over real HTTP on loopback.

#[path = "graph_emulator/notifications.rs"]
mod notifications;
#[path = "graph_emulator/presence.rs"]
mod presence;
#[path = "graph_emulator/subscriptions.rs"]
mod subscriptions;
#[path = "graph_emulator/support.rs"]
mod support;
#[path = "graph_emulator/tokens.rs"]
mod tokens;
