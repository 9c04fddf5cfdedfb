//! The underlay route table: which underlay bridge, gateway and source address a tunnel packet
//! to a remote endpoint leaves by. IPv4 and IPv6 are kept apart; each family keeps one hash map
//! per prefix length that has routes, and a lookup tries those lengths longest first, so it costs
//! one hash probe per distinct length in use, never a scan of the routes. Management thread only.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP prefix: address with host bits zero, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The network address (host bits zero in a prefix `parse` or `insert` accepts).
    pub addr: IpAddr,
    /// The prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub len: u8,
}

/// The address as a number (an IPv4 address in the low 32 bits) and its family's bit count.
fn bits(addr: &IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(*a)), 32),
        IpAddr::V6(a) => (u128::from(*a), 128),
    }
}

/// The network bits of `value` (an address of `width` bits) under a prefix length `len`.
fn network(value: u128, len: u8, width: u8) -> u128 {
    let all = if width >= 128 { u128::MAX } else { u128::MAX.checked_shl(u32::from(width)).map_or(u128::MAX, |m| !m) };
    let host = u32::from(width.saturating_sub(len));
    value & all & u128::MAX.checked_shl(host).unwrap_or(0)
}

/// The address of `value` in the family of `like`.
fn address(value: u128, like: &IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(0))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

fn family(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Splits "addr/len" (or a bare address, with the family's full length) and checks both.
fn split(text: &str) -> Result<(IpAddr, u8), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty prefix: expected an address with an optional length, as 10.0.0.0/8 or fd00::/64".into());
    }
    let (addr_text, len_text) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| {
        format!("\"{addr_text}\" in \"{text}\" is not an IP address (expected e.g. 10.0.0.0/8 or fd00::/64)")
    })?;
    let (_, width) = bits(&addr);
    let len = match len_text {
        None => width,
        Some(l) => {
            if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("\"{l}\" in \"{text}\" is not a prefix length (a number 0-{width})"));
            }
            let len: u16 = l.parse().map_err(|_| format!("\"{l}\" in \"{text}\" is not a prefix length"))?;
            match u8::try_from(len) {
                Ok(len) if len <= width => len,
                _ => {
                    return Err(format!(
                        "{text}: a prefix length of {len} is beyond {width}, the longest for {}",
                        family(&addr)
                    ))
                }
            }
        }
    };
    Ok((addr, len))
}

impl Prefix {
    /// "10.0.0.0/8", "fd00::/64", or a bare address (= /32 or /128). Errors (an operator sentence)
    /// for garbage, a length beyond 32/128, and host bits set.
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let (addr, len) = split(text)?;
        let prefix = Prefix::covering(&addr, len);
        if prefix.addr != addr {
            return Err(format!("{} has host bits set; did you mean {prefix}?", text.trim()));
        }
        Ok(prefix)
    }

    /// The prefix of an interface address: "172.31.1.1/24" gives (172.31.1.1, 172.31.1.0/24);
    /// host bits are allowed here, an unspecified or multicast address is not.
    pub fn parse_interface_address(text: &str) -> Result<(IpAddr, Prefix), String> {
        let (addr, len) = split(text)?;
        if addr.is_unspecified() || addr.is_multicast() || addr == IpAddr::V4(Ipv4Addr::BROADCAST) {
            return Err(format!("{}: {addr} cannot be an interface address", text.trim()));
        }
        Ok((addr, Prefix::covering(&addr, len)))
    }

    /// The prefix of length `len` (cut to the family's width) that holds `addr`.
    pub fn covering(addr: &IpAddr, len: u8) -> Prefix {
        let (value, width) = bits(addr);
        let len = len.min(width);
        Prefix { addr: address(network(value, len, width), addr), len }
    }

    /// Whether `addr` is in this prefix (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, addr: &IpAddr) -> bool {
        let addr = addr.to_canonical();
        if addr.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let (value, width) = bits(&addr);
        let (mine, _) = bits(&self.addr);
        self.len <= width && network(value, self.len, width) == network(mine, self.len, width)
    }

    /// Why this prefix cannot be stored (a length beyond the family's, host bits set), if so.
    fn check(&self) -> Result<(), String> {
        let (_, width) = bits(&self.addr);
        if self.len > width {
            return Err(format!(
                "{}/{}: a prefix length of {} is beyond {width}, the longest for {}",
                self.addr,
                self.len,
                self.len,
                family(&self.addr)
            ));
        }
        let canonical = Prefix::covering(&self.addr, self.len);
        if canonical != *self {
            return Err(format!("{self} has host bits set; did you mean {canonical}?"));
        }
        Ok(())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Where a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteOrigin {
    /// From a bridge's own address (the prefix of its interface address).
    Connected,
    /// Added by the operator.
    Static,
}

/// A route: where the tunnel packets to `prefix` leave (the underlay bridge), through which
/// gateway (None: the destination is on the link), from which source address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// The destinations this route covers.
    pub prefix: Prefix,
    /// The underlay bridge the packets leave by.
    pub bridge: String,
    /// The next hop; None when the destination itself is on the link.
    pub gateway: Option<IpAddr>,
    /// The outer source address; None lets the caller pick the bridge's address.
    pub source: Option<IpAddr>,
    /// Where the route came from.
    pub origin: RouteOrigin,
}

/// The routes of one prefix: a static route wins over a connected one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Slot {
    static_route: Option<Route>,
    connected: Option<Route>,
}

impl Slot {
    fn best(&self) -> Option<&Route> {
        self.static_route.as_ref().or(self.connected.as_ref())
    }

    fn of(&mut self, origin: RouteOrigin) -> &mut Option<Route> {
        match origin {
            RouteOrigin::Static => &mut self.static_route,
            RouteOrigin::Connected => &mut self.connected,
        }
    }

    fn is_empty(&self) -> bool {
        self.static_route.is_none() && self.connected.is_none()
    }
}

/// The routes of one family: per prefix length that has routes, the network bits -> slot.
/// A length whose map empties is removed, so the lengths iterated are exactly those in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Family {
    by_len: BTreeMap<u8, HashMap<u128, Slot>>,
}

impl Family {
    fn lookup(&self, value: u128, width: u8) -> Option<&Route> {
        self.by_len.iter().rev().find_map(|(&len, slots)| slots.get(&network(value, len, width)).and_then(Slot::best))
    }
}

/// The underlay route table (longest prefix match, IPv4 and IPv6 apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    v4: Family,
    v6: Family,
    count: usize,
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        RouteTable::default()
    }

    fn family_mut(&mut self, addr: &IpAddr) -> &mut Family {
        if addr.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        }
    }

    /// Adds or replaces the route of (prefix, origin). Static routes win over connected ones of
    /// the same prefix. Errors: an invalid prefix (length, host bits), no bridge, a gateway or
    /// source of another family than the prefix.
    pub fn insert(&mut self, route: Route) -> Result<(), String> {
        route.prefix.check()?;
        if route.bridge.is_empty() {
            return Err(format!("route {}: no bridge given", route.prefix));
        }
        for (what, addr) in [("gateway", route.gateway), ("source", route.source)] {
            if let Some(addr) = addr {
                if addr.is_ipv4() != route.prefix.addr.is_ipv4() {
                    return Err(format!(
                        "route {}: the {what} {addr} is {}, the prefix {}",
                        route.prefix,
                        family(&addr),
                        family(&route.prefix.addr)
                    ));
                }
            }
        }
        let (value, _) = bits(&route.prefix.addr);
        let len = route.prefix.len;
        let origin = route.origin;
        let slot = self.family_mut(&route.prefix.addr).by_len.entry(len).or_default().entry(value).or_default();
        if slot.of(origin).replace(route).is_none() {
            self.count += 1;
        }
        Ok(())
    }

    /// Removes the route of `prefix` with `origin`; returns it.
    pub fn remove(&mut self, prefix: &Prefix, origin: RouteOrigin) -> Option<Route> {
        let (value, _) = bits(&prefix.addr);
        let family = self.family_mut(&prefix.addr);
        let slots = family.by_len.get_mut(&prefix.len)?;
        let slot = slots.get_mut(&value)?;
        let removed = slot.of(origin).take()?;
        if slot.is_empty() {
            slots.remove(&value);
        }
        if slots.is_empty() {
            family.by_len.remove(&prefix.len);
        }
        self.count -= 1;
        Some(removed)
    }

    /// Removes every route of `origin` through `bridge` (a bridge's addresses were replaced, or
    /// the bridge is gone).
    pub fn remove_bridge(&mut self, bridge: &str, origin: RouteOrigin) {
        let mut removed = 0;
        for family in [&mut self.v4, &mut self.v6] {
            for slots in family.by_len.values_mut() {
                for slot in slots.values_mut() {
                    let route = slot.of(origin);
                    if route.as_ref().is_some_and(|r| r.bridge == bridge) {
                        *route = None;
                        removed += 1;
                    }
                }
                slots.retain(|_, slot| !slot.is_empty());
            }
            family.by_len.retain(|_, slots| !slots.is_empty());
        }
        self.count -= removed;
    }

    /// Longest prefix match for `dst` (v4 and v6 kept apart; an IPv4-mapped IPv6 address is
    /// looked up as IPv4).
    pub fn lookup(&self, dst: &IpAddr) -> Option<&Route> {
        match dst.to_canonical() {
            IpAddr::V4(a) => self.v4.lookup(u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a), 128),
        }
    }

    /// Every route, sorted by family (IPv4 first), then prefix length descending, then address;
    /// of one prefix the static route (the one a lookup gives) comes before the connected one.
    pub fn routes(&self) -> Vec<&Route> {
        let mut routes: Vec<&Route> = [&self.v4, &self.v6]
            .into_iter()
            .flat_map(|f| f.by_len.values())
            .flat_map(|slots| slots.values())
            .flat_map(|slot| slot.static_route.iter().chain(slot.connected.iter()))
            .collect();
        routes.sort_by(|a, b| {
            (a.prefix.addr.is_ipv6(), std::cmp::Reverse(a.prefix.len), a.prefix.addr, std::cmp::Reverse(a.origin)).cmp(
                &(b.prefix.addr.is_ipv6(), std::cmp::Reverse(b.prefix.len), b.prefix.addr, std::cmp::Reverse(b.origin)),
            )
        });
        routes
    }

    /// The number of routes (a static and a connected route of one prefix count as two).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table has no route.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Prefix {
        Prefix::parse(text).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn route(prefix: &str, bridge: &str, gateway: Option<&str>, origin: RouteOrigin) -> Route {
        Route { prefix: p(prefix), bridge: bridge.into(), gateway: gateway.map(ip), source: None, origin }
    }

    fn via(table: &RouteTable, dst: &str) -> Option<(String, String)> {
        table.lookup(&ip(dst)).map(|r| (r.prefix.to_string(), r.bridge.clone()))
    }

    fn hit(prefix: &str, bridge: &str) -> Option<(String, String)> {
        Some((prefix.to_string(), bridge.to_string()))
    }

    #[test]
    fn parse_accepts_prefixes_and_bare_addresses() {
        assert_eq!(p("10.0.0.0/8"), Prefix { addr: ip("10.0.0.0"), len: 8 });
        assert_eq!(p("fd00::/64"), Prefix { addr: ip("fd00::"), len: 64 });
        assert_eq!(p("192.0.2.7"), Prefix { addr: ip("192.0.2.7"), len: 32 });
        assert_eq!(p("2001:db8::1"), Prefix { addr: ip("2001:db8::1"), len: 128 });
        assert_eq!(p("0.0.0.0/0"), Prefix { addr: ip("0.0.0.0"), len: 0 });
        assert_eq!(p("::/0").to_string(), "::/0");
        assert_eq!(p(" 10.1.0.0/16 ").to_string(), "10.1.0.0/16");
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        assert_eq!(Prefix::parse("10.0.0.1/8").unwrap_err(), "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?");
        assert_eq!(Prefix::parse("fd00::1/64").unwrap_err(), "fd00::1/64 has host bits set; did you mean fd00::/64?");
        assert_eq!(
            Prefix::parse("10.0.0.0/33").unwrap_err(),
            "10.0.0.0/33: a prefix length of 33 is beyond 32, the longest for IPv4"
        );
        assert_eq!(
            Prefix::parse("fd00::/129").unwrap_err(),
            "fd00::/129: a prefix length of 129 is beyond 128, the longest for IPv6"
        );
        assert_eq!(
            Prefix::parse("10.0.0.0/999").unwrap_err(),
            "10.0.0.0/999: a prefix length of 999 is beyond 32, the longest for IPv4"
        );
        assert_eq!(
            Prefix::parse("bogus/8").unwrap_err(),
            "\"bogus\" in \"bogus/8\" is not an IP address (expected e.g. 10.0.0.0/8 or fd00::/64)"
        );
        assert_eq!(
            Prefix::parse("10.0.0.0/").unwrap_err(),
            "\"\" in \"10.0.0.0/\" is not a prefix length (a number 0-32)"
        );
        assert_eq!(
            Prefix::parse("10.0.0.0/+8").unwrap_err(),
            "\"+8\" in \"10.0.0.0/+8\" is not a prefix length (a number 0-32)"
        );
        assert_eq!(
            Prefix::parse("10.0.0.0/8/8").unwrap_err(),
            "\"8/8\" in \"10.0.0.0/8/8\" is not a prefix length (a number 0-32)"
        );
        assert_eq!(
            Prefix::parse("").unwrap_err(),
            "an empty prefix: expected an address with an optional length, as 10.0.0.0/8 or fd00::/64"
        );
        assert!(Prefix::parse("fe80::1%eth0/64").is_err());
        assert!(Prefix::parse("10.0.0.0/99999999999999999999").is_err());
    }

    #[test]
    fn interface_addresses_keep_their_host_bits() {
        assert_eq!(Prefix::parse_interface_address("172.31.1.1/24").unwrap(), (ip("172.31.1.1"), p("172.31.1.0/24")));
        assert_eq!(Prefix::parse_interface_address("fd00::5/64").unwrap(), (ip("fd00::5"), p("fd00::/64")));
        assert_eq!(Prefix::parse_interface_address("192.0.2.1").unwrap(), (ip("192.0.2.1"), p("192.0.2.1/32")));
        assert_eq!(
            Prefix::parse_interface_address("0.0.0.0/8").unwrap_err(),
            "0.0.0.0/8: 0.0.0.0 cannot be an interface address"
        );
        assert!(Prefix::parse_interface_address("ff02::1/64").is_err());
        assert!(Prefix::parse_interface_address("172.31.1.1/40").is_err());
    }

    #[test]
    fn contains_checks_family_and_network() {
        let net = p("10.1.0.0/16");
        assert!(net.contains(&ip("10.1.255.3")));
        assert!(!net.contains(&ip("10.2.0.1")));
        assert!(!net.contains(&ip("fd00::1")));
        assert!(net.contains(&ip("::ffff:10.1.2.3")));
        assert!(p("0.0.0.0/0").contains(&ip("255.255.255.255")));
        assert!(!p("0.0.0.0/0").contains(&ip("::1")));
        assert!(p("fd00::/8").contains(&ip("fdff::1")));
        // A hand-built prefix with a length beyond the family's contains nothing.
        assert!(!Prefix { addr: ip("10.0.0.0"), len: 40 }.contains(&ip("10.0.0.0")));
    }

    #[test]
    fn longest_prefix_wins_among_overlapping_routes() {
        let mut table = RouteTable::new();
        table.insert(route("0.0.0.0/0", "br-default", Some("192.0.2.1"), RouteOrigin::Static)).unwrap();
        table.insert(route("10.0.0.0/8", "br-a", None, RouteOrigin::Static)).unwrap();
        table.insert(route("10.1.0.0/16", "br-b", None, RouteOrigin::Static)).unwrap();
        table.insert(route("10.1.2.0/24", "br-c", None, RouteOrigin::Static)).unwrap();
        table.insert(route("10.1.2.3/32", "br-d", None, RouteOrigin::Static)).unwrap();
        assert_eq!(via(&table, "10.1.2.3"), hit("10.1.2.3/32", "br-d"));
        assert_eq!(via(&table, "10.1.2.4"), hit("10.1.2.0/24", "br-c"));
        assert_eq!(via(&table, "10.1.3.4"), hit("10.1.0.0/16", "br-b"));
        assert_eq!(via(&table, "10.200.0.1"), hit("10.0.0.0/8", "br-a"));
        assert_eq!(via(&table, "8.8.8.8"), hit("0.0.0.0/0", "br-default"));
        assert_eq!(table.lookup(&ip("8.8.8.8")).unwrap().gateway, Some(ip("192.0.2.1")));
        assert_eq!(table.len(), 5);
    }

    #[test]
    fn families_are_kept_apart_and_mapped_addresses_are_ipv4() {
        let mut table = RouteTable::new();
        table.insert(route("0.0.0.0/0", "br-v4", None, RouteOrigin::Static)).unwrap();
        assert_eq!(via(&table, "2001:db8::1"), None, "an IPv4 default route does not take IPv6");
        assert_eq!(via(&table, "::ffff:198.51.100.1"), hit("0.0.0.0/0", "br-v4"));
        table.insert(route("::/0", "br-v6", None, RouteOrigin::Static)).unwrap();
        table.insert(route("2001:db8::/32", "br-doc", None, RouteOrigin::Static)).unwrap();
        assert_eq!(via(&table, "2001:db8::1"), hit("2001:db8::/32", "br-doc"));
        assert_eq!(via(&table, "2001:db9::1"), hit("::/0", "br-v6"));
        assert_eq!(via(&table, "::ffff:198.51.100.1"), hit("0.0.0.0/0", "br-v4"));
        assert_eq!(via(&table, "198.51.100.1"), hit("0.0.0.0/0", "br-v4"));
        // An IPv4-compatible (not mapped) address stays IPv6.
        assert_eq!(via(&table, "::198.51.100.1"), hit("::/0", "br-v6"));
    }

    #[test]
    fn empty_table_and_no_default_route_find_nothing() {
        let mut table = RouteTable::new();
        assert!(table.is_empty());
        assert_eq!(table.lookup(&ip("10.0.0.1")), None);
        table.insert(route("10.0.0.0/8", "br-a", None, RouteOrigin::Static)).unwrap();
        assert_eq!(table.lookup(&ip("11.0.0.1")), None);
        assert!(!table.is_empty());
    }

    #[test]
    fn static_routes_win_over_connected_ones_of_the_same_prefix() {
        let mut table = RouteTable::new();
        table.insert(route("172.31.1.0/24", "br-phy", None, RouteOrigin::Connected)).unwrap();
        assert_eq!(via(&table, "172.31.1.9"), hit("172.31.1.0/24", "br-phy"));
        table.insert(route("172.31.1.0/24", "br-other", Some("172.31.1.254"), RouteOrigin::Static)).unwrap();
        assert_eq!(via(&table, "172.31.1.9"), hit("172.31.1.0/24", "br-other"));
        assert_eq!(table.len(), 2);
        // The connected route comes back when the static one goes.
        let gone = table.remove(&p("172.31.1.0/24"), RouteOrigin::Static).unwrap();
        assert_eq!(gone.bridge, "br-other");
        assert_eq!(via(&table, "172.31.1.9"), hit("172.31.1.0/24", "br-phy"));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn insert_replaces_the_route_of_the_same_prefix_and_origin() {
        let mut table = RouteTable::new();
        table.insert(route("10.0.0.0/8", "br-a", None, RouteOrigin::Static)).unwrap();
        table.insert(route("10.0.0.0/8", "br-b", Some("10.0.0.1"), RouteOrigin::Static)).unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(via(&table, "10.9.9.9"), hit("10.0.0.0/8", "br-b"));
    }

    #[test]
    fn insert_refuses_mismatched_families_and_bad_prefixes() {
        let mut table = RouteTable::new();
        assert_eq!(
            table.insert(route("10.0.0.0/8", "br-a", Some("fd00::1"), RouteOrigin::Static)).unwrap_err(),
            "route 10.0.0.0/8: the gateway fd00::1 is IPv6, the prefix IPv4"
        );
        let mut bad_source = route("fd00::/64", "br-a", None, RouteOrigin::Static);
        bad_source.source = Some(ip("10.0.0.1"));
        assert_eq!(
            table.insert(bad_source).unwrap_err(),
            "route fd00::/64: the source 10.0.0.1 is IPv4, the prefix IPv6"
        );
        let mut host_bits = route("10.0.0.0/8", "br-a", None, RouteOrigin::Static);
        host_bits.prefix.addr = ip("10.0.0.1");
        assert_eq!(table.insert(host_bits).unwrap_err(), "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?");
        let mut too_long = route("10.0.0.0/8", "br-a", None, RouteOrigin::Static);
        too_long.prefix.len = 200;
        assert!(table.insert(too_long).is_err());
        assert_eq!(
            table.insert(route("10.0.0.0/8", "", None, RouteOrigin::Static)).unwrap_err(),
            "route 10.0.0.0/8: no bridge given"
        );
        assert!(table.is_empty());
        assert_eq!(table, RouteTable::new());
    }

    #[test]
    fn remove_takes_one_route_and_leaves_no_trace() {
        let mut table = RouteTable::new();
        let empty = table.clone();
        table.insert(route("10.0.0.0/8", "br-a", None, RouteOrigin::Static)).unwrap();
        table.insert(route("10.1.0.0/16", "br-b", None, RouteOrigin::Static)).unwrap();
        assert_eq!(table.remove(&p("10.1.0.0/16"), RouteOrigin::Connected), None, "wrong origin");
        assert_eq!(table.remove(&p("10.2.0.0/16"), RouteOrigin::Static), None, "no such prefix");
        assert_eq!(table.remove(&p("10.1.0.0/16"), RouteOrigin::Static).unwrap().bridge, "br-b");
        assert_eq!(via(&table, "10.1.0.1"), hit("10.0.0.0/8", "br-a"));
        assert_eq!(table.remove(&p("10.0.0.0/8"), RouteOrigin::Static).unwrap().bridge, "br-a");
        assert_eq!(table.lookup(&ip("10.1.0.1")), None);
        assert_eq!(table, empty, "nothing left behind");
    }

    #[test]
    fn remove_bridge_takes_the_routes_of_one_origin_through_it() {
        let mut table = RouteTable::new();
        table.insert(route("172.31.1.0/24", "br-phy", None, RouteOrigin::Connected)).unwrap();
        table.insert(route("fd00:1::/64", "br-phy", None, RouteOrigin::Connected)).unwrap();
        table.insert(route("10.0.0.0/8", "br-phy", Some("172.31.1.254"), RouteOrigin::Static)).unwrap();
        table.insert(route("172.31.2.0/24", "br-phy2", None, RouteOrigin::Connected)).unwrap();
        table.insert(route("172.31.1.0/24", "br-phy2", None, RouteOrigin::Static)).unwrap();
        table.remove_bridge("br-phy", RouteOrigin::Connected);
        assert_eq!(table.len(), 3);
        assert_eq!(via(&table, "fd00:1::1"), None);
        assert_eq!(via(&table, "10.1.1.1"), hit("10.0.0.0/8", "br-phy"));
        assert_eq!(via(&table, "172.31.1.1"), hit("172.31.1.0/24", "br-phy2"));
        table.remove_bridge("br-phy", RouteOrigin::Static);
        table.remove_bridge("br-phy2", RouteOrigin::Static);
        table.remove_bridge("br-phy2", RouteOrigin::Connected);
        assert!(table.is_empty());
        assert_eq!(table, RouteTable::new());
    }

    #[test]
    fn routes_are_listed_by_family_length_and_address() {
        let mut table = RouteTable::new();
        for (prefix, origin) in [
            ("::/0", RouteOrigin::Static),
            ("10.0.0.0/8", RouteOrigin::Static),
            ("0.0.0.0/0", RouteOrigin::Static),
            ("fd00::/64", RouteOrigin::Connected),
            ("10.2.0.0/16", RouteOrigin::Static),
            ("10.1.0.0/16", RouteOrigin::Connected),
            ("10.1.0.0/16", RouteOrigin::Static),
        ] {
            table.insert(route(prefix, "br", None, origin)).unwrap();
        }
        let listed: Vec<String> = table.routes().iter().map(|r| format!("{} {:?}", r.prefix, r.origin)).collect();
        assert_eq!(
            listed,
            [
                "10.1.0.0/16 Static",
                "10.1.0.0/16 Connected",
                "10.2.0.0/16 Static",
                "10.0.0.0/8 Static",
                "0.0.0.0/0 Static",
                "fd00::/64 Connected",
                "::/0 Static",
            ]
        );
    }

    #[test]
    fn many_routes_look_up_by_hash_not_by_scan() {
        // 4096 /24s and 4096 /32s: every lookup probes at most the 2 lengths in use (a scan
        // would be visible only as time; this checks the answers over the whole set).
        let mut table = RouteTable::new();
        for i in 0..4096u32 {
            let net = Ipv4Addr::from(0x0a00_0000 | (i << 8));
            let prefix = Prefix { addr: IpAddr::V4(net), len: 24 };
            table
                .insert(Route {
                    prefix,
                    bridge: format!("br{i}"),
                    gateway: None,
                    source: None,
                    origin: RouteOrigin::Static,
                })
                .unwrap();
            let host = Prefix { addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i << 8) | 7)), len: 32 };
            table
                .insert(Route {
                    prefix: host,
                    bridge: "host".into(),
                    gateway: None,
                    source: None,
                    origin: RouteOrigin::Static,
                })
                .unwrap();
        }
        assert_eq!(table.len(), 8192);
        for i in 0..4096u32 {
            let dst = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i << 8) | 9));
            assert_eq!(table.lookup(&dst).unwrap().bridge, format!("br{i}"));
            let dst = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i << 8) | 7));
            assert_eq!(table.lookup(&dst).unwrap().bridge, "host");
        }
        assert_eq!(table.v4.by_len.len(), 2);
    }
}
