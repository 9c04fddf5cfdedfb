//! Tests of the packet module: a packet builder with from-scratch checksums, extraction of every
//! protocol and of every truncation of sample packets, every rewrite checked by re-extraction and
//! recomputed checksums, MPLS, and a deterministic random-bytes run.

pub(crate) mod builder;
mod extract;
mod mpls;
mod random;
mod rewrite;
mod samples;
