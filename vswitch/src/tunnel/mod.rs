//! The tunnel stage (between rx and parse for decapsulation, after the actions for
//! encapsulation) and the underlay it needs: the outer headers of VXLAN, Geneve and GRE over IPv4
//! and IPv6 (`header`: built once per cached flow, pushed per packet; parsed and validated on
//! receive), the route table (`route`) and the neighbour cache (`neighbour`) that resolve a
//! remote tunnel endpoint to an underlay bridge, source address and next-hop MAC.
//! Pure safe Rust over `packet::PacketBuf`, unit tested without DPDK.
#![forbid(unsafe_code)]

pub mod header;
pub mod neighbour;
pub mod port;
pub mod route;
pub mod vtep;

pub use neighbour::{
    arp_probe, arp_reply, arp_request, neighbour_advertisement, neighbour_probe, neighbour_solicitation,
    parse_neighbour_message, Expired, Hold, Learned, NeighbourCache, NeighbourLimits, NeighbourMessage, NeighbourState,
    ResolvedNeighbour,
};
pub use route::{Prefix, Route, RouteOrigin, RouteTable};

pub use header::TunnelKind;
