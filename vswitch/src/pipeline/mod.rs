//! The OpenFlow pipeline of a bridge: its flow tables (`table`), built and changed by the
//! management thread, looked up by the PMD threads through immutable snapshots.

pub mod table;
pub mod xlate;
