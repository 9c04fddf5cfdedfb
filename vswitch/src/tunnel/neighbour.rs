//! The neighbour cache (ARP / IPv6 ND) of one underlay bridge: which MAC a next hop has, the few
//! packets held while it resolves, the rate limit of the requests, aging; and the ARP and ND
//! packets the switch sends (requests, and replies for its own addresses) and snoops.
//! Management thread only: allocation is fine, a panic on any input is not.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::pipeline::keepalive::LastSeen;

/// The limits of a neighbour cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourLimits {
    /// Learned entries expire this long after their last confirmation (default 15 min, as Open
    /// vSwitch).
    pub aging_ms: u64,
    /// At most one request per next hop per interval (default 1 s).
    pub request_interval_ms: u64,
    /// An unresolved next hop is dropped, with its held packets, this long after its first
    /// request (default 3 s).
    pub give_up_ms: u64,
    /// Packets held while a next hop resolves (default 4, small like Linux's unres_qlen).
    pub held_per_nexthop: usize,
    /// The most entries (default 8192): a new entry beyond it evicts the least recently
    /// confirmed learned entry; static entries are never evicted.
    pub max_entries: usize,
}

impl Default for NeighbourLimits {
    fn default() -> Self {
        NeighbourLimits {
            aging_ms: 900_000,
            request_interval_ms: 1000,
            give_up_ms: 3000,
            held_per_nexthop: 4,
            max_entries: 8192,
        }
    }
}

/// What the cache knows of one next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighbourState {
    /// Learned from the wire, last confirmed at `confirmed_ms`.
    Reachable {
        /// The next hop's MAC.
        mac: [u8; 6],
        /// When a binding last confirmed it.
        confirmed_ms: u64,
    },
    /// Set by the operator: never aged, never overwritten by what the wire says.
    Static {
        /// The next hop's MAC.
        mac: [u8; 6],
    },
    /// Being resolved: requests sent, packets may be held.
    Incomplete {
        /// When the entry was made (its first request).
        since_ms: u64,
        /// When the last request was due.
        last_request_ms: u64,
        /// How many requests were due so far.
        requests: u32,
    },
}

/// What `NeighbourCache::hold` did with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Hold<P> {
    /// Held until the next hop resolves; `request_due`: the caller sends a request now.
    Held {
        /// The caller must send an ARP request / neighbour solicitation now.
        request_due: bool,
    },
    /// Not held (the queue is full, the cache is full of entries it may not evict, or the next
    /// hop is already resolved): the packet comes back, the caller counts the drop. A request
    /// may still be due: ask `request_due`.
    QueueFull(P),
}

/// What a learn, refresh or static set did.
#[derive(Debug, PartialEq, Eq)]
pub struct Learned<P> {
    /// Whether the MAC a lookup gives for the address changed (new entry or another MAC).
    pub changed: bool,
    /// The packets that were held for the address, in the order they came: to be sent now.
    pub released: Vec<P>,
}

impl<P> Learned<P> {
    fn nothing() -> Self {
        Learned { changed: false, released: Vec::new() }
    }
}

/// What `NeighbourCache::expire` removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Expired<P> {
    /// Learned entries that aged out.
    pub aged: Vec<IpAddr>,
    /// Next hops given up on, with their held packets (to be dropped).
    pub unresolved: Vec<(IpAddr, Vec<P>)>,
}

#[derive(Debug)]
struct Entry<P> {
    state: NeighbourState,
    /// Only an Incomplete entry holds packets.
    held: Vec<P>,
    /// When cached flows through this next hop last moved packets (their megaflows refresh
    /// it, `pipeline::keepalive`); kept while the entry changes state.
    used: Arc<LastSeen>,
    /// When the last probe of a Reachable entry in use was sent (0: none since confirmed).
    probed_ms: u64,
}

impl<P> Entry<P> {
    fn new(state: NeighbourState, held: Vec<P>, used: Arc<LastSeen>) -> Self {
        Entry { state, held, used, probed_ms: 0 }
    }
}

/// A resolved next hop as the datapath sees it.
#[derive(Debug, Clone)]
pub struct ResolvedNeighbour {
    pub mac: [u8; 6],
    /// Refreshed by the megaflows that send through it (`NeighbourCache::probes_due`).
    pub used: Arc<LastSeen>,
}

impl ResolvedNeighbour {
    /// A next hop at `mac` that nothing has used yet (tests build datapaths with them).
    #[cfg(test)]
    pub fn new(mac: [u8; 6]) -> Self {
        ResolvedNeighbour { mac, used: Arc::default() }
    }
}

/// The neighbour cache of one underlay bridge, generic over the held packet type P (the switch
/// holds mbufs; tests hold `Vec<u8>`). Addresses are kept canonical: an IPv4-mapped IPv6
/// address is the IPv4 address.
#[derive(Debug)]
pub struct NeighbourCache<P> {
    limits: NeighbourLimits,
    entries: HashMap<IpAddr, Entry<P>>,
    /// The Reachable entries by (confirmed_ms, address), oldest first: aging and eviction.
    reachable: BTreeSet<(u64, IpAddr)>,
    generation: u64,
}

/// Whether `mac` can be a neighbour's address (unicast, not all zero).
fn unicast_mac(mac: &[u8; 6]) -> bool {
    mac[0] & 1 == 0 && *mac != [0; 6]
}

/// Whether `ip` can be a neighbour's address (not unspecified, multicast or broadcast).
fn unicast_ip(ip: &IpAddr) -> bool {
    !ip.is_unspecified() && !ip.is_multicast() && *ip != IpAddr::V4(Ipv4Addr::BROADCAST)
}

impl<P> NeighbourCache<P> {
    /// An empty cache.
    pub fn new(limits: NeighbourLimits) -> Self {
        NeighbourCache { limits, entries: HashMap::new(), reachable: BTreeSet::new(), generation: 0 }
    }

    /// The limits the cache runs with.
    pub fn limits(&self) -> NeighbourLimits {
        self.limits
    }

    fn take(&mut self, ip: &IpAddr) -> Option<Entry<P>> {
        let entry = self.entries.remove(ip)?;
        if let NeighbourState::Reachable { confirmed_ms, .. } = entry.state {
            self.reachable.remove(&(confirmed_ms, *ip));
        }
        Some(entry)
    }

    fn put(&mut self, ip: IpAddr, entry: Entry<P>) {
        if let NeighbourState::Reachable { confirmed_ms, .. } = entry.state {
            self.reachable.insert((confirmed_ms, ip));
        }
        self.entries.insert(ip, entry);
    }

    fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Makes room for one new entry by evicting the least recently confirmed learned entries;
    /// false when the cache is full of entries it may not evict (static, incomplete).
    fn make_room(&mut self) -> bool {
        while self.entries.len() >= self.limits.max_entries {
            let Some((_, oldest)) = self.reachable.pop_first() else {
                return false;
            };
            self.entries.remove(&oldest);
            self.bump();
        }
        true
    }

    /// The MAC of a resolved next hop (Reachable or Static).
    pub fn lookup(&self, ip: &IpAddr) -> Option<[u8; 6]> {
        match self.entries.get(&ip.to_canonical())?.state {
            NeighbourState::Reachable { mac, .. } | NeighbourState::Static { mac } => Some(mac),
            NeighbourState::Incomplete { .. } => None,
        }
    }

    /// Makes an Incomplete entry for `ip` whose first request is due now; false when there is
    /// no room or `ip` cannot be a neighbour.
    fn start(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        if !unicast_ip(&ip) || !self.make_room() {
            return false;
        }
        let state = NeighbourState::Incomplete { since_ms: now_ms, last_request_ms: now_ms, requests: 1 };
        self.put(ip, Entry::new(state, Vec::new(), Arc::default()));
        true
    }

    /// Whether a request is due for an Incomplete entry at `now_ms`, recording it when it is.
    fn due(interval_ms: u64, state: &mut NeighbourState, now_ms: u64) -> bool {
        match state {
            NeighbourState::Incomplete { last_request_ms, requests, .. } => {
                let due = now_ms.saturating_sub(*last_request_ms) >= interval_ms;
                if due {
                    *last_request_ms = now_ms;
                    *requests = requests.saturating_add(1);
                }
                due
            }
            _ => false,
        }
    }

    /// A packet for an unresolved next hop: held (Incomplete entry created if absent).
    /// `request_due` says the caller must send a request now (first time, or request_interval
    /// elapsed since the last one: the rate limit per next hop). A full queue returns the packet
    /// (the caller counts the drop) without recording a request: the caller may ask
    /// `request_due`. A resolved next hop (the caller should have used `lookup`) or a cache full
    /// of entries it may not evict also return the packet.
    pub fn hold(&mut self, ip: IpAddr, packet: P, now_ms: u64) -> Hold<P> {
        let ip = ip.to_canonical();
        let limit = self.limits.held_per_nexthop;
        let interval = self.limits.request_interval_ms;
        match self.entries.get_mut(&ip) {
            Some(entry) => {
                if !matches!(entry.state, NeighbourState::Incomplete { .. }) || entry.held.len() >= limit {
                    return Hold::QueueFull(packet);
                }
                entry.held.push(packet);
                Hold::Held { request_due: Self::due(interval, &mut entry.state, now_ms) }
            }
            None => {
                if limit == 0 || !unicast_ip(&ip) || !self.make_room() {
                    return Hold::QueueFull(packet);
                }
                let state = NeighbourState::Incomplete { since_ms: now_ms, last_request_ms: now_ms, requests: 1 };
                self.put(ip, Entry::new(state, vec![packet], Arc::default()));
                Hold::Held { request_due: true }
            }
        }
    }

    /// Whether a request for `ip` is due now without holding anything (also records it as sent
    /// when due; an absent next hop gets an Incomplete entry). False for a resolved next hop.
    pub fn request_due(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        let ip = ip.to_canonical();
        let interval = self.limits.request_interval_ms;
        match self.entries.get_mut(&ip) {
            Some(entry) => Self::due(interval, &mut entry.state, now_ms),
            None => self.start(ip, now_ms),
        }
    }

    /// Makes `ip` Reachable at `mac` (the entry exists or there is room for it).
    fn resolve(&mut self, ip: IpAddr, mac: [u8; 6], now_ms: u64) -> Learned<P> {
        let (changed, released, used) = match self.take(&ip) {
            Some(Entry { state: NeighbourState::Reachable { mac: old, .. }, held, used, .. }) => {
                (old != mac, held, used)
            }
            Some(entry) => (true, entry.held, entry.used),
            None => (true, Vec::new(), Arc::default()),
        };
        self.put(ip, Entry::new(NeighbourState::Reachable { mac, confirmed_ms: now_ms }, Vec::new(), used));
        if changed {
            self.bump();
        }
        Learned { changed, released }
    }

    /// A binding seen on the wire (ARP reply / gratuitous ARP / ND advertisement / a tunnel
    /// packet's outer source). Static entries are never overwritten; a multicast or zero MAC, or
    /// an address that cannot be a neighbour, is ignored. Returns whether the MAC a lookup gives
    /// changed (new entry or different MAC) and the packets held for it, in order.
    pub fn learn(&mut self, ip: IpAddr, mac: [u8; 6], now_ms: u64) -> Learned<P> {
        let ip = ip.to_canonical();
        if !unicast_ip(&ip) || !unicast_mac(&mac) {
            return Learned::nothing();
        }
        match self.entries.get(&ip).map(|e| matches!(e.state, NeighbourState::Static { .. })) {
            Some(true) => Learned::nothing(),
            Some(false) => self.resolve(ip, mac, now_ms),
            None if self.make_room() => self.resolve(ip, mac, now_ms),
            None => Learned::nothing(),
        }
    }

    /// Only refresh an existing learned entry with the same MAC, or update it when the MAC
    /// differs (never creates entries, nor resolves an Incomplete one: used for snooped traffic
    /// not addressed to us, so a flood of forged sources cannot fill the cache). Returns Learned
    /// as learn does.
    pub fn refresh(&mut self, ip: IpAddr, mac: [u8; 6], now_ms: u64) -> Learned<P> {
        let ip = ip.to_canonical();
        if !unicast_mac(&mac) {
            return Learned::nothing();
        }
        match self.entries.get(&ip).map(|e| &e.state) {
            Some(NeighbourState::Reachable { .. }) => self.resolve(ip, mac, now_ms),
            _ => Learned::nothing(),
        }
    }

    /// Sets a static entry (the operator's word: any MAC, never aged, never evicted, allowed
    /// beyond max_entries when nothing learned is left to evict). An Incomplete entry's held
    /// packets are released.
    pub fn set_static(&mut self, ip: IpAddr, mac: [u8; 6]) -> Learned<P> {
        let ip = ip.to_canonical();
        if !self.entries.contains_key(&ip) {
            // Room if possible; a static entry goes in anyway.
            let _ = self.make_room();
        }
        let (changed, released, used) = match self.take(&ip) {
            Some(Entry {
                state: NeighbourState::Reachable { mac: old, .. } | NeighbourState::Static { mac: old },
                held,
                used,
                ..
            }) => (old != mac, held, used),
            Some(entry) => (true, entry.held, entry.used),
            None => (true, Vec::new(), Arc::default()),
        };
        self.put(ip, Entry::new(NeighbourState::Static { mac }, Vec::new(), used));
        if changed {
            self.bump();
        }
        Learned { changed, released }
    }

    /// Removes one entry (any kind); its held packets are returned to be dropped.
    pub fn remove(&mut self, ip: &IpAddr) -> Option<Vec<P>> {
        let entry = self.take(&ip.to_canonical())?;
        if !matches!(entry.state, NeighbourState::Incomplete { .. }) {
            self.bump();
        }
        Some(entry.held)
    }

    /// Removes every learned and incomplete entry (static ones stay); returns the held packets.
    pub fn flush(&mut self) -> Vec<P> {
        let mut gone: Vec<IpAddr> = self
            .entries
            .iter()
            .filter(|(_, e)| !matches!(e.state, NeighbourState::Static { .. }))
            .map(|(ip, _)| *ip)
            .collect();
        gone.sort_unstable();
        let mut held = Vec::new();
        let mut resolved = false;
        for ip in gone {
            if let Some(entry) = self.take(&ip) {
                resolved |= matches!(entry.state, NeighbourState::Reachable { .. });
                held.extend(entry.held);
            }
        }
        if resolved {
            self.bump();
        }
        held
    }

    /// Ages learned entries out (aging_ms after their last confirmation) and gives up on next
    /// hops unresolved for give_up_ms since their first request.
    pub fn expire(&mut self, now_ms: u64) -> Expired<P> {
        let mut aged = Vec::new();
        while let Some(&(confirmed_ms, ip)) = self.reachable.first() {
            if now_ms.saturating_sub(confirmed_ms) < self.limits.aging_ms {
                break;
            }
            self.take(&ip);
            aged.push(ip);
        }
        if !aged.is_empty() {
            self.bump();
        }
        let give_up = self.limits.give_up_ms;
        let mut stale: Vec<IpAddr> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                matches!(e.state, NeighbourState::Incomplete { since_ms, .. } if now_ms.saturating_sub(since_ms) >= give_up)
            })
            .map(|(ip, _)| *ip)
            .collect();
        stale.sort_unstable();
        let unresolved = stale.into_iter().filter_map(|ip| Some((ip, self.take(&ip)?.held))).collect();
        Expired { aged, unresolved }
    }

    /// The learned next hops that cached flows used since their last confirmation and that
    /// are about to age out, whose probe is due: the caller sends each a unicast request to the
    /// MAC it has (as Linux probes a stale neighbour in use), recorded here as sent. A live
    /// peer's answer confirms the entry before it ages out, so the flows through it neither
    /// lose nor hold a packet; an entry nothing uses, or whose peer does not answer, ages out
    /// as before. Probes start `probe_window` before the end (3 request intervals, at most half
    /// the aging time) and go one per request interval. Sorted by address.
    pub fn probes_due(&mut self, now_ms: u64) -> Vec<(IpAddr, [u8; 6])> {
        let NeighbourLimits { aging_ms, request_interval_ms, .. } = self.limits;
        let window = (3 * request_interval_ms).min(aging_ms / 2);
        let from = now_ms.saturating_sub(aging_ms.saturating_sub(window));
        let mut due = Vec::new();
        for &(confirmed_ms, ip) in self.reachable.iter().take_while(|(confirmed_ms, _)| *confirmed_ms <= from) {
            let Some(entry) = self.entries.get_mut(&ip) else { continue };
            let NeighbourState::Reachable { mac, .. } = entry.state else { continue };
            let probe_due = entry.probed_ms == 0 || now_ms.saturating_sub(entry.probed_ms) >= request_interval_ms;
            if entry.used.get() > confirmed_ms && probe_due {
                entry.probed_ms = now_ms;
                due.push((ip, mac));
            }
        }
        due.sort_unstable();
        due
    }

    /// The resolved next hops (Reachable and Static) as the datapath sees them.
    pub fn resolved(&self) -> impl Iterator<Item = (IpAddr, ResolvedNeighbour)> + '_ {
        self.entries.iter().filter_map(|(ip, e)| match e.state {
            NeighbourState::Reachable { mac, .. } | NeighbourState::Static { mac } => {
                Some((*ip, ResolvedNeighbour { mac, used: Arc::clone(&e.used) }))
            }
            NeighbourState::Incomplete { .. } => None,
        })
    }

    /// Every entry (sorted by address, IPv4 first) for neigh-show.
    pub fn entries(&self) -> Vec<(IpAddr, NeighbourState)> {
        let mut all: Vec<(IpAddr, NeighbourState)> =
            self.entries.iter().map(|(ip, e)| (*ip, e.state.clone())).collect();
        all.sort_unstable_by_key(|(ip, _)| *ip);
        all
    }

    /// Whether the cache has an entry of any kind for `ip` (resolved, static or being resolved):
    /// a next hop the switch wants, whose bindings seen on the wire are worth learning.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.entries.contains_key(&ip.to_canonical())
    }

    /// The packets held for `ip` now.
    pub fn held(&self, ip: &IpAddr) -> usize {
        self.entries.get(&ip.to_canonical()).map_or(0, |e| e.held.len())
    }

    /// The unresolved next hops whose next request is due at `now_ms` (request_interval after
    /// the last one), recorded as sent: the retransmissions a periodic tick makes until the
    /// next hop resolves or is given up, whether or not packets keep coming. Sorted.
    pub fn requests_due(&mut self, now_ms: u64) -> Vec<IpAddr> {
        let interval = self.limits.request_interval_ms;
        let mut due: Vec<IpAddr> = self
            .entries
            .iter_mut()
            .filter_map(|(ip, e)| Self::due(interval, &mut e.state, now_ms).then_some(*ip))
            .collect();
        due.sort_unstable();
        due
    }

    /// The number of entries of every kind.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bumped by every change of what `lookup` returns for some address (learn with a new MAC,
    /// static set, remove, flush, expiry or eviction of a resolved entry).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
/// ARP over Ethernet for IPv4: hardware type 1, protocol 0x0800, lengths 6 and 4.
const ARP_ETHERNET_IPV4: [u8; 6] = [0, 1, 0x08, 0x00, 6, 4];
const ICMPV6: u8 = 58;
const ND_SOLICITATION: u8 = 135;
const ND_ADVERTISEMENT: u8 = 136;
const OPTION_SOURCE_LL: u8 = 1;
const OPTION_TARGET_LL: u8 = 2;
/// The Solicited and Override flags of an advertisement (first byte of its flags word).
const NA_SOLICITED: u8 = 0x40;
const NA_OVERRIDE: u8 = 0x20;

fn arp(dst: [u8; 6], op: u8, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&sha);
    frame.extend_from_slice(&ETHERTYPE_ARP);
    frame.extend_from_slice(&ARP_ETHERNET_IPV4);
    frame.extend_from_slice(&[0, op]);
    frame.extend_from_slice(&sha);
    frame.extend_from_slice(&spa.octets());
    frame.extend_from_slice(&tha);
    frame.extend_from_slice(&tpa.octets());
    frame
}

/// An ARP request (broadcast) asking for `target`: 42 bytes (the caller pads if needed).
pub fn arp_request(src_mac: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    arp([0xff; 6], 1, src_mac, src_ip, [0; 6], target)
}

/// An ARP request asking `target` again at the MAC it has (`target_mac`, unicast, as Linux
/// probes a neighbour): 42 bytes.
pub fn arp_probe(src_mac: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr, target_mac: [u8; 6]) -> Vec<u8> {
    arp(target_mac, 1, src_mac, src_ip, [0; 6], target)
}

/// The ARP reply to a request, from `mac`/`ip` (our address) to the requester: 42 bytes.
pub fn arp_reply(mac: [u8; 6], ip: Ipv4Addr, to_mac: [u8; 6], to_ip: Ipv4Addr) -> Vec<u8> {
    arp(to_mac, 2, mac, ip, to_mac, to_ip)
}

/// The ones' complement checksum of ICMPv6 over the pseudo header of `src`, `dst` and the
/// message (checksum field included): 0 for a message whose checksum is right, and the value to
/// store for one whose checksum field is zero.
fn icmpv6_checksum(src: &[u8; 16], dst: &[u8; 16], message: &[u8]) -> u16 {
    let words = |bytes: &[u8]| -> u64 {
        bytes.chunks(2).map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))).sum()
    };
    let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let mut sum = words(src) + words(dst) + u64::from(length >> 16) + u64::from(length & 0xffff);
    sum += u64::from(ICMPV6) + words(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let folded = u16::try_from(sum).unwrap_or(u16::MAX);
    !folded
}

/// An Ethernet + IPv6 (hop limit 255) + ICMPv6 frame; `message`'s checksum field is filled.
fn icmpv6_frame(eth_dst: [u8; 6], eth_src: [u8; 6], src: Ipv6Addr, dst: Ipv6Addr, mut message: Vec<u8>) -> Vec<u8> {
    let checksum = icmpv6_checksum(&src.octets(), &dst.octets(), &message);
    if let Some(field) = message.get_mut(2..4) {
        field.copy_from_slice(&checksum.to_be_bytes());
    }
    let length = u16::try_from(message.len()).unwrap_or(u16::MAX);
    let mut frame = Vec::with_capacity(54 + message.len());
    frame.extend_from_slice(&eth_dst);
    frame.extend_from_slice(&eth_src);
    frame.extend_from_slice(&ETHERTYPE_IPV6);
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&[ICMPV6, 255]);
    frame.extend_from_slice(&src.octets());
    frame.extend_from_slice(&dst.octets());
    frame.extend_from_slice(&message);
    frame
}

/// The multicast MAC of an IPv6 multicast address (33:33 and its last 32 bits).
fn multicast_mac(group: &Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// An IPv6 neighbour solicitation for `target` to its solicited-node multicast address
/// (33:33:ff:xx:xx:xx, ff02::1:ffXX:XXXX), hop limit 255, with the source link-layer address
/// option (left out, as RFC 4861 says, when `src_ip` is unspecified: duplicate address
/// detection), ICMPv6 checksum correct. 86 bytes.
pub fn neighbour_solicitation(src_mac: [u8; 6], src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let group = Ipv6Addr::from([0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(t[13]), u16::from_be_bytes([t[14], t[15]])]);
    solicitation(multicast_mac(&group), group, src_mac, src_ip, target)
}

/// A neighbour solicitation sent to `target` itself at the MAC it has (`target_mac`): the
/// unicast probe of RFC 4861 7.3.3, otherwise as `neighbour_solicitation`.
pub fn neighbour_probe(src_mac: [u8; 6], src_ip: Ipv6Addr, target: Ipv6Addr, target_mac: [u8; 6]) -> Vec<u8> {
    solicitation(target_mac, target, src_mac, src_ip, target)
}

fn solicitation(eth_dst: [u8; 6], dst: Ipv6Addr, src_mac: [u8; 6], src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let mut message = vec![ND_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
    message.extend_from_slice(&target.octets());
    if !src_ip.is_unspecified() {
        message.extend_from_slice(&[OPTION_SOURCE_LL, 1]);
        message.extend_from_slice(&src_mac);
    }
    icmpv6_frame(eth_dst, src_mac, src_ip, dst, message)
}

/// A solicited neighbour advertisement answering a solicitation from `to_mac`/`to_ip` for our
/// `ip` (flags S and O, target link-layer address option). A solicitation from the unspecified
/// address (duplicate address detection) is answered to all nodes (ff02::1) without the S flag,
/// as RFC 4861 says. 86 bytes.
pub fn neighbour_advertisement(mac: [u8; 6], ip: Ipv6Addr, to_mac: [u8; 6], to_ip: Ipv6Addr) -> Vec<u8> {
    let (eth_dst, dst, flags) = if to_ip.is_unspecified() {
        let all_nodes = Ipv6Addr::from([0xff02, 0, 0, 0, 0, 0, 0, 1]);
        (multicast_mac(&all_nodes), all_nodes, NA_OVERRIDE)
    } else {
        (to_mac, to_ip, NA_SOLICITED | NA_OVERRIDE)
    };
    let mut message = vec![ND_ADVERTISEMENT, 0, 0, 0, flags, 0, 0, 0];
    message.extend_from_slice(&ip.octets());
    message.extend_from_slice(&[OPTION_TARGET_LL, 1]);
    message.extend_from_slice(&mac);
    icmpv6_frame(eth_dst, mac, ip, dst, message)
}

/// What a received ARP or ND frame (untagged Ethernet) says about addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighbourMessage {
    /// Someone asks who has `target`; the sender's binding comes with it (the sender address is
    /// unspecified for an ARP probe or a duplicate address detection solicitation: nothing to
    /// learn, `learn` ignores it).
    Request {
        /// The asker's address.
        sender_ip: IpAddr,
        /// The asker's MAC.
        sender_mac: [u8; 6],
        /// The address asked for.
        target: IpAddr,
    },
    /// A reply, gratuitous ARP (sender == target) or unsolicited/solicited ND advertisement:
    /// `ip` is at `mac`.
    Binding {
        /// The address.
        ip: IpAddr,
        /// Its MAC.
        mac: [u8; 6],
    },
}

/// `N` bytes of `bytes` from `at`, if there are that many.
fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Parses ARP (request/reply, Ethernet/IPv4 only, gratuitous ARP as a Binding) and ICMPv6 NS/NA
/// (no extension headers, hop limit must be 255, checksum verified, link-layer options used; an
/// NA without a TLL option uses the Ethernet source). None for anything else or anything
/// malformed, and for a binding to a multicast or zero MAC or a non-unicast address. Trailing
/// bytes (Ethernet padding) are ignored.
pub fn parse_neighbour_message(frame: &[u8]) -> Option<NeighbourMessage> {
    let eth_src: [u8; 6] = array(frame, 6)?;
    let ethertype: [u8; 2] = array(frame, 12)?;
    let payload = frame.get(14..)?;
    match ethertype {
        ETHERTYPE_ARP => parse_arp(payload),
        ETHERTYPE_IPV6 => parse_nd(eth_src, payload),
        _ => None,
    }
}

fn parse_arp(arp: &[u8]) -> Option<NeighbourMessage> {
    if array::<6>(arp, 0)? != ARP_ETHERNET_IPV4 {
        return None;
    }
    let op = u16::from_be_bytes(array(arp, 6)?);
    let sha: [u8; 6] = array(arp, 8)?;
    let spa = IpAddr::V4(Ipv4Addr::from(array::<4>(arp, 14)?));
    let tpa = IpAddr::V4(Ipv4Addr::from(array::<4>(arp, 24)?));
    if !unicast_mac(&sha) {
        return None;
    }
    match op {
        1 if spa == tpa && unicast_ip(&spa) => Some(NeighbourMessage::Binding { ip: spa, mac: sha }),
        1 if unicast_ip(&tpa) && (unicast_ip(&spa) || spa.is_unspecified()) => {
            Some(NeighbourMessage::Request { sender_ip: spa, sender_mac: sha, target: tpa })
        }
        2 if unicast_ip(&spa) => Some(NeighbourMessage::Binding { ip: spa, mac: sha }),
        _ => None,
    }
}

/// The link-layer address in the first option of `kind` among ND `options`; Err for a
/// malformed option list (a zero length, or an option running past the end).
fn ll_option(mut options: &[u8], kind: u8) -> Result<Option<[u8; 6]>, ()> {
    let mut found = None;
    while !options.is_empty() {
        let length = usize::from(*options.get(1).ok_or(())?) * 8;
        if length == 0 || length > options.len() {
            return Err(());
        }
        if options[0] == kind && found.is_none() {
            found = array(options, 2);
        }
        options = options.get(length..).ok_or(())?;
    }
    Ok(found)
}

fn parse_nd(eth_src: [u8; 6], ipv6: &[u8]) -> Option<NeighbourMessage> {
    let header: [u8; 8] = array(ipv6, 0)?;
    if header[0] >> 4 != 6 || header[6] != ICMPV6 || header[7] != 255 {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let src: [u8; 16] = array(ipv6, 8)?;
    let dst: [u8; 16] = array(ipv6, 24)?;
    let message = ipv6.get(40..40 + length)?;
    if message.len() < 24 || message[1] != 0 || icmpv6_checksum(&src, &dst, message) != 0 {
        return None;
    }
    let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
    let target = IpAddr::V6(Ipv6Addr::from(array::<16>(message, 8)?));
    if !unicast_ip(&target) || src.is_multicast() {
        return None;
    }
    let options = message.get(24..)?;
    match message[0] {
        ND_SOLICITATION => {
            let sll = ll_option(options, OPTION_SOURCE_LL).ok()?;
            if src.is_unspecified() {
                // Duplicate address detection: to a solicited-node group, without the option.
                let solicited_node = dst.segments()[..6] == [0xff02, 0, 0, 0, 0, 1] && dst.octets()[12] == 0xff;
                if sll.is_some() || !solicited_node {
                    return None;
                }
            }
            let sender_mac = sll.unwrap_or(eth_src);
            unicast_mac(&sender_mac).then_some(NeighbourMessage::Request {
                sender_ip: IpAddr::V6(src),
                sender_mac,
                target,
            })
        }
        ND_ADVERTISEMENT => {
            if dst.is_multicast() && message[4] & NA_SOLICITED != 0 {
                return None;
            }
            let mac = ll_option(options, OPTION_TARGET_LL).ok()?.unwrap_or(eth_src);
            unicast_mac(&mac).then_some(NeighbourMessage::Binding { ip: target, mac })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
    const C: [u8; 6] = [2, 0, 0, 0, 0, 0xc];

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn cache(limits: NeighbourLimits) -> NeighbourCache<Vec<u8>> {
        NeighbourCache::new(limits)
    }

    fn held(due: bool) -> Hold<Vec<u8>> {
        Hold::Held { request_due: due }
    }

    #[test]
    fn a_next_hop_in_use_is_probed_before_it_ages_out_and_an_answer_keeps_it() {
        // Aging 10 s, requests 1 s apart: probes from 7 s after the confirmation, one a second.
        let limits = NeighbourLimits { aging_ms: 10_000, ..NeighbourLimits::default() };
        let mut c = cache(limits);
        let (used, idle) = (ip("10.0.0.1"), ip("10.0.0.2"));
        c.learn(used, A, 1000);
        c.learn(idle, B, 1000);
        let cell = |c: &NeighbourCache<Vec<u8>>, at: IpAddr| c.resolved().find(|(ip, _)| *ip == at).unwrap().1.used;
        let used_cell = cell(&c, used);
        used_cell.refresh(5000);
        assert!(c.probes_due(7999).is_empty(), "not yet in the probe window");
        assert_eq!(c.probes_due(8000), [(used, A)], "only the one flows used, at the MAC it has");
        assert!(c.probes_due(8500).is_empty(), "one probe per request interval");
        assert_eq!(c.probes_due(9000), [(used, A)]);
        // The answer confirms it: the same cell goes on, and no probe is due until the next
        // window; the idle one ages out.
        c.learn(used, A, 9100);
        assert!(Arc::ptr_eq(&cell(&c, used), &used_cell), "the use cell survives a confirmation");
        assert!(c.probes_due(9500).is_empty(), "used before the confirmation only");
        assert_eq!(c.expire(11_000).aged, [idle]);
        used_cell.refresh(12_000);
        assert_eq!(c.probes_due(16_100), [(used, A)]);
        // No answer: it ages out as any entry does.
        assert_eq!(c.expire(19_100).aged, [used]);
        assert!(c.probes_due(19_200).is_empty());
    }

    #[test]
    fn probes_are_unicast_requests_to_the_mac_known() {
        let probe = arp_probe(A, Ipv4Addr::new(10, 0, 0, 9), Ipv4Addr::new(10, 0, 0, 1), B);
        assert_eq!(probe[..6], B);
        assert_eq!(probe[6..], arp_request(A, Ipv4Addr::new(10, 0, 0, 9), Ipv4Addr::new(10, 0, 0, 1))[6..]);
        let (source, target) = ("fd00::9".parse().unwrap(), "fd00::1".parse().unwrap());
        let probe = neighbour_probe(A, source, target, B);
        assert_eq!(probe[..6], B);
        assert_eq!(probe[38..54], target.octets(), "to the target address itself");
        assert_eq!(
            parse_neighbour_message(&probe),
            parse_neighbour_message(&neighbour_solicitation(A, source, target)),
            "the same solicitation"
        );
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = NeighbourLimits::default();
        assert_eq!(
            (
                limits.aging_ms,
                limits.request_interval_ms,
                limits.give_up_ms,
                limits.held_per_nexthop,
                limits.max_entries
            ),
            (900_000, 1000, 3000, 4, 8192)
        );
        assert_eq!(cache(limits).limits(), limits);
    }

    #[test]
    fn retransmissions_follow_the_rate_limit_until_resolved_or_given_up() {
        let mut cache = cache(NeighbourLimits::default());
        let (x, y) = (ip("10.0.0.1"), ip("fd00::1"));
        assert!(!cache.contains(&x));
        assert_eq!(cache.hold(x, vec![1], 0), held(true));
        assert_eq!(cache.hold(x, vec![2], 10), held(false));
        assert!(cache.request_due(y, 500));
        assert!(cache.contains(&x) && cache.contains(&y));
        assert_eq!((cache.held(&x), cache.held(&y), cache.held(&ip("10.0.0.9"))), (2, 0, 0));
        assert_eq!(cache.requests_due(999), Vec::<IpAddr>::new());
        assert_eq!(cache.requests_due(1000), vec![x]);
        assert_eq!(cache.requests_due(1000), Vec::<IpAddr>::new(), "recorded as sent");
        assert!(!cache.request_due(x, 1500), "the packet path sees the retransmission");
        assert_eq!(cache.requests_due(1500), vec![y]);
        cache.learn(x, A, 1600);
        assert_eq!(cache.held(&x), 0);
        assert_eq!(cache.requests_due(2500), vec![y], "x resolved, y not yet");
        cache.expire(3500);
        assert!(!cache.contains(&y), "given up");
        assert_eq!(cache.requests_due(5000), Vec::<IpAddr>::new());
        cache.set_static(ip("10.0.0.8"), B);
        assert_eq!(cache.requests_due(100_000), Vec::<IpAddr>::new(), "never for resolved entries");
    }

    #[test]
    fn hold_rate_limits_requests_and_bounds_the_queue() {
        let mut cache = cache(NeighbourLimits::default());
        let gw = ip("172.31.1.254");
        assert_eq!(cache.hold(gw, vec![1], 0), held(true), "first hold: request now");
        assert_eq!(cache.hold(gw, vec![2], 500), held(false), "within the interval");
        assert_eq!(cache.hold(gw, vec![3], 999), held(false));
        assert_eq!(cache.hold(gw, vec![4], 1000), held(true), "the interval elapsed");
        assert_eq!(cache.hold(gw, vec![5], 2500), Hold::QueueFull(vec![5]), "4 held: full");
        assert_eq!(cache.lookup(&gw), None);
        // A full queue recorded no request; asking gives it.
        assert!(cache.request_due(gw, 2500));
        assert!(!cache.request_due(gw, 3000));
        assert_eq!(
            cache.entries(),
            [(gw, NeighbourState::Incomplete { since_ms: 0, last_request_ms: 2500, requests: 3 })]
        );
        // request_due alone makes an entry for an unknown next hop, rate limited the same way.
        let other = ip("fd00::fe");
        assert!(cache.request_due(other, 10));
        assert!(!cache.request_due(other, 1009));
        assert!(cache.request_due(other, 1010));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.generation(), 0, "nothing a lookup gives changed");
    }

    #[test]
    fn hold_refuses_resolved_and_non_unicast_next_hops() {
        let mut cache = cache(NeighbourLimits::default());
        cache.learn(ip("10.0.0.1"), A, 0);
        assert_eq!(cache.hold(ip("10.0.0.1"), vec![1], 0), Hold::QueueFull(vec![1]));
        assert!(!cache.request_due(ip("10.0.0.1"), 5000));
        assert_eq!(cache.hold(ip("224.0.0.1"), vec![2], 0), Hold::QueueFull(vec![2]));
        assert_eq!(cache.hold(ip("0.0.0.0"), vec![3], 0), Hold::QueueFull(vec![3]));
        assert!(!cache.request_due(ip("255.255.255.255"), 0));
        let mut none_held = NeighbourCache::new(NeighbourLimits { held_per_nexthop: 0, ..NeighbourLimits::default() });
        assert_eq!(none_held.hold(ip("10.0.0.2"), vec![4], 0), Hold::QueueFull(vec![4]));
        assert!(none_held.request_due(ip("10.0.0.2"), 0));
        assert_eq!(none_held.hold(ip("10.0.0.2"), vec![5], 0), Hold::QueueFull(vec![5]));
    }

    #[test]
    fn learn_releases_the_held_packets_in_order() {
        let mut cache = cache(NeighbourLimits::default());
        let gw = ip("172.31.1.254");
        for (i, now) in [0u64, 10, 20].into_iter().enumerate() {
            cache.hold(gw, vec![u8::try_from(i).unwrap()], now);
        }
        let learned = cache.learn(gw, A, 30);
        assert_eq!(learned, Learned { changed: true, released: vec![vec![0], vec![1], vec![2]] });
        assert_eq!(cache.lookup(&gw), Some(A));
        assert_eq!(cache.generation(), 1);
        assert_eq!(cache.learn(gw, A, 40), Learned { changed: false, released: vec![] }, "same MAC");
        assert_eq!(cache.generation(), 1);
        assert_eq!(cache.entries(), [(gw, NeighbourState::Reachable { mac: A, confirmed_ms: 40 })]);
        assert_eq!(cache.learn(gw, B, 50), Learned { changed: true, released: vec![] }, "the MAC moved");
        assert_eq!(cache.lookup(&gw), Some(B));
        assert_eq!(cache.generation(), 2);
        // A next hop learned before anything was held for it.
        assert_eq!(cache.learn(ip("172.31.1.7"), C, 60), Learned { changed: true, released: vec![] });
        assert_eq!(cache.generation(), 3);
    }

    #[test]
    fn learn_ignores_bindings_that_cannot_be_neighbours() {
        let mut cache = cache(NeighbourLimits::default());
        assert!(!cache.learn(ip("10.0.0.1"), [0xff; 6], 0).changed);
        assert!(!cache.learn(ip("10.0.0.1"), [0x01, 0, 0x5e, 0, 0, 1], 0).changed);
        assert!(!cache.learn(ip("10.0.0.1"), [0; 6], 0).changed);
        assert!(!cache.learn(ip("0.0.0.0"), A, 0).changed);
        assert!(!cache.learn(ip("ff02::1"), A, 0).changed);
        assert!(cache.is_empty());
        assert_eq!(cache.generation(), 0);
    }

    #[test]
    fn mapped_addresses_are_their_ipv4_address() {
        let mut cache = cache(NeighbourLimits::default());
        cache.learn(ip("::ffff:10.0.0.1"), A, 0);
        assert_eq!(cache.lookup(&ip("10.0.0.1")), Some(A));
        assert_eq!(cache.lookup(&ip("::ffff:10.0.0.1")), Some(A));
        assert_eq!(cache.entries()[0].0, ip("10.0.0.1"));
    }

    #[test]
    fn static_entries_are_not_overwritten_by_the_wire() {
        let mut cache = cache(NeighbourLimits::default());
        let gw = ip("10.0.0.1");
        cache.hold(gw, vec![7], 0);
        assert_eq!(cache.set_static(gw, A), Learned { changed: true, released: vec![vec![7]] });
        assert_eq!(cache.generation(), 1);
        assert_eq!(cache.learn(gw, B, 10), Learned { changed: false, released: vec![] });
        assert_eq!(cache.refresh(gw, B, 10), Learned { changed: false, released: vec![] });
        assert_eq!(cache.lookup(&gw), Some(A));
        assert_eq!(cache.expire(u64::MAX).aged, Vec::<IpAddr>::new(), "never aged");
        assert_eq!(cache.flush(), Vec::<Vec<u8>>::new());
        assert_eq!(cache.lookup(&gw), Some(A), "flush keeps static entries");
        assert_eq!(cache.generation(), 1);
        assert!(!cache.set_static(gw, A).changed);
        assert!(cache.set_static(gw, B).changed);
        assert_eq!(cache.generation(), 2);
        assert_eq!(cache.remove(&gw), Some(vec![]));
        assert_eq!(cache.lookup(&gw), None);
        assert_eq!(cache.generation(), 3);
        assert_eq!(cache.remove(&gw), None);
    }

    #[test]
    fn refresh_never_creates_entries() {
        let mut cache = cache(NeighbourLimits::default());
        let gw = ip("10.0.0.1");
        assert_eq!(cache.refresh(gw, A, 0), Learned { changed: false, released: vec![] });
        assert!(cache.is_empty());
        cache.hold(gw, vec![1], 0);
        assert!(!cache.refresh(gw, A, 5).changed, "nor resolves an incomplete one");
        assert_eq!(cache.lookup(&gw), None);
        assert_eq!(cache.learn(gw, A, 10).released, vec![vec![1]]);
        assert_eq!(cache.refresh(gw, A, 20), Learned { changed: false, released: vec![] });
        assert_eq!(cache.entries(), [(gw, NeighbourState::Reachable { mac: A, confirmed_ms: 20 })]);
        assert_eq!(cache.refresh(gw, B, 30), Learned { changed: true, released: vec![] });
        assert_eq!(cache.lookup(&gw), Some(B));
        assert_eq!(cache.generation(), 2);
    }

    #[test]
    fn expire_ages_learned_entries_and_gives_up_on_unresolved_ones() {
        let limits = NeighbourLimits { aging_ms: 10_000, give_up_ms: 3000, ..NeighbourLimits::default() };
        let mut cache = cache(limits);
        let (a, b, c, s) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4"));
        cache.learn(a, A, 0);
        cache.learn(b, B, 5000);
        cache.hold(c, vec![1], 1000);
        cache.hold(c, vec![2], 2000);
        cache.set_static(s, C);
        let generation = cache.generation();
        assert_eq!(cache.expire(3999), Expired { aged: vec![], unresolved: vec![] });
        assert_eq!(cache.expire(4000), Expired { aged: vec![], unresolved: vec![(c, vec![vec![1], vec![2]])] });
        assert_eq!(cache.generation(), generation, "an unresolved next hop was never visible");
        cache.refresh(a, A, 6000);
        assert_eq!(cache.expire(14_999), Expired { aged: vec![], unresolved: vec![] });
        assert_eq!(cache.expire(15_000), Expired { aged: vec![b], unresolved: vec![] });
        assert_eq!(cache.generation(), generation + 1);
        assert_eq!(cache.expire(15_999), Expired { aged: vec![], unresolved: vec![] });
        assert_eq!(cache.expire(16_000), Expired { aged: vec![a], unresolved: vec![] });
        assert_eq!(cache.generation(), generation + 2);
        assert_eq!(cache.entries(), [(s, NeighbourState::Static { mac: C })]);
        // A clock that goes back expires nothing and panics nowhere.
        cache.learn(a, A, 50_000);
        assert_eq!(cache.expire(0), Expired { aged: vec![], unresolved: vec![] });
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_confirmed_learned_entry() {
        let mut cache = cache(NeighbourLimits { max_entries: 3, ..NeighbourLimits::default() });
        let (a, b, c, d, e) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4"), ip("10.0.0.5"));
        cache.learn(a, A, 1);
        cache.learn(b, A, 2);
        cache.learn(c, A, 3);
        cache.refresh(a, A, 4);
        let generation = cache.generation();
        assert!(cache.learn(d, A, 5).changed);
        assert_eq!(cache.lookup(&b), None, "b was confirmed longest ago");
        assert_eq!(cache.generation(), generation + 2, "eviction and new entry");
        let left: Vec<IpAddr> = cache.entries().into_iter().map(|(ip, _)| ip).collect();
        assert_eq!(left, [a, c, d]);
        // An incomplete entry also takes room from the oldest learned one.
        assert_eq!(cache.hold(e, vec![1], 6), held(true));
        assert_eq!(cache.lookup(&c), None);
        assert_eq!(cache.len(), 3);
        // Nothing learned left to evict: statics and incomplete entries stay, new learning fails.
        cache.set_static(a, B);
        cache.set_static(d, B);
        assert!(!cache.learn(b, A, 7).changed);
        assert_eq!(cache.hold(b, vec![2], 7), Hold::QueueFull(vec![2]));
        assert!(!cache.request_due(b, 7));
        assert_eq!(cache.len(), 3);
        // A static entry goes in anyway.
        assert!(cache.set_static(b, C).changed);
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn remove_and_flush_return_held_packets() {
        let mut cache = cache(NeighbourLimits::default());
        cache.hold(ip("10.0.0.1"), vec![1], 0);
        cache.hold(ip("10.0.0.1"), vec![2], 0);
        cache.hold(ip("fd00::1"), vec![3], 0);
        cache.learn(ip("10.0.0.9"), A, 0);
        cache.set_static(ip("10.0.0.8"), B);
        let generation = cache.generation();
        assert_eq!(cache.remove(&ip("10.0.0.1")), Some(vec![vec![1], vec![2]]));
        assert_eq!(cache.generation(), generation, "an incomplete entry was never visible");
        cache.hold(ip("10.0.0.1"), vec![4], 0);
        assert_eq!(cache.flush(), vec![vec![4], vec![3]]);
        assert_eq!(cache.generation(), generation + 1);
        assert_eq!(cache.entries(), [(ip("10.0.0.8"), NeighbourState::Static { mac: B })]);
        assert_eq!(cache.flush(), Vec::<Vec<u8>>::new());
        assert_eq!(cache.generation(), generation + 1, "nothing visible went");
    }

    #[test]
    fn generation_bumps_exactly_on_lookup_visible_changes() {
        let limits = NeighbourLimits { aging_ms: 100, give_up_ms: 50, ..NeighbourLimits::default() };
        let mut cache = cache(limits);
        let x = ip("10.0.0.1");
        let mut expected = 0;
        let mut step = |cache: &mut NeighbourCache<Vec<u8>>, bumps: bool, what: &str| {
            expected += u64::from(bumps);
            assert_eq!(cache.generation(), expected, "{what}");
        };
        cache.hold(x, vec![], 0);
        step(&mut cache, false, "hold");
        cache.request_due(x, 10);
        step(&mut cache, false, "request_due");
        cache.learn(x, A, 10);
        step(&mut cache, true, "learn resolves");
        cache.learn(x, A, 20);
        step(&mut cache, false, "learn same MAC");
        cache.refresh(x, A, 30);
        step(&mut cache, false, "refresh same MAC");
        cache.refresh(x, B, 30);
        step(&mut cache, true, "refresh new MAC");
        cache.refresh(ip("10.0.0.2"), B, 30);
        step(&mut cache, false, "refresh of an unknown address");
        cache.set_static(x, B);
        step(&mut cache, false, "static with the MAC it had");
        cache.set_static(x, C);
        step(&mut cache, true, "static with another MAC");
        cache.remove(&x);
        step(&mut cache, true, "remove a resolved entry");
        cache.remove(&x);
        step(&mut cache, false, "remove nothing");
        cache.hold(x, vec![], 100);
        cache.expire(150);
        step(&mut cache, false, "give up on an unresolved next hop");
        cache.learn(x, A, 200);
        step(&mut cache, true, "learn new");
        cache.expire(299);
        step(&mut cache, false, "expire before the age");
        cache.expire(300);
        step(&mut cache, true, "aged out");
        cache.learn(x, A, 400);
        step(&mut cache, true, "learn again");
        cache.flush();
        step(&mut cache, true, "flush of a learned entry");
    }

    // Frames built by scapy 2.8 (the expression above each); the builders must give the same bytes.

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const PEER: [u8; 6] = [2, 0, 0, 0, 0, 0xfe];

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    /// Ether(dst='ff:ff:ff:ff:ff:ff', src='02:00:00:00:00:01')/ARP(op=1, hwsrc='02:00:00:00:00:01',
    ///   psrc='172.31.1.1', hwdst='00:00:00:00:00:00', pdst='172.31.1.254')
    const SCAPY_ARP_REQUEST: &str =
        "ffffffffffff02000000000108060001080006040001020000000001ac1f0101000000000000ac1f01fe";
    /// Ether(dst='02:00:00:00:00:fe', src='02:00:00:00:00:01')/ARP(op=2, hwsrc='02:00:00:00:00:01',
    ///   psrc='172.31.1.1', hwdst='02:00:00:00:00:fe', pdst='172.31.1.254')
    const SCAPY_ARP_REPLY: &str =
        "0200000000fe02000000000108060001080006040002020000000001ac1f01010200000000feac1f01fe";
    /// Ether(dst='33:33:ff:ba:98:76', src='02:00:00:00:00:01')/IPv6(src='fd00:1::1',
    ///   dst='ff02::1:ffba:9876', hlim=255)/ICMPv6ND_NS(tgt='fd00:1::fe:dcba:9876')
    ///   /ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:00:01')
    const SCAPY_NS: &str = concat!(
        "3333ffba987602000000000186dd6000000000203afffd000001000000000000",
        "000000000001ff0200000000000000000001ffba987687006e3900000000fd00",
        "000100000000000000fedcba98760101020000000001",
    );
    /// Ether(dst='02:00:00:00:00:fe', src='02:00:00:00:00:01')/IPv6(src='fd00:1::1', dst='fd00:1::fe',
    ///   hlim=255)/ICMPv6ND_NA(R=0, S=1, O=1, tgt='fd00:1::1')/ICMPv6NDOptDstLLAddr(lladdr='02:00:00:00:00:01')
    const SCAPY_NA: &str = concat!(
        "0200000000fe02000000000186dd6000000000203afffd000001000000000000",
        "000000000001fd0000010000000000000000000000fe88001b9d60000000fd00",
        "00010000000000000000000000010201020000000001",
    );
    /// Ether(dst='33:33:00:00:00:01', src='02:00:00:00:00:01')/IPv6(src='fd00:1::1', dst='ff02::1',
    ///   hlim=255)/ICMPv6ND_NA(R=0, S=0, O=1, tgt='fd00:1::1')/ICMPv6NDOptDstLLAddr(lladdr='02:00:00:00:00:01')
    const SCAPY_NA_ALL_NODES: &str = concat!(
        "33330000000102000000000186dd6000000000203afffd000001000000000000",
        "000000000001ff02000000000000000000000000000188005a9920000000fd00",
        "00010000000000000000000000010201020000000001",
    );

    fn v4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    fn samples() -> Vec<(Vec<u8>, NeighbourMessage)> {
        vec![
            (
                arp_request(MAC, v4("172.31.1.1"), v4("172.31.1.254")),
                NeighbourMessage::Request { sender_ip: ip("172.31.1.1"), sender_mac: MAC, target: ip("172.31.1.254") },
            ),
            (
                arp_reply(MAC, v4("172.31.1.1"), PEER, v4("172.31.1.254")),
                NeighbourMessage::Binding { ip: ip("172.31.1.1"), mac: MAC },
            ),
            (
                neighbour_solicitation(MAC, v6("fd00:1::1"), v6("fd00:1::fe:dcba:9876")),
                NeighbourMessage::Request {
                    sender_ip: ip("fd00:1::1"),
                    sender_mac: MAC,
                    target: ip("fd00:1::fe:dcba:9876"),
                },
            ),
            (
                neighbour_advertisement(MAC, v6("fd00:1::1"), PEER, v6("fd00:1::fe")),
                NeighbourMessage::Binding { ip: ip("fd00:1::1"), mac: MAC },
            ),
            (
                neighbour_advertisement(MAC, v6("fd00:1::1"), PEER, Ipv6Addr::UNSPECIFIED),
                NeighbourMessage::Binding { ip: ip("fd00:1::1"), mac: MAC },
            ),
        ]
    }

    #[test]
    fn builders_match_scapy() {
        let built: Vec<Vec<u8>> = samples().into_iter().map(|(frame, _)| frame).collect();
        let scapy: Vec<Vec<u8>> =
            [SCAPY_ARP_REQUEST, SCAPY_ARP_REPLY, SCAPY_NS, SCAPY_NA, SCAPY_NA_ALL_NODES].into_iter().map(hex).collect();
        assert_eq!(built, scapy);
        assert_eq!(built.iter().map(Vec::len).collect::<Vec<_>>(), [42, 42, 86, 86, 86]);
    }

    #[test]
    fn the_built_frames_parse_back() {
        for (frame, message) in samples() {
            assert_eq!(parse_neighbour_message(&frame), Some(message));
            // Ethernet padding is ignored.
            let mut padded = frame.clone();
            padded.resize(frame.len().max(60) + 4, 0);
            assert_eq!(parse_neighbour_message(&padded), Some(message));
        }
    }

    #[test]
    fn gratuitous_arp_and_probes() {
        let garp = arp_request(A, v4("10.0.0.1"), v4("10.0.0.1"));
        assert_eq!(parse_neighbour_message(&garp), Some(NeighbourMessage::Binding { ip: ip("10.0.0.1"), mac: A }));
        let garp_reply = arp_reply(A, v4("10.0.0.1"), [0xff; 6], v4("10.0.0.1"));
        assert_eq!(
            parse_neighbour_message(&garp_reply),
            Some(NeighbourMessage::Binding { ip: ip("10.0.0.1"), mac: A })
        );
        // An ARP probe (RFC 5227) asks with the unspecified sender.
        let probe = arp_request(A, Ipv4Addr::UNSPECIFIED, v4("10.0.0.1"));
        assert_eq!(
            parse_neighbour_message(&probe),
            Some(NeighbourMessage::Request { sender_ip: ip("0.0.0.0"), sender_mac: A, target: ip("10.0.0.1") })
        );
        // Nothing to ask for or bind with a broadcast sender MAC, a multicast target or a zero sender reply.
        assert_eq!(parse_neighbour_message(&arp_request([0xff; 6], v4("10.0.0.2"), v4("10.0.0.1"))), None);
        assert_eq!(parse_neighbour_message(&arp_request(A, v4("10.0.0.2"), v4("224.0.0.1"))), None);
        assert_eq!(parse_neighbour_message(&arp_reply(A, Ipv4Addr::UNSPECIFIED, B, v4("10.0.0.1"))), None);
    }

    /// Recomputes the ICMPv6 checksum of an Ethernet + IPv6 + ICMPv6 frame after an edit.
    fn fix_checksum(frame: &mut [u8]) {
        frame[56] = 0;
        frame[57] = 0;
        let src: [u8; 16] = frame[22..38].try_into().unwrap();
        let dst: [u8; 16] = frame[38..54].try_into().unwrap();
        let checksum = icmpv6_checksum(&src, &dst, &frame[54..]);
        frame[56..58].copy_from_slice(&checksum.to_be_bytes());
    }

    #[test]
    fn nd_without_link_layer_options_uses_the_ethernet_source() {
        // An NA without the TLL option: scapy would build it as
        // Ether(src='02:00:00:00:00:0a')/IPv6(hlim=255)/ICMPv6ND_NA(S=1, O=1, tgt=...).
        let mut na = neighbour_advertisement(MAC, v6("fd00:1::1"), PEER, v6("fd00:1::fe"));
        na.truncate(86 - 8);
        na[18..20].copy_from_slice(&24u16.to_be_bytes());
        na[6..12].copy_from_slice(&A);
        fix_checksum(&mut na);
        assert_eq!(parse_neighbour_message(&na), Some(NeighbourMessage::Binding { ip: ip("fd00:1::1"), mac: A }));
        // A duplicate address detection solicitation: unspecified source, no option.
        let dad = neighbour_solicitation(A, Ipv6Addr::UNSPECIFIED, v6("fd00:1::9"));
        assert_eq!(dad.len(), 78);
        assert_eq!(
            parse_neighbour_message(&dad),
            Some(NeighbourMessage::Request { sender_ip: ip("::"), sender_mac: A, target: ip("fd00:1::9") })
        );
    }

    #[test]
    fn truncated_frames_are_refused_at_every_length() {
        for (frame, _) in samples() {
            for len in 0..frame.len() {
                assert_eq!(parse_neighbour_message(&frame[..len]), None, "{len} bytes of {frame:02x?}");
            }
        }
    }

    #[test]
    fn malformed_nd_is_refused() {
        let ns = neighbour_solicitation(MAC, v6("fd00:1::1"), v6("fd00:1::fe"));
        let na = neighbour_advertisement(MAC, v6("fd00:1::1"), PEER, v6("fd00:1::fe"));
        let edited = |frame: &[u8], at: usize, value: u8, fix: bool| {
            let mut frame = frame.to_vec();
            frame[at] = value;
            if fix {
                fix_checksum(&mut frame);
            }
            parse_neighbour_message(&frame)
        };
        for frame in [&ns, &na] {
            assert!(parse_neighbour_message(frame).is_some());
            assert_eq!(edited(frame, 21, 64, false), None, "hop limit 64 (not in the checksum)");
            assert_eq!(edited(frame, 21, 254, false), None, "hop limit 254");
            assert_eq!(edited(frame, 56, frame[56] ^ 1, false), None, "bad checksum");
            assert_eq!(edited(frame, 70, frame[70] ^ 0x80, false), None, "target changed, checksum not");
            assert_eq!(edited(frame, 20, 0, false), None, "next header: an extension header");
            assert_eq!(edited(frame, 14, 0x40, false), None, "IP version 4");
            assert_eq!(edited(frame, 55, 1, true), None, "ICMPv6 code 1");
            assert_eq!(edited(frame, 79, 0, true), None, "option of length zero");
            assert_eq!(edited(frame, 79, 2, true), None, "option running past the end");
            assert_eq!(edited(frame, 62, 0xff, true), None, "multicast target");
            assert_eq!(edited(frame, 80, 0x01, true), None, "multicast link-layer address");
            assert_eq!(edited(frame, 12, 0x81, false), None, "VLAN tagged");
        }
        assert_eq!(edited(&ns, 54, 128, true), None, "an echo request");
        // An advertisement to a multicast group must not claim to be solicited.
        let to_all = hex(SCAPY_NA_ALL_NODES);
        assert_eq!(edited(&to_all, 58, NA_SOLICITED | NA_OVERRIDE, true), None);
        // A duplicate address detection solicitation must go to a solicited-node group, without the option.
        let mut dad_with_option = ns.clone();
        dad_with_option[22..38].fill(0);
        fix_checksum(&mut dad_with_option);
        assert_eq!(parse_neighbour_message(&dad_with_option), None);
        // A payload length beyond the frame.
        assert_eq!(edited(&ns, 19, 0x28, false), None);
    }

    #[test]
    fn malformed_arp_is_refused() {
        let request = arp_request(MAC, v4("172.31.1.1"), v4("172.31.1.254"));
        for (at, value, what) in [
            (15, 6, "hardware type 6"),
            (17, 0xdd, "protocol 0x08dd"),
            (18, 8, "hardware length 8"),
            (19, 16, "protocol length 16"),
            (21, 3, "RARP request"),
            (20, 1, "operation 257"),
        ] {
            let mut frame = request.clone();
            frame[at] = value;
            assert_eq!(parse_neighbour_message(&frame), None, "{what}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let templates: Vec<Vec<u8>> = samples().into_iter().map(|(frame, _)| frame).collect();
        let mut parsed = 0;
        for round in 0..10_000u32 {
            let frame: Vec<u8> = if round % 2 == 0 {
                // Pure noise, with a plausible ethertype half the time.
                let len = usize::try_from(next() % 120).unwrap();
                let mut frame: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
                if round % 4 == 0 && len >= 14 {
                    frame[12..14].copy_from_slice(if round % 8 == 0 { &ETHERTYPE_ARP } else { &ETHERTYPE_IPV6 });
                }
                frame
            } else {
                // A real frame with a few bytes changed and maybe cut.
                let template = &templates[usize::try_from(next() % 5).unwrap()];
                let mut frame = template.clone();
                for _ in 0..1 + next() % 4 {
                    let at = usize::try_from(next() % 86).unwrap() % frame.len();
                    frame[at] = next().to_le_bytes()[0];
                }
                let keep = usize::try_from(next() % 100).unwrap().min(frame.len());
                frame.truncate(keep);
                frame
            };
            parsed += usize::from(parse_neighbour_message(&frame).is_some());
        }
        // Some mutated frames stay valid (a changed MAC, or a byte past the end when cut).
        assert!(parsed > 0);
    }
}
