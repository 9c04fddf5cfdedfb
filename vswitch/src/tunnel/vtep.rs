//! The flood-and-learn VTEP of RFC 7348 section 4, the pure parts: the table of inner MAC ->
//! remote VTEP a flood-and-learn port learns from what it decapsulates (aging, a size limit that
//! evicts the oldest entry, counters), the multicast MAC of a group, the IGMPv3 / MLDv2
//! membership reports that join and leave the group on the underlay, and the parse of a
//! membership query (bounds-checked: any bytes are safe). The switch side is
//! `switch::vtep`; the translation side `pipeline::xlate::vtep`.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hashbrown::HashMap;

use crate::pipeline::dependencies::mac_bits;
use crate::pipeline::keepalive::LastSeen;

/// The learned entries of every flood-and-learn port of a datapath version, by (tunnel port's
/// datapath port, inner MAC). Shared (an `Arc`) by the versions while nothing changed.
pub type LearnedVteps = HashMap<(u16, [u8; 6]), VtepEntry>;

/// The Bloom bits (as `Dependencies::macs`) of a learned entry of tunnel port `dp_port`: the
/// MAC table's bits of a "VLAN" no real VLAN has (above 4095), so that a learned entry's change
/// revalidates only the megaflows that read it, with the MAC table's machinery.
pub fn learned_bits(dp_port: u16, mac: [u8; 6]) -> u64 {
    mac_bits(0x8000 | (dp_port & 0x7fff), mac)
}

/// The Ethernet multicast address of an IP multicast group (RFC 1112: 01:00:5e and the low 23
/// bits; RFC 2464: 33:33 and the low 32 bits); `None` for a unicast address.
pub fn multicast_mac(group: &IpAddr) -> Option<[u8; 6]> {
    match group {
        IpAddr::V4(v4) if v4.is_multicast() => {
            let o = v4.octets();
            Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        IpAddr::V6(v6) if v6.is_multicast() => {
            let o = v6.octets();
            Some([0x33, 0x33, o[12], o[13], o[14], o[15]])
        }
        _ => None,
    }
}

/// One learned MAC: the VTEP it is behind, and its last-seen cell, which the megaflows of
/// packets from it through that VTEP refresh (`pipeline::keepalive`).
#[derive(Debug, Clone)]
pub struct VtepEntry {
    pub remote: IpAddr,
    pub last_seen: Arc<LastSeen>,
}

impl VtepEntry {
    pub fn new(remote: IpAddr, now_ms: u64) -> VtepEntry {
        VtepEntry { remote, last_seen: Arc::new(LastSeen::new(now_ms)) }
    }
}

/// The same entry: the same VTEP and the same cell (an entry aged and learned again behind the
/// same VTEP is another entry: the megaflows that hold the old cell must go).
impl PartialEq for VtepEntry {
    fn eq(&self, other: &VtepEntry) -> bool {
        self.remote == other.remote && Arc::ptr_eq(&self.last_seen, &other.last_seen)
    }
}

impl Eq for VtepEntry {}

/// What a flood-and-learn port's table did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VtepCounters {
    /// New MACs.
    pub learned: u64,
    /// MACs seen behind another VTEP.
    pub moved: u64,
    /// MACs not seen for the aging time.
    pub aged: u64,
    /// MACs dropped to make room (the oldest) at the limit.
    pub evicted: u64,
}

/// The learned MACs of one flood-and-learn port: inner source MAC -> outer source IP.
#[derive(Debug, Clone)]
pub struct VtepTable {
    entries: HashMap<[u8; 6], VtepEntry>,
    pub aging_ms: u64,
    pub limit: usize,
    pub counters: VtepCounters,
}

impl VtepTable {
    pub fn new(aging_ms: u64, limit: usize) -> VtepTable {
        VtepTable { entries: HashMap::new(), aging_ms, limit: limit.max(1), counters: VtepCounters::default() }
    }

    /// Records that `mac` was seen behind `remote`; returns whether the table's mapping changed
    /// (a refresh of a known entry does not). A multicast or zero MAC, or an unusable remote, is
    /// ignored.
    pub fn learn(&mut self, mac: [u8; 6], remote: IpAddr, now_ms: u64) -> bool {
        if mac[0] & 1 != 0 || mac == [0; 6] || remote.is_unspecified() || remote.is_multicast() {
            return false;
        }
        if let Some(entry) = self.entries.get_mut(&mac) {
            if entry.remote == remote {
                entry.last_seen.refresh(now_ms);
                return false;
            }
            // A new cell: the megaflows of the old VTEP no longer keep it alive.
            *entry = VtepEntry::new(remote, now_ms);
            self.counters.moved += 1;
            return true;
        }
        while self.entries.len() >= self.limit {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.last_seen.get()).map(|(mac, _)| *mac) else {
                break;
            };
            self.entries.remove(&oldest);
            self.counters.evicted += 1;
        }
        self.entries.insert(mac, VtepEntry::new(remote, now_ms));
        self.counters.learned += 1;
        true
    }

    /// Forgets the entries not seen for the aging time (by an upcall, or by the traffic of a
    /// cached megaflow that refreshed them); returns how many.
    pub fn age(&mut self, now_ms: u64) -> usize {
        let before = self.entries.len();
        let aging = self.aging_ms;
        self.entries.retain(|_, e| now_ms.saturating_sub(e.last_seen.get()) < aging);
        let aged = before - self.entries.len();
        self.counters.aged += aged as u64;
        aged
    }

    pub fn get(&self, mac: &[u8; 6]) -> Option<&VtepEntry> {
        self.entries.get(mac)
    }

    /// Every entry, sorted by MAC.
    pub fn entries(&self) -> Vec<([u8; 6], VtepEntry)> {
        let mut entries: Vec<_> = self.entries.iter().map(|(mac, e)| (*mac, e.clone())).collect();
        entries.sort_unstable_by_key(|(mac, _)| *mac);
        entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// IGMPv3 (RFC 3376) and MLDv2 (RFC 3810) group record types the reports use.
const CHANGE_TO_INCLUDE: u8 = 3;
const CHANGE_TO_EXCLUDE: u8 = 4;
const IGMP_QUERY: u8 = 0x11;
const IGMP_V3_REPORT: u8 = 0x22;
const MLD_QUERY: u8 = 130;
const MLD_V2_REPORT: u8 = 143;
const IP_PROTO_IGMP: u8 = 2;
const IP_PROTO_HOP_BY_HOP: u8 = 0;
const IP_PROTO_ICMPV6: u8 = 58;

/// The membership report that joins (`join`: "exclude no source", any source) or leaves
/// ("include no source") `group`, from `src_mac` / `src` on the underlay: IGMPv3 to 224.0.0.22
/// for IPv4 (TTL 1, router alert, TOS 0xc0), MLDv2 to ff02::16 for IPv6 (hop limit 1, router
/// alert in a hop-by-hop header, from the link-local address of `src_mac` as RFC 3810 wants).
/// `None` when `group` is not a multicast group or `src` not of its family.
pub fn membership_report(src_mac: [u8; 6], src: IpAddr, group: IpAddr, join: bool) -> Option<Vec<u8>> {
    let record = if join { CHANGE_TO_EXCLUDE } else { CHANGE_TO_INCLUDE };
    match (src, group) {
        (IpAddr::V4(src), IpAddr::V4(group)) if group.is_multicast() => {
            Some(igmp_v3_report(src_mac, src, group, record))
        }
        (IpAddr::V6(_), IpAddr::V6(group)) if group.is_multicast() => Some(mld_v2_report(src_mac, group, record)),
        _ => None,
    }
}

fn igmp_v3_report(src_mac: [u8; 6], src: Ipv4Addr, group: Ipv4Addr, record: u8) -> Vec<u8> {
    let all_routers = Ipv4Addr::new(224, 0, 0, 22);
    let mut igmp = vec![IGMP_V3_REPORT, 0, 0, 0, 0, 0, 0, 1, record, 0, 0, 0];
    igmp.extend_from_slice(&group.octets());
    let sum = internet_checksum(&igmp, 0);
    igmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut frame = Vec::with_capacity(14 + 24 + igmp.len());
    frame.extend_from_slice(&multicast_mac(&IpAddr::V4(all_routers)).unwrap_or_default());
    frame.extend_from_slice(&src_mac);
    frame.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = u16::try_from(24 + igmp.len()).unwrap_or(u16::MAX);
    let mut ip = vec![0x46, 0xc0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 1, IP_PROTO_IGMP, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&all_routers.octets());
    // Router alert (RFC 2113).
    ip.extend_from_slice(&[0x94, 0x04, 0, 0]);
    let sum = internet_checksum(&ip, 0);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&igmp);
    frame
}

/// The IPv6 link-local address of `mac` (modified EUI-64).
pub fn link_local(mac: [u8; 6]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..11].copy_from_slice(&[mac[0] ^ 0x02, mac[1], mac[2]]);
    o[11] = 0xff;
    o[12] = 0xfe;
    o[13..16].copy_from_slice(&mac[3..6]);
    Ipv6Addr::from(o)
}

fn mld_v2_report(src_mac: [u8; 6], group: Ipv6Addr, record: u8) -> Vec<u8> {
    let all_routers = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);
    let src = link_local(src_mac);
    let mut mld = vec![MLD_V2_REPORT, 0, 0, 0, 0, 0, 0, 1, record, 0, 0, 0];
    mld.extend_from_slice(&group.octets());
    let mut pseudo = Vec::with_capacity(40);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&all_routers.octets());
    pseudo.extend_from_slice(&u32::try_from(mld.len()).unwrap_or(0).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, IP_PROTO_ICMPV6]);
    let sum = internet_checksum(&mld, ones_sum(&pseudo));
    mld[2..4].copy_from_slice(&sum.to_be_bytes());
    // Hop-by-hop: next ICMPv6, length 0 (8 bytes), router alert MLD (RFC 2711), PadN.
    let hop_by_hop = [IP_PROTO_ICMPV6, 0, 0x05, 0x02, 0, 0, 0x01, 0x00];
    let payload = u16::try_from(hop_by_hop.len() + mld.len()).unwrap_or(u16::MAX);
    let mut frame = Vec::with_capacity(14 + 40 + usize::from(payload));
    frame.extend_from_slice(&multicast_mac(&IpAddr::V6(all_routers)).unwrap_or_default());
    frame.extend_from_slice(&src_mac);
    frame.extend_from_slice(&0x86ddu16.to_be_bytes());
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&payload.to_be_bytes());
    frame.extend_from_slice(&[IP_PROTO_HOP_BY_HOP, 1]);
    frame.extend_from_slice(&src.octets());
    frame.extend_from_slice(&all_routers.octets());
    frame.extend_from_slice(&hop_by_hop);
    frame.extend_from_slice(&mld);
    frame
}

/// A membership query seen on the underlay: general (`group` None) or for one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipQuery {
    pub group: Option<IpAddr>,
}

/// Parses an IGMP query (v2 or v3; IPv4 options skipped) or an MLD query (v1 or v2, behind at
/// most one hop-by-hop header) in an untagged Ethernet frame. `None` for anything else or
/// anything truncated; checksums are not verified (a query only makes the switch report again).
pub fn parse_membership_query(frame: &[u8]) -> Option<MembershipQuery> {
    let ethertype = u16::from_be_bytes(array(frame, 12)?);
    let group = match ethertype {
        0x0800 => {
            let version_ihl = *frame.get(14)?;
            let header_len = usize::from(version_ihl & 0x0f) * 4;
            if version_ihl >> 4 != 4 || header_len < 20 || *frame.get(14 + 9)? != IP_PROTO_IGMP {
                return None;
            }
            let igmp = 14 + header_len;
            if *frame.get(igmp)? != IGMP_QUERY {
                return None;
            }
            IpAddr::V4(Ipv4Addr::from(array::<4>(frame, igmp + 4)?))
        }
        0x86dd => {
            let mut next = *frame.get(14 + 6)?;
            let mut at = 14 + 40;
            if next == IP_PROTO_HOP_BY_HOP {
                next = *frame.get(at)?;
                at += (usize::from(*frame.get(at + 1)?) + 1) * 8;
            }
            if next != IP_PROTO_ICMPV6 || *frame.get(at)? != MLD_QUERY {
                return None;
            }
            IpAddr::V6(Ipv6Addr::from(array::<16>(frame, at + 8)?))
        }
        _ => return None,
    };
    Some(MembershipQuery { group: (!group.is_unspecified()).then_some(group) })
}

/// `N` bytes of `bytes` from `at`, if there are that many.
fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The 16-bit one's complement sum of `data` (odd length padded), unfolded.
fn ones_sum(data: &[u8]) -> u32 {
    data.chunks(2).map(|pair| u32::from(u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]))).sum()
}

/// The internet checksum of `data` plus an unfolded `initial` sum.
fn internet_checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = ones_sum(data) + initial;
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn traffic_of_a_cached_megaflow_keeps_an_entry_alive_and_it_ages_without() {
        let mut table = VtepTable::new(1000, 4);
        assert!(table.learn(A, ip("172.31.1.3"), 0));
        assert!(table.learn(B, ip("172.31.1.3"), 0));
        // What a megaflow holds: the cell of the entry its packets came through.
        let held = Arc::clone(&table.get(&A).unwrap().last_seen);
        for now in (400..=4000).step_by(400) {
            held.refresh(now - 10);
            table.age(now);
        }
        assert!(table.get(&A).is_some(), "refreshed every 400 ms: still there after 4 agings");
        assert!(table.get(&B).is_none(), "no traffic: aged");
        assert_eq!(table.counters.aged, 1);
        assert_eq!(table.age(3990 + 999), 0);
        assert_eq!(table.age(3990 + 1000), 1, "traffic stopped: it ages out an aging time after");
        // Learned again: a new cell, the old one keeps nothing alive any more.
        assert!(table.learn(A, ip("172.31.1.3"), 6000));
        held.refresh(7500);
        assert_eq!(table.age(7000), 1);
        assert!(table.learn(A, ip("172.31.1.3"), 8000));
        let moved_from = Arc::clone(&table.get(&A).unwrap().last_seen);
        assert!(table.learn(A, ip("172.31.1.4"), 8100), "moved to another VTEP");
        assert!(!Arc::ptr_eq(&moved_from, &table.get(&A).unwrap().last_seen), "a move is a new cell");
    }

    #[test]
    fn learns_moves_ages_and_evicts() {
        let mut table = VtepTable::new(1000, 2);
        assert!(table.learn(A, ip("172.31.1.3"), 0));
        assert!(!table.learn(A, ip("172.31.1.3"), 500), "a refresh is no change");
        assert!(table.learn(A, ip("172.31.1.4"), 600));
        assert_eq!(table.get(&A).map(|e| (e.remote, e.last_seen.get())), Some((ip("172.31.1.4"), 600)));
        assert!(!table.learn([0xff; 6], ip("172.31.1.3"), 0), "no multicast source");
        assert!(!table.learn([0; 6], ip("172.31.1.3"), 0));
        assert!(!table.learn(B, ip("239.1.1.1"), 0), "no group as a VTEP");
        assert!(table.learn(B, ip("172.31.1.3"), 700));
        // Full: the oldest (A, seen at 600) goes.
        assert!(table.learn([2, 0, 0, 0, 0, 0xc], ip("172.31.1.3"), 800));
        assert!(table.get(&A).is_none());
        assert_eq!(table.len(), 2);
        assert_eq!(table.age(1750), 1, "B seen at 700 is 1050 ms old");
        assert_eq!(table.entries().len(), 1);
        assert_eq!(table.counters, VtepCounters { learned: 3, moved: 1, aged: 1, evicted: 1 });
    }

    #[test]
    fn multicast_macs() {
        assert_eq!(multicast_mac(&ip("239.129.1.1")), Some([1, 0, 0x5e, 1, 1, 1]));
        assert_eq!(multicast_mac(&ip("ff0e::1:2:3:4")), Some([0x33, 0x33, 0, 3, 0, 4]));
        assert_eq!(multicast_mac(&ip("10.0.0.1")), None);
    }

    #[test]
    fn learned_bits_are_not_those_of_a_vlan() {
        let bits = learned_bits(41, A);
        assert!((1..=2).contains(&bits.count_ones()));
        assert_ne!(bits, mac_bits(41, A));
        assert_ne!(learned_bits(42, A), 0);
    }

    #[test]
    fn igmp_v3_report_bytes() {
        let frame = membership_report(A, ip("172.31.1.1"), ip("239.1.1.1"), true).unwrap();
        assert_eq!(&frame[..6], &[1, 0, 0x5e, 0, 0, 0x16]);
        assert_eq!(&frame[12..14], &[8, 0]);
        let ip_header = &frame[14..38];
        assert_eq!(ip_header[0], 0x46);
        assert_eq!(ip_header[8], 1, "TTL 1");
        assert_eq!(ip_header[9], 2, "IGMP");
        assert_eq!(internet_checksum(ip_header, 0), 0, "IP checksum");
        let igmp = &frame[38..];
        assert_eq!(igmp.len(), 16);
        assert_eq!((igmp[0], igmp[7], igmp[8]), (0x22, 1, CHANGE_TO_EXCLUDE));
        assert_eq!(&igmp[12..16], &[239, 1, 1, 1]);
        assert_eq!(internet_checksum(igmp, 0), 0, "IGMP checksum");
        let leave = membership_report(A, ip("172.31.1.1"), ip("239.1.1.1"), false).unwrap();
        assert_eq!(leave[38 + 8], CHANGE_TO_INCLUDE);
        assert!(membership_report(A, ip("172.31.1.1"), ip("10.0.0.1"), true).is_none());
        assert!(membership_report(A, ip("fd00::1"), ip("239.1.1.1"), true).is_none());
        // Not a query.
        assert_eq!(parse_membership_query(&frame), None);
    }

    #[test]
    fn mld_v2_report_bytes() {
        let frame = membership_report(A, ip("fd00::1"), ip("ff0e::42"), true).unwrap();
        assert_eq!(&frame[..6], &[0x33, 0x33, 0, 0, 0, 0x16]);
        assert_eq!(frame[20], 0, "hop-by-hop first");
        assert_eq!(frame[21], 1, "hop limit 1");
        assert_eq!(&frame[22..38], &link_local(A).octets());
        assert_eq!(link_local(A).to_string(), "fe80::ff:fe00:a");
        let mld = &frame[62..];
        assert_eq!((mld[0], mld[7], mld[8]), (MLD_V2_REPORT, 1, CHANGE_TO_EXCLUDE));
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&frame[22..54]);
        pseudo.extend_from_slice(&u32::try_from(mld.len()).unwrap().to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(internet_checksum(mld, ones_sum(&pseudo)), 0, "ICMPv6 checksum");
        assert_eq!(u16::from_be_bytes([frame[18], frame[19]]), 8 + 28);
    }

    #[test]
    fn queries_are_parsed_and_nothing_panics() {
        // IGMPv2 general query: 20-byte IP header, type 0x11, group 0.
        let mut query = vec![1, 0, 0x5e, 0, 0, 1, 2, 0, 0, 0, 0, 1, 8, 0];
        query.extend_from_slice(&[0x45, 0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0, 172, 31, 1, 9, 224, 0, 0, 1]);
        query.extend_from_slice(&[0x11, 100, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_membership_query(&query), Some(MembershipQuery { group: None }));
        query[14 + 20 + 4..14 + 20 + 8].copy_from_slice(&[239, 1, 1, 1]);
        assert_eq!(parse_membership_query(&query), Some(MembershipQuery { group: Some(ip("239.1.1.1")) }));
        // MLDv2 query behind a hop-by-hop header.
        let mut mld = vec![0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 36, 0, 1];
        mld.extend_from_slice(&[0; 32]);
        mld.extend_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0]);
        mld.extend_from_slice(&[MLD_QUERY, 0, 0, 0, 0, 0, 0, 0]);
        mld.extend_from_slice(&[0; 16]);
        mld.extend_from_slice(&[0; 4]);
        assert_eq!(parse_membership_query(&mld), Some(MembershipQuery { group: None }));
        // Every truncation and every byte value at every offset: no panic.
        for frame in [&query, &mld] {
            for len in 0..frame.len() {
                let _ = parse_membership_query(&frame[..len]);
            }
            for at in 0..frame.len() {
                for value in [0u8, 1, 0x0f, 0x11, 0x46, 0x4f, 0xff] {
                    let mut bad = frame.clone();
                    bad[at] = value;
                    let _ = parse_membership_query(&bad);
                }
            }
        }
    }
}
