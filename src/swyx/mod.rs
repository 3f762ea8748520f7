//! The Swyx connector: the client for status pushes and the user list. The wire bodies and the
//! Standard Webhooks signatures that authenticate both directions of the contract
//! (`infra/connector-openapi.yaml`) live in the `swyx-contract` crate, shared with the
//! `swyx-connector`.

pub mod client;
pub mod wire;

pub use swyx_contract::signature;
