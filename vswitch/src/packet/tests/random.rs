//! Deterministic random inputs (xorshift, fixed seed): random bytes and mutated sample packets go
//! through `extract` and every rewrite without a panic, and rewrites with fresh `Layers` never
//! report `Truncated`.

use super::samples;
use crate::flow::key::FlowKey;
use crate::packet::rewrite::{self, RewriteError};
use crate::packet::{extract, same_headers, Layers, PacketBuf, TestBuf};

/// The crate's fixed-seed generator: reproducible and dependency free.
use crate::flow::test_random::XorShift;

/// Runs every rewrite on `frame` with its own `Layers`, in a random order of a random subset.
fn rewrite_everything(frame: &[u8], rng: &mut XorShift) {
    let mut key = FlowKey::default();
    let mut layers = extract(frame, 3, &mut key);
    let mut buf = TestBuf::with_headroom(frame, rng.below(9));
    let value = rng.next();
    let [b0, b1, b2, b3, b4, b5, b6, b7] = value.to_be_bytes();
    let mac = [b0, b1, b2, b3, b4, b5];
    let ip4 = [b4, b5, b6, b7];
    let ip6 = [b0, b1, b2, b3, b4, b5, b6, b7, b7, b6, b5, b4, b3, b2, b1, b0];
    let short = u16::from_be_bytes([b6, b7]);
    for _ in 0..12 {
        let result: Result<(), RewriteError> = match rng.below(40) {
            0 => rewrite::set_eth_src(&mut buf, mac),
            1 => rewrite::set_eth_dst(&mut buf, mac),
            2 => rewrite::push_vlan(&mut buf, &mut layers, 0x8100, short),
            3 => rewrite::pop_vlan(&mut buf, &mut layers),
            4 => rewrite::set_vlan_vid(&mut buf, short & 0xfff),
            5 => rewrite::set_vlan_pcp(&mut buf, b7 & 7),
            6 => rewrite::set_ipv4_src(&mut buf, &layers, ip4),
            7 => rewrite::set_ipv4_dst(&mut buf, &layers, ip4),
            8 => rewrite::set_ipv4_tos(&mut buf, &layers, b0),
            9 => rewrite::set_ipv4_dscp(&mut buf, &layers, b0 & 63),
            10 => rewrite::set_ipv4_ecn(&mut buf, &layers, b0 & 3),
            11 => rewrite::set_ipv4_ttl(&mut buf, &layers, b1),
            12 => rewrite::dec_ttl(&mut buf, &layers).map(|_| ()),
            13 => rewrite::set_ipv6_src(&mut buf, &layers, ip6),
            14 => rewrite::set_ipv6_dst(&mut buf, &layers, ip6),
            15 => rewrite::set_ipv6_label(&mut buf, &layers, u32::from(short)),
            16 => rewrite::set_ipv6_tc(&mut buf, &layers, b2),
            17 => rewrite::set_ipv6_dscp(&mut buf, &layers, b2 & 63),
            18 => rewrite::set_ipv6_ecn(&mut buf, &layers, b2 & 3),
            19 => rewrite::set_ipv6_hop_limit(&mut buf, &layers, b3),
            20 => rewrite::set_tp_src(&mut buf, &layers, short),
            21 => rewrite::set_tp_dst(&mut buf, &layers, short),
            22 => rewrite::set_icmp_type(&mut buf, &layers, b4),
            23 => rewrite::set_icmp_code(&mut buf, &layers, b5),
            24 => rewrite::set_arp_op(&mut buf, &layers, short),
            25 => rewrite::set_arp_sha(&mut buf, &layers, mac),
            26 => rewrite::set_arp_tha(&mut buf, &layers, mac),
            27 => rewrite::set_arp_spa(&mut buf, &layers, ip4),
            28 => rewrite::set_arp_tpa(&mut buf, &layers, ip4),
            29 => rewrite::set_nd_target(&mut buf, &layers, ip6),
            30 => rewrite::set_nd_sll(&mut buf, &layers, mac),
            31 => rewrite::set_nd_tll(&mut buf, &layers, mac),
            32 => rewrite::push_mpls(&mut buf, &mut layers, 0x8847, u32::from_be_bytes(ip4)),
            33 => rewrite::pop_mpls(&mut buf, &mut layers, short),
            34 => rewrite::set_mpls_lse_bits(
                &mut buf,
                &layers,
                u32::from_be_bytes(ip4),
                u32::from_be_bytes([b0, b1, b2, b3]),
            ),
            35 => rewrite::copy_mpls_ttl_in(&mut buf, &layers),
            // Re-extract now and then, as the pipeline may.
            _ => {
                layers = extract(buf.data(), 3, &mut key);
                Ok(())
            }
        };
        assert_ne!(result, Err(RewriteError::Truncated), "fresh layers {layers:?} of {frame:02x?}");
    }
}

#[test]
fn random_bytes_and_mutated_samples_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut samples: Vec<Vec<u8>> = samples::all().into_iter().map(|(_, frame)| frame).collect();
    samples.push(samples::mpls_ipv4_udp());
    let mut key = FlowKey::default();
    let mut parsed_l4 = 0;
    for round in 0..60_000 {
        let frame: Vec<u8> = if round % 3 == 0 {
            (0..rng.below(160)).map(|_| (rng.next() & 0xff) as u8).collect()
        } else {
            let mut frame = samples[rng.below(samples.len())].clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(frame.len());
                frame[at] = (rng.next() & 0xff) as u8;
            }
            if rng.below(4) == 0 {
                frame.truncate(rng.below(frame.len()));
            }
            frame
        };
        let layers: Layers = extract(&frame, round, &mut key);
        for offset in [layers.l2_5, layers.l3, layers.l4].into_iter().flatten() {
            assert!(usize::from(offset.get()) < frame.len());
        }
        if layers.l4.is_some() {
            parsed_l4 += 1;
        }
        rewrite_everything(&frame, &mut rng);
    }
    // The mutations keep enough packets valid to reach L4 often.
    assert!(parsed_l4 > 10_000, "only {parsed_l4} packets reached L4");
}

/// A variant of `frame`: a few bytes changed anywhere (or, for `tail`, in the last quarter
/// only), now and then shortened.
fn variant(frame: &[u8], tail: bool, rng: &mut XorShift) -> Vec<u8> {
    let mut other = frame.to_vec();
    if other.is_empty() {
        return other;
    }
    let from = if tail { other.len() * 3 / 4 } else { 0 };
    for _ in 0..1 + rng.below(3) {
        let at = from + rng.below(other.len() - from);
        other[at] = (rng.next() & 0xff) as u8;
    }
    if !tail && rng.below(4) == 0 {
        // The IP and TCP length fields may now disagree with the frame.
        other.truncate(other.len() - rng.below(other.len().min(24)));
    }
    other
}

#[test]
fn frames_that_repeat_the_headers_parse_alike() {
    let mut rng = XorShift(0x5a3e_11ea_d5a5_0001);
    let samples: Vec<Vec<u8>> = samples::all().into_iter().map(|(_, frame)| frame).collect();
    let (mut repeats, mut differ) = (0, 0);
    for round in 0..60_000 {
        let mut frame = samples[rng.below(samples.len())].clone();
        if round % 2 == 1 {
            // Mutated samples: odd header lengths, lying length fields, truncations.
            let at = rng.below(frame.len());
            frame[at] = (rng.next() & 0xff) as u8;
            if rng.below(4) == 0 {
                frame.truncate(rng.below(frame.len()));
            }
        }
        let (mut key, mut other_key) = (FlowKey::default(), FlowKey::default());
        let layers = extract(&frame, 7, &mut key);
        let other = variant(&frame, round % 4 < 2, &mut rng);
        let other_layers = extract(&other, 7, &mut other_key);
        if same_headers(&frame, &layers, &other) {
            repeats += 1;
            assert_eq!((layers, key), (other_layers, other_key), "{frame:02x?} vs {other:02x?}");
        } else if (layers, key) != (other_layers, other_key) {
            differ += 1;
        }
    }
    // Both ways are exercised: the check does fire, and it does guard.
    assert!(repeats > 10_000 && differ > 10_000, "{repeats} repeats, {differ} differing parses");
}

/// What changes from packet to packet within one flow (IP ID and checksum, TCP sequence numbers
/// and checksum, UDP checksum, payload) keeps a train repeating; a changed port does not.
#[test]
fn trains_of_one_flow_repeat() {
    let mut key = FlowKey::default();
    // With IP options (the general comparison) and without (one masked compare).
    for tcp in [samples::ipv4_tcp(), samples::plain_ipv4_tcp()] {
        let layers = extract(&tcp, 1, &mut key);
        let (l3, l4) = (usize::from(layers.l3.unwrap().get()), usize::from(layers.l4.unwrap().get()));
        let mut next = tcp.clone();
        for at in [l3 + 4, l3 + 5, l3 + 10, l3 + 11, l4 + 4, l4 + 8, l4 + 14, l4 + 16, tcp.len() - 1] {
            next[at] ^= 0x5a;
        }
        assert!(same_headers(&tcp, &layers, &next));
        for at in
            [0, 13, l3, l3 + 1, l3 + 3, l3 + 6, l3 + 8, l3 + 9, l3 + 12, l3 + 19, l4, l4 + 1, l4 + 3, l4 + 12, l4 + 13]
        {
            let mut changed = tcp.clone();
            changed[at] ^= 1;
            assert!(!same_headers(&tcp, &layers, &changed), "byte {at} of {tcp:02x?}");
        }
    }
    let udp = samples::vlan_ipv4_udp();
    let layers = extract(&udp, 1, &mut key);
    let l4 = usize::from(layers.l4.unwrap().get());
    let mut next = udp.clone();
    next[l4 + 6] ^= 0xff;
    assert!(same_headers(&udp, &layers, &next));
    next[15] ^= 1;
    assert!(!same_headers(&udp, &layers, &next), "the VLAN tag counts");
    let nd = samples::ipv6_nd_solicitation();
    let layers = extract(&nd, 1, &mut key);
    assert!(!same_headers(&nd, &layers, &nd), "ND is parsed beyond its header: never a repeat");
}

/// The fast path of untagged IPv4 frames gives exactly what the general parse gives: the same
/// layers and every word of the key alike (also the words neither writes, from a key full of
/// garbage), on the samples and on mutations of their Ethernet, IPv4 and L4 headers and lengths.
#[test]
fn plain_ipv4_fast_path_equals_the_general_parse() {
    use super::builder::*;
    use crate::packet::extract::{extract_general, plain_ipv4};
    use crate::packet::proto::{ethertype, ip_proto};
    let mut rng = XorShift(0x0dd_ba11_cafe_f00d);
    let samples: Vec<Vec<u8>> = samples::all().into_iter().map(|(_, frame)| frame).collect();
    // Half of the rounds start from a frame the fast path takes.
    let plain = [
        samples::plain_ipv4_tcp(),
        samples::ipv4_udp_padded(),
        ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::UDP).build(&udp(1024, 5001, &[0; 18]))),
        ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::ICMP).build(&icmp(8, 0, &[0; 32]))),
        ethernet(&[], ethertype::IPV4, &Ipv4::new(ip_proto::TCP).build(&tcp(80, 40000, 0x0010, 0, &[]))),
    ];
    for frame in &plain {
        assert!(plain_ipv4(frame, 0, &mut FlowKey::default(), &mut Layers::default()), "{frame:02x?}");
    }
    let (mut fast, mut general) = (0, 0);
    for round in 0..100_000u32 {
        let from = if round % 2 == 0 { &plain[..] } else { &samples };
        let mut frame = from[rng.below(from.len())].clone();
        for _ in 0..rng.below(3) {
            // Mostly the bytes the fast path decides on: ethertype, IHL, lengths, fragment bits,
            // protocol, the TCP data offset.
            let at = if rng.below(4) == 0 { rng.below(frame.len()) } else { 12 + rng.below(48) };
            if let Some(byte) = frame.get_mut(at) {
                *byte = match rng.below(3) {
                    0 => (rng.next() & 0xff) as u8,
                    1 => *byte ^ (1 << rng.below(8)),
                    _ => [0, 5, 6, 17, 1, 0x45, 0x50, 0x08, 0xff][rng.below(9)],
                };
            }
        }
        if rng.below(5) == 0 {
            frame.truncate(frame.len() - rng.below(frame.len().min(30)));
        }
        let garbage = FlowKey { bytes: std::array::from_fn(|_| (rng.next() & 0xff) as u8) };
        let (mut fast_key, mut general_key) = (garbage, garbage);
        let (mut fast_layers, mut general_layers) = (Layers::default(), Layers::default());
        extract_general(&frame, round, &mut general_key, &mut general_layers);
        if plain_ipv4(&frame, round, &mut fast_key, &mut fast_layers) {
            fast += 1;
            assert_eq!((fast_layers, fast_key), (general_layers, general_key), "{frame:02x?}");
        } else {
            general += 1;
            assert_eq!(fast_key, garbage, "the fast path refused {frame:02x?} but wrote the key");
        }
        let mut key = garbage;
        assert_eq!(extract(&frame, round, &mut key), general_layers);
        assert_eq!(key, general_key);
    }
    assert!(fast > 20_000 && general > 20_000, "fast {fast}, general {general}");
}
