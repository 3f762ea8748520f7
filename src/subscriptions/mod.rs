//! Presence subscriptions that never lapse: [`sync_accounts`] holds the sync accounts' delegated
//! tokens (sealed, rotating), [`upkeep`] is one maintenance run over all accounts (sharding,
//! lifecycle notifications), [`account_upkeep`] brings one account's subscription up to date.
//! What they need from Graph and the login endpoint is in [`ports`].

pub mod account_upkeep;
pub mod ports;
pub mod sync_accounts;
pub mod upkeep;
