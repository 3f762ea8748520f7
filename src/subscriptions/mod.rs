//! Presence subscriptions that never lapse: [`sync_accounts`] holds the sync accounts' delegated
//! tokens (sealed, rotating), [`upkeep`] is one maintenance run over all accounts (sharding,
//! lifecycle notifications), [`account_upkeep`] brings one account's subscription up to date.

pub mod account_upkeep;
pub mod sync_accounts;
pub mod upkeep;
