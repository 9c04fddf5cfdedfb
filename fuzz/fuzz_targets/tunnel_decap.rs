//! Received frames at a tunnel endpoint: `classify_outer` never panics, and a frame it takes for a
//! tunnel packet holds its outer headers and inner frame (`outer_len + inner_len` within the
//! frame, the inner frame at least an Ethernet header); the inner flow hash never panics either.
//! The datapath's decap stage (`Decap::classify`: the receiving tunnel port, the underlay port's
//! MTU) never panics, and what it decapsulates fits the MTU.
//! Geneve options are parsed against a TLV map (one option critical): only Geneve packets carry
//! mapped options. Half of the inputs get a correct outer IPv4 header checksum (and IPv6 a zero
//! UDP checksum), so that the tunnel headers behind them get explored.
#![no_main]
#![forbid(unsafe_code)]
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use vswitch::datapath::{Decap, DecapVerdict, TunnelReceiver};
use vswitch::flow::tun_metadata::TlvMapping;
use vswitch::tunnel::header::{classify_outer, inner_flow_hash, Outer, TunnelKind, TunnelMetadata, UdpTunnelPorts};

/// The MTU of the underlay port of the fuzzed decap stage.
const MTU: u16 = 1500;

/// Makes the outer IPv4 header checksum right, or an IPv6 packet's UDP checksum zero (accepted),
/// where the frame has room for them.
fn honest_checksums(frame: &mut [u8]) {
    match frame.get(12..14) {
        Some([0x08, 0x00]) => {
            let header_len = usize::from(frame.get(14).map_or(0, |b| b & 0x0f)) * 4;
            let Some(header) = frame.get_mut(14..14 + header_len.max(20)) else { return };
            header[10..12].fill(0);
            let sum =
                header.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]))).sum::<u32>();
            let folded = (sum & 0xffff) + (sum >> 16);
            let folded = (folded & 0xffff) + (folded >> 16);
            header[10..12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
        }
        Some([0x86, 0xdd]) => {
            if let Some(checksum) = frame.get_mut(14 + 40 + 6..14 + 40 + 8) {
                checksum.fill(0);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut frame = data.to_vec();
    if data.last().is_some_and(|b| b & 1 == 0) {
        honest_checksums(&mut frame);
    }
    let data = frame.as_slice();
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

    // Any local address, any VXLAN or Geneve key from anywhere; GRE with key 1 only.
    let receiver = |kind, dst_port, in_key| TunnelReceiver {
        kind,
        dst_port,
        remote: None,
        local: None,
        group: None,
        in_key,
        gbp: false,
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
