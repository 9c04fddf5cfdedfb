//! Received frames at a tunnel endpoint: `classify_outer` never panics, and a frame it takes for a
//! tunnel packet holds its outer headers and inner frame (`outer_len + inner_len` within the
//! frame, the inner frame at least an Ethernet header); the inner flow hash never panics either.
//! The datapath's decap stage (`Decap::classify`: the receiving tunnel port, the underlay port's
//! MTU) never panics, and what it decapsulates fits the MTU.
#![no_main]
#![forbid(unsafe_code)]
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use vswitch::datapath::{Decap, DecapVerdict, TunnelReceiver};
use vswitch::tunnel::header::{classify_outer, inner_flow_hash, Outer, TunnelKind, TunnelMetadata, UdpTunnelPorts};

/// The MTU of the underlay port of the fuzzed decap stage.
const MTU: u16 = 1500;

fuzz_target!(|data: &[u8]| {
    let mut ports = UdpTunnelPorts::new();
    ports.add(4789, TunnelKind::Vxlan);
    ports.add(6081, TunnelKind::Geneve);
    let classified = classify_outer(data, &ports, |_| true);
    if let Outer::Tunnel(decap) = classified {
        assert!(decap.outer_len + decap.inner_len <= data.len(), "{decap:?} of a {}-byte frame", data.len());
        assert!(decap.inner_len >= 14, "{decap:?}");
        let inner = &data[decap.outer_len..decap.outer_len + decap.inner_len];
        inner_flow_hash(inner);
    }
    inner_flow_hash(data);

    // Any local address, any VXLAN or Geneve key from anywhere; GRE with key 1 only.
    let receiver = |kind, dst_port, in_key| TunnelReceiver {
        kind,
        dst_port,
        remote: None,
        local: None,
        group: None,
        in_key,
        bridge: 0,
        dp_port: 40,
    };
    let stage = Decap {
        ports,
        locals: vec![IpAddr::V4(Ipv4Addr::new(172, 31, 1, 1))],
        groups: Vec::new(),
        receivers: vec![
            receiver(TunnelKind::Gre, 0, Some(1)),
            receiver(TunnelKind::Vxlan, 4789, None),
            receiver(TunnelKind::Geneve, 6081, None),
        ],
        mtu: MTU,
    };
    let mut meta = TunnelMetadata::EMPTY;
    if let DecapVerdict::Tunnel { outer_len, .. } = stage.classify(data, &mut meta) {
        // The stage classifies as classify_outer does, then refuses what exceeds the MTU.
        let Outer::Tunnel(decap) = classify_outer(data, &stage.ports, |ip| stage.is_local(ip)) else {
            panic!("decapsulated what classify_outer refuses")
        };
        assert_eq!(outer_len, decap.outer_len);
        assert!(decap.outer_len + decap.inner_len - 14 <= usize::from(MTU), "{decap:?} beyond the MTU");
    }
});
