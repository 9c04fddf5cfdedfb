//! Received frames at a tunnel endpoint: `classify_outer` never panics, and a frame it takes for a
//! tunnel packet holds its outer headers and inner frame (`outer_len + inner_len` within the
//! frame, the inner frame at least an Ethernet header); the inner flow hash never panics either.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::tunnel::header::{classify_outer, inner_flow_hash, Outer, TunnelKind, UdpTunnelPorts};

fuzz_target!(|data: &[u8]| {
    let mut ports = UdpTunnelPorts::new();
    ports.add(4789, TunnelKind::Vxlan);
    ports.add(6081, TunnelKind::Geneve);
    if let Outer::Tunnel(decap) = classify_outer(data, &ports, |_| true) {
        assert!(decap.outer_len + decap.inner_len <= data.len(), "{decap:?} of a {}-byte frame", data.len());
        assert!(decap.inner_len >= 14, "{decap:?}");
        let inner = &data[decap.outer_len..decap.outer_len + decap.inner_len];
        inner_flow_hash(inner);
    }
    inner_flow_hash(data);
});
