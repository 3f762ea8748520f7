//! Swyx → Teams, the path of one Swyx call: the connector's signed event arrives at [`intake`],
//! the user's call set is updated, and [`session`] brings the bridge's Graph presence session in
//! line ("In a call" while any call is active). [`upkeep`] keeps sessions alive, retries Graph
//! and ends calls that never ended, during maintenance; [`swyx_calls`] compares the calls with
//! the connector's (contract 1.2) and repairs a lost call event at the next pass. What they need from Graph is in
//! [`ports`].

pub mod end_calls;
pub mod intake;
pub mod own_status;
pub mod ports;
mod preferred_retry;
pub mod read_back;
pub mod session;
mod switched_off;
pub mod swyx_calls;
pub mod upkeep;

#[cfg(test)]
mod own_status_tests;
#[cfg(test)]
mod swyx_calls_tests;
#[cfg(test)]
mod tests;
