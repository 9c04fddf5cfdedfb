//! The OpenFlow pipeline of a bridge: its flow tables (`table`), group table (`group`) and
//! meters (`meter`), built and changed by the management thread, looked up by the PMD threads
//! through immutable snapshots; `xlate` runs them for a packet; `keepalive`: the learned
//! entries a cached megaflow's traffic refreshes.
#![forbid(unsafe_code)]

pub mod dependencies;
pub mod group;
pub mod keepalive;
pub mod meter;
pub mod table;
pub mod xlate;
