//! Packets from the wire: `extract` never panics and its offsets stay inside the packet; the
//! rewrites, given the `Layers` it returned, never panic and never find them truncated; a VLAN
//! push then pop gives the packet back, and an MPLS push then pop too; a port rewrite shows in
//! the re-extracted key; a right IPv4 header checksum stays right; ipv6_exthdr has only
//! OpenFlow's flags; a frame `same_headers` takes for a repeat parses alike.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::flow::key::{words, Field, FlowKey};
use vswitch::packet::proto::{ethertype, ipv6_exthdr};
use vswitch::packet::rewrite::{self, RewriteError};
use vswitch::packet::{extract, same_headers, Layers, PacketBuf, TestBuf};

const LINK_LOCAL: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Is the IPv4 header checksum of the packet right (a full sum over the header)?
fn ipv4_header_checksum_ok(data: &[u8], layers: &Layers) -> bool {
    let Some(l3) = layers.l3.map(|at| usize::from(at.get())) else { return false };
    if layers.dl_type != ethertype::IPV4 {
        return false;
    }
    let header_len = usize::from(data[l3] & 0x0f) * 4;
    let mut sum: u32 = data[l3..l3 + header_len].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn not_truncated<T>(result: Result<T, RewriteError>) -> Result<T, RewriteError> {
    assert!(!matches!(result, Err(RewriteError::Truncated)), "fresh layers reported truncated");
    result
}

fuzz_target!(|data: &[u8]| {
    let mut key = FlowKey::default();
    let layers = extract(data, 1, &mut key);
    for offset in [layers.l2_5, layers.l3, layers.l4].into_iter().flatten() {
        assert!(usize::from(offset.get()) < data.len());
    }

    // ipv6_exthdr holds only OpenFlow's 9 flags, and only in the key of an IPv6 header.
    let exthdr = key.get(Field::Ipv6Exthdr);
    let exthdr = u16::from_be_bytes([exthdr[0], exthdr[1]]);
    assert_eq!(exthdr & !ipv6_exthdr::ALL, 0);
    if layers.present & words::IPV6_LABEL == 0 {
        assert_eq!(exthdr, 0);
    }

    // A variant with bytes changed from a position and at a stride the input's first two bytes
    // pick: whenever the repeat check accepts it, its key and layers are the original's.
    let stride = usize::from(data.first().copied().unwrap_or(1) % 13) + 1;
    let start = usize::from(data.get(1).copied().unwrap_or(0));
    let variant: Vec<u8> = data
        .iter()
        .enumerate()
        .map(|(i, &b)| if i >= start && (i - start) % stride == 0 { b ^ 0xa5 } else { b })
        .collect();
    if same_headers(data, &layers, &variant) {
        let mut variant_key = FlowKey::default();
        let variant_layers = extract(&variant, 1, &mut variant_key);
        assert_eq!((variant_layers, variant_key), (layers, key));
    }

    let mut buf = TestBuf::from_bytes(data);
    let mut shifted = layers;
    if not_truncated(rewrite::push_vlan(&mut buf, &mut shifted, ethertype::VLAN, 0x2123)).is_ok() {
        rewrite::pop_vlan(&mut buf, &mut shifted).expect("pop of the pushed tag");
        assert_eq!(buf.data(), data);
        assert_eq!(shifted, layers);
    }

    // An MPLS push then pop gives the packet back (padded to the length it had when it was a
    // runt); the entry's fields rewrite in place; a pop of an MPLS frame never panics.
    let mut mpls = TestBuf::from_bytes(data);
    let mut mpls_layers = layers;
    if not_truncated(rewrite::push_mpls(&mut mpls, &mut mpls_layers, ethertype::MPLS, 0x0006_4140)).is_ok() {
        let _ = not_truncated(rewrite::set_mpls_lse_bits(&mut mpls, &mpls_layers, 0xff, 9));
        rewrite::pop_mpls(&mut mpls, &mut mpls_layers, layers.dl_type).expect("pop of the pushed entry");
        let n = data.len();
        assert_eq!(&mpls.data()[..n], data);
        assert!(mpls.data()[n..].iter().all(|&b| b == 0));
    }
    if ethertype::is_mpls(layers.dl_type) {
        let mut popped = TestBuf::from_bytes(data);
        let mut popped_layers = layers;
        let _ = not_truncated(rewrite::set_mpls_lse_bits(&mut popped, &popped_layers, 0xfff0_0000, 0x1230_0000));
        let _ = not_truncated(rewrite::copy_mpls_ttl_in(&mut popped, &popped_layers));
        let _ = not_truncated(rewrite::pop_mpls(&mut popped, &mut popped_layers, ethertype::IPV4));
        extract(popped.data(), 1, &mut FlowKey::default());
    }

    if not_truncated(rewrite::set_tp_src(&mut buf, &layers, 0xbeef)).is_ok() {
        let mut after = FlowKey::default();
        extract(buf.data(), 1, &mut after);
        assert_eq!(after.get_u64(Field::TpSrc), 0xbeef);
    }
    let _ = not_truncated(rewrite::set_tp_dst(&mut buf, &layers, 7));

    let checksum_was_ok = ipv4_header_checksum_ok(buf.data(), &layers);
    let _ = not_truncated(rewrite::set_ipv4_src(&mut buf, &layers, [10, 0, 0, 1]));
    let _ = not_truncated(rewrite::set_ipv4_dscp(&mut buf, &layers, 46));
    let _ = not_truncated(rewrite::dec_ttl(&mut buf, &layers));
    assert_eq!(ipv4_header_checksum_ok(buf.data(), &layers), checksum_was_ok);

    let _ = not_truncated(rewrite::set_eth_dst(&mut buf, [2, 0, 0, 0, 0, 1]));
    let _ = not_truncated(rewrite::set_vlan_vid(&mut buf, 42));
    let _ = not_truncated(rewrite::set_ipv6_dst(&mut buf, &layers, LINK_LOCAL));
    let _ = not_truncated(rewrite::set_ipv6_label(&mut buf, &layers, 0xfffff));
    let _ = not_truncated(rewrite::set_icmp_code(&mut buf, &layers, 3));
    let _ = not_truncated(rewrite::set_arp_op(&mut buf, &layers, 2));
    let _ = not_truncated(rewrite::set_nd_target(&mut buf, &layers, [0x20; 16]));
    let _ = not_truncated(rewrite::set_nd_sll(&mut buf, &layers, [2, 0, 0, 0, 0, 2]));
    let _ = not_truncated(rewrite::set_nd_tll(&mut buf, &layers, [2, 0, 0, 0, 0, 3]));
    let _ = not_truncated(rewrite::set_icmp_type(&mut buf, &layers, 0));
    let mut popped = layers;
    let _ = not_truncated(rewrite::pop_vlan(&mut buf, &mut popped));
    extract(buf.data(), 2, &mut key);
});
