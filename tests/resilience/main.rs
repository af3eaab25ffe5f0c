//! Resilience: feedloop under faults — broker outages and recreated topics,
//! failing object storage, floods of bad input, and the failover of the
//! instance running the window jobs. One test binary (one link) for all of them.

#[path = "../harness/mod.rs"]
mod harness;

mod broker_faults;
mod failover;
mod flood;
mod soak;
mod storage_faults;
