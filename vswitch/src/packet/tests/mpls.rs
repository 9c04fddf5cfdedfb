//! MPLS: the label stack and the header under it in the key, stacks deeper than the key and
//! truncated ones, push/pop/set/copy_ttl_in rewrites checked by extracting the result.

use super::builder::*;
use super::samples;
use crate::flow::key::{mpls, words, Field, FlowKey};
use crate::packet::proto::{ethertype, ip_proto};
use crate::packet::rewrite::{self, RewriteError};
use crate::packet::{extract, header_at, Layers, PacketBuf, TestBuf};

fn parse(frame: &[u8]) -> (FlowKey, Layers) {
    let mut key = FlowKey::default();
    let layers = extract(frame, 1, &mut key);
    (key, layers)
}

/// An MPLS frame (0x8847) with VLAN tags `tags` and label stack `stack` before `payload`.
fn mpls_frame(tags: &[(u16, u16)], stack: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut body: Vec<u8> = stack.iter().flat_map(|lse| lse.to_be_bytes()).collect();
    body.extend_from_slice(payload);
    ethernet(tags, ethertype::MPLS, &body)
}

fn ipv4_udp() -> Vec<u8> {
    Ipv4::new(ip_proto::UDP).build(&udp(1000, 2000, b"inner"))
}

const TOP: u32 = mpls::lse(100, 5, false, 64);
const SECOND: u32 = mpls::lse(200, 0, true, 63);

#[test]
fn label_stack_and_the_ip_header_under_it() {
    let frame = mpls_frame(&[], &[TOP, SECOND], &ipv4_udp());
    let (key, layers) = parse(&frame);
    assert_eq!(key.get_u64(Field::DlType), u64::from(ethertype::MPLS));
    assert_eq!(
        [Field::MplsLabel, Field::MplsTc, Field::MplsBos, Field::MplsTtl].map(|f| key.get_u64(f)),
        [100, 5, 0, 64]
    );
    assert_eq!([key.mpls_lse(0), key.mpls_lse(1), key.mpls_lse(2)], [TOP, SECOND, 0]);
    assert_eq!(key.bytes[mpls::INNER], mpls::inner::IPV4);
    // The inner header, for a pop_mpls to find.
    assert_eq!(key.get(Field::NwSrc), IP4_SRC);
    assert_eq!(key.get_u64(Field::NwProto), u64::from(ip_proto::UDP));
    assert_eq!(key.get_u64(Field::TpDst), 2000);
    assert_eq!(layers.l3, header_at(14), "l3 is the top label stack entry");
    assert_eq!((layers.l4, layers.dl_type), (None, ethertype::MPLS));
    assert_ne!(layers.present & words::MPLS, 0);

    // Tagged, IPv6 under a single entry.
    let ipv6 = Ipv6::new(ip_proto::TCP).build(&tcp(1, 2, 0x02, 0, b""));
    let frame = mpls_frame(&[samples::TAG_INNER], &[mpls::lse(7, 1, true, 9)], &ipv6);
    let (key, layers) = parse(&frame);
    assert_eq!(key.mpls_lse(0), mpls::lse(7, 1, true, 9));
    assert_eq!(key.bytes[mpls::INNER], mpls::inner::IPV6);
    assert_eq!(key.get(Field::Ipv6Dst), IP6_DST);
    assert_eq!(layers.l3, header_at(18));
}

#[test]
fn what_the_key_cannot_hold_is_left_out() {
    // Four entries: the first three, nothing under them.
    let four = [TOP, mpls::lse(1, 0, false, 1), mpls::lse(2, 0, false, 2), mpls::lse(3, 0, true, 3)];
    let (key, _) = parse(&mpls_frame(&[], &four, &ipv4_udp()));
    assert_eq!([key.mpls_lse(0), key.mpls_lse(1), key.mpls_lse(2)], [four[0], four[1], four[2]]);
    assert_eq!(key.bytes[mpls::INNER], mpls::inner::NONE);
    assert_eq!(key.get_u64(Field::NwProto), 0);
    // A payload that is neither IPv4 nor IPv6 (an Ethernet pseudowire's control word).
    let (key, _) = parse(&mpls_frame(&[], &[SECOND], &[0; 30]));
    assert_eq!((key.mpls_lse(0), key.bytes[mpls::INNER]), (SECOND, mpls::inner::NONE));
    // ARP: its hardware addresses wait aside (the stack has their words).
    let arp = arp(2, samples::MAC_SLL, IP4_SRC, samples::MAC_TLL, IP4_DST);
    let (key, layers) = parse(&mpls_frame(&[], &[SECOND], &arp));
    assert_eq!((key.mpls_lse(0), key.bytes[mpls::INNER]), (SECOND, mpls::inner::ARP));
    assert_eq!(
        (key.get_u64(Field::ArpOp), key.get(Field::ArpSpa), key.get(Field::ArpTpa)),
        (2, &IP4_SRC[..], &IP4_DST[..])
    );
    let at = mpls::inner::ARP_HA_AT;
    assert_eq!((&key.bytes[at..at + 6], &key.bytes[at + 8..at + 14]), (&samples::MAC_SLL[..], &samples::MAC_TLL[..]));
    assert_ne!(layers.present & (1 << (at / 8)), 0);
    // Neighbour discovery would write the stack's words: left out.
    let (key, _) = parse(&mpls_frame(&[], &[SECOND], &samples::ipv6_nd_solicitation()[14..]));
    assert_eq!((key.mpls_lse(0), key.bytes[mpls::INNER]), (SECOND, mpls::inner::NONE));
}

#[test]
fn truncated_stacks_keep_the_whole_entries_before_the_cut() {
    let frame = mpls_frame(&[], &[TOP, mpls::lse(1, 0, false, 1), SECOND], &ipv4_udp());
    for cut in 0..=frame.len() {
        let (key, layers) = parse(&frame[..cut]);
        let entries = cut.saturating_sub(14) / 4;
        for index in 0..mpls::DEPTH {
            let expected = if index < entries { key_of(&frame, index) } else { 0 };
            assert_eq!(key.mpls_lse(index), expected, "cut at {cut}: entry {index}");
        }
        if entries == 0 {
            assert_eq!(layers.present & words::MPLS, 0, "cut at {cut}: no entry, no MPLS words");
        }
        for offset in [layers.l3, layers.l4].into_iter().flatten() {
            assert!(usize::from(offset.get()) < cut, "cut at {cut}");
        }
    }
}

/// What a pop of a `before`-byte frame leaves when it comes to `frame`: padded with zeros to as
/// much of `before` as the 60-byte minimum asks for.
fn padded(frame: &[u8], before: usize) -> Vec<u8> {
    let mut out = frame.to_vec();
    out.resize(frame.len().max(before.min(60)), 0);
    out
}

fn key_of(frame: &[u8], index: usize) -> u32 {
    let at = 14 + 4 * index;
    u32::from_be_bytes(frame[at..at + 4].try_into().unwrap())
}

#[test]
fn push_and_pop_round_trip_with_the_layers_of_a_fresh_parse() {
    for (name, frame) in samples::all() {
        let (_, layers) = parse(&frame);
        let mut buf = TestBuf::from_bytes(&frame);
        let mut pushed = layers;
        if name == "llc_snap_ipv4_udp" {
            // An 802.3 length, no ethertype to put a stack after.
            let refused = rewrite::push_mpls(&mut buf, &mut pushed, ethertype::MPLS, SECOND);
            assert_eq!(refused, Err(RewriteError::MissingHeader));
            assert_eq!((buf.data(), pushed), (frame.as_slice(), layers));
            continue;
        }
        rewrite::push_mpls(&mut buf, &mut pushed, ethertype::MPLS, SECOND).expect(name);
        let (key, fresh) = parse(buf.data());
        assert_eq!(pushed, Layers { present: pushed.present, ..fresh }, "{name}: after push");
        assert_eq!(key.mpls_lse(0), SECOND, "{name}");
        let mut popped = pushed;
        rewrite::pop_mpls(&mut buf, &mut popped, layers.dl_type).expect(name);
        assert_eq!(buf.data(), padded(&frame, frame.len() + 4).as_slice(), "{name}: pop undoes push");
        assert_eq!(popped, layers, "{name}: after pop");
    }
}

#[test]
fn pop_to_mpls_keeps_the_stack_below_and_pop_to_ip_parses_the_ip_header() {
    let frame = mpls_frame(&[samples::TAG_INNER], &[TOP, SECOND], &ipv4_udp());
    let (_, mut layers) = parse(&frame);
    let mut buf = TestBuf::from_bytes(&frame);
    rewrite::pop_mpls(&mut buf, &mut layers, ethertype::MPLS).unwrap();
    let once = padded(&mpls_frame(&[samples::TAG_INNER], &[SECOND], &ipv4_udp()), frame.len());
    assert_eq!(buf.data(), once.as_slice());
    assert_eq!(layers, parse(buf.data()).1);
    rewrite::pop_mpls(&mut buf, &mut layers, ethertype::IPV4).unwrap();
    let twice = padded(&ethernet(&[samples::TAG_INNER], ethertype::IPV4, &ipv4_udp()), once.len());
    assert_eq!(buf.data(), twice.as_slice());
    assert_eq!(layers, parse(buf.data()).1);
    assert_eq!(rewrite::pop_mpls(&mut buf, &mut layers, ethertype::IPV4), Err(RewriteError::MissingHeader));
}

#[test]
fn a_pop_that_would_leave_a_runt_pads_to_sixty_bytes() {
    let short_ip = Ipv4::new(ip_proto::UDP).build(&udp(1, 2, b""));
    let mut frame = mpls_frame(&[], &[SECOND], &short_ip);
    frame.resize(60, 0);
    for len in [60, 62, 64, 54] {
        let input = if len <= 60 { frame[..len].to_vec() } else { [frame.clone(), vec![0; len - 60]].concat() };
        let (_, mut layers) = parse(&input);
        let mut buf = TestBuf::from_bytes(&input);
        rewrite::pop_mpls(&mut buf, &mut layers, ethertype::IPV4).unwrap();
        let expected = padded(&ethernet(&[], ethertype::IPV4, &short_ip), len);
        assert_eq!(buf.data(), expected.as_slice(), "{len} bytes in");
        assert_eq!(layers, parse(buf.data()).1);
    }
}

#[test]
fn entry_fields_and_copy_ttl_in() {
    let frame = mpls_frame(&[], &[TOP, SECOND], &ipv4_udp());
    let (_, layers) = parse(&frame);
    let mut buf = TestBuf::from_bytes(&frame);
    rewrite::set_mpls_lse_bits(&mut buf, &layers, 0xf_ffff << mpls::LABEL_SHIFT, 0xabcde << mpls::LABEL_SHIFT).unwrap();
    rewrite::set_mpls_lse_bits(&mut buf, &layers, 0xff, 9).unwrap();
    let (key, _) = parse(buf.data());
    assert_eq!(key.mpls_lse(0), mpls::lse(0xabcde, 5, false, 9));
    // Into the next entry, then (after a pop) into the IPv4 header, its checksum updated.
    rewrite::copy_mpls_ttl_in(&mut buf, &layers).unwrap();
    assert_eq!(parse(buf.data()).0.mpls_lse(1), mpls::lse(200, 0, true, 9));
    let mut layers = layers;
    rewrite::pop_mpls(&mut buf, &mut layers, ethertype::MPLS).unwrap();
    rewrite::set_mpls_lse_bits(&mut buf, &layers, 0xff, 17).unwrap();
    rewrite::copy_mpls_ttl_in(&mut buf, &layers).unwrap();
    let (key, _) = parse(buf.data());
    assert_eq!(key.get_u64(Field::NwTtl), 17);
    rewrite::pop_mpls(&mut buf, &mut layers, ethertype::IPV4).unwrap();
    assert_checksums(buf.data(), None, "copy_ttl_in into IPv4");
    // Not MPLS: the MPLS rewrites refuse.
    assert_eq!(rewrite::copy_mpls_ttl_in(&mut buf, &layers), Err(RewriteError::MissingHeader));
    assert_eq!(rewrite::set_mpls_lse_bits(&mut buf, &layers, 0xff, 1), Err(RewriteError::MissingHeader));
    // A shared buffer is never written.
    let mut shared = TestBuf::from_bytes(&frame);
    let _other = shared.share();
    let (_, mut layers) = parse(&frame);
    assert_eq!(rewrite::pop_mpls(&mut shared, &mut layers, ethertype::IPV4), Err(RewriteError::Shared));
    assert_eq!(rewrite::push_mpls(&mut shared, &mut layers, ethertype::MPLS, 0), Err(RewriteError::Shared));
}
