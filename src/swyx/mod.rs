//! The Swyx connector: the client for status pushes, the user list and who is speaking now. The wire bodies and the
//! Standard Webhooks signatures that authenticate both directions of the contract
//! (`infra/connector-openapi.yaml`) live in the `swyx-contract` crate, shared with the
//! `swyx-connector`.

pub mod client;
mod speaking_list;
pub mod wire;

pub use swyx_contract::signature;
