//! The tunnel stage (between rx and parse for decapsulation, after the actions for
//! encapsulation) and the underlay it needs: the outer headers of VXLAN, Geneve and GRE over IPv4
//! and IPv6 (`header`: built once per cached flow, pushed per packet; parsed and validated on
//! receive), the route table (`route`) and the neighbour cache (`neighbour`) that resolve a
//! remote tunnel endpoint to an underlay bridge, source address and next-hop MAC.
//! Pure safe Rust over `packet::PacketBuf`, unit tested without DPDK.
#![forbid(unsafe_code)]

pub mod header;

pub use header::{
    classify_outer, inner_flow_hash, BuildError, DecapError, Decapsulation, Outer, OuterHeader, OuterSpec, PushError,
    TunnelKind, TunnelMetadata, UdpTunnelPorts, MAX_OUTER_LEN, TUN_FLAG_CSUM, TUN_FLAG_DF, TUN_FLAG_KEY, TUN_FLAG_OAM,
};
