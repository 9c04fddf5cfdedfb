//! OpenFlow: the wire codec (OpenFlow 1.3 first, 1.4 and 1.5 where their layouts differ (`oxs`:
//! 1.5's flow statistics), 1.0 for the tools that still speak it, and the Nicira extensions
//! ovs-ofctl emits) and the controller connections (`targets`: the listeners,
//! the active controllers with their reconnection and the management socket of each bridge;
//! `conn`: one connection, however it was opened; `bundle`: its bundles; `registry`: the
//! connections of a bridge, their push queues, roles and flow monitors; `monitor`: the flow
//! monitors' core and their wire formats, 1.4's and Open vSwitch's; `tls`: the TLS identity and streams of
//! `tls:`/`ptls:` targets; `service`: what they ask of the management thread). The codec is safe
//! Rust over byte slices: every decoder returns an [`OfError`] carrying the OFPT_ERROR type and
//! code to answer with, never panics on malformed input.
#![forbid(unsafe_code)]
pub mod actions;
pub mod bundle;
pub mod conn;
pub mod message;
pub mod meters;
pub mod monitor;
pub mod multipart;
pub mod nicira;
pub mod oxm;
pub mod oxs;
pub mod registry;
pub mod service;
pub mod targets;
pub mod tls;
pub mod wire;

pub use wire::{read_port, write_port, ErrorType, OfError, Reader, Version, Writer};
#[cfg(test)]
mod message_tests;
#[cfg(test)]
mod message_tests_v14;
