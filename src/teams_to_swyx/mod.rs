//! Teams → Swyx, the path of one Teams presence change: Graph's notification arrives at
//! [`intake`], [`authenticate`] makes sure it is Graph's and ours (the subscriptions read through
//! [`known_subscriptions`]) and decrypts it, [`decide`]
//! judges it against the user's stored state (order, echo guard, mapping), [`deliver`] sends the
//! resulting update to the connector, and what could not be delivered is sent again by
//! [`redeliver`] during maintenance.
//! [`reconcile`] reads presences in bulk and puts them through the same decision, in batches
//! ([`decide_many`]);
//! [`swyx_truth`] then compares what the connector holds with what was decided. What they need
//! from the connector and from Graph is in [`ports`].

pub mod authenticate;
pub mod decide;
pub mod decide_many;
pub mod deliver;
pub mod intake;
pub mod known_subscriptions;
pub mod ports;
pub mod reconcile;
pub mod redeliver;
pub mod store_refusals;
pub mod swyx_truth;

#[cfg(test)]
mod redeliver_tests;
#[cfg(test)]
mod tests;
