//! The OpenFlow pipeline of a bridge: its flow tables (`table`) and group table (`group`), built
//! and changed by the management thread, looked up by the PMD threads through immutable
//! snapshots; the translation of a packet through them (`xlate`).

pub mod group;
pub mod table;
pub mod xlate;
