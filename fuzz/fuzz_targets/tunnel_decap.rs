//! Received frames at a tunnel endpoint: `classify_outer` never panics, and a frame it takes for a
//! tunnel packet holds its outer headers and inner frame (`outer_len + inner_len` within the
//! frame, the inner frame at least an Ethernet header); the inner flow hash never panics either.
//! Geneve options are parsed against a TLV map (one option critical): only Geneve packets carry
//! mapped options.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::flow::tun_metadata::TlvMapping;
use vswitch::tunnel::header::{classify_outer, inner_flow_hash, Outer, TunnelKind, UdpTunnelPorts};

fuzz_target!(|data: &[u8]| {
    let mut ports = UdpTunnelPorts::new();
    ports.add(4789, TunnelKind::Vxlan);
    ports.add(6081, TunnelKind::Geneve);
    let mapping = |class, kind, len, offset| TlvMapping { class, kind, len, index: 0, offset };
    ports.map_geneve_options(&[mapping(0xffff, 1, 4, 0), mapping(0x0102, 0x80, 8, 4), mapping(0, 0, 16, 16)]);
    if let Outer::Tunnel(decap) = classify_outer(data, &ports, |_| true) {
        assert!(!decap.meta.has_options || decap.meta.kind == TunnelKind::Geneve, "{decap:?}");
        assert!(decap.outer_len + decap.inner_len <= data.len(), "{decap:?} of a {}-byte frame", data.len());
        assert!(decap.inner_len >= 14, "{decap:?}");
        let inner = &data[decap.outer_len..decap.outer_len + decap.inner_len];
        inner_flow_hash(inner);
    }
    inner_flow_hash(data);
});
