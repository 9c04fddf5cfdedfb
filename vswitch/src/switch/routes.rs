//! The underlay routes at run time: `vsctl route-add PREFIX BRIDGE [GATEWAY]`, `route-del
//! PREFIX` and `route-show`, Open vSwitch's ovs/route/add, del and show. A change builds a new
//! `RouteTable` (the PMDs' one is shared and immutable), publishes it with the next datapath
//! version and marks every underlay bridge changed, so the PMDs revalidate the cached flows that
//! crossed one - or found no route, see `pipeline::xlate::tunnel` - and nothing else.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::config::InterfaceAddress;
use crate::control::protocol::{RouteChangeReply, RouteInfo, RouteShowReply};
use crate::tunnel::route::{Prefix, Route, RouteOrigin, RouteTable};

use super::Switch;

impl Switch {
    /// `route-add`: adds the static route, or replaces the static route of the same prefix.
    pub(super) fn route_add(
        &mut self,
        prefix: &str,
        bridge: &str,
        gateway: Option<&str>,
    ) -> Result<RouteChangeReply, String> {
        let addresses = self.bridges.iter().find(|b| b.name == bridge).map(|b| b.addresses.as_slice());
        let route = static_route(prefix, bridge, gateway, addresses)?;
        let mut routes = RouteTable::clone(&self.routes);
        let replaced = routes.remove(&route.prefix, RouteOrigin::Static);
        routes.insert(route.clone())?;
        tracing::info!(prefix = %route.prefix, bridge, gateway = ?route.gateway, replaced = replaced.is_some(), "route added");
        self.publish_routes(routes)?;
        Ok(RouteChangeReply {
            added: Some(self.route_info(&route)),
            removed: replaced.map(|old| self.route_info(&old)),
        })
    }

    /// `route-del`: removes the static route of exactly this prefix. A connected route is the
    /// prefix of a bridge's address and stays as long as the address does.
    pub(super) fn route_del(&mut self, prefix: &str) -> Result<RouteChangeReply, String> {
        let prefix = Prefix::parse(prefix)?;
        let mut routes = RouteTable::clone(&self.routes);
        let removed =
            routes.remove(&prefix, RouteOrigin::Static).ok_or_else(|| not_deletable(&self.routes, &prefix))?;
        tracing::info!(%prefix, bridge = %removed.bridge, "route deleted");
        self.publish_routes(routes)?;
        Ok(RouteChangeReply { added: None, removed: Some(self.route_info(&removed)) })
    }

    /// `route-show`: every route, in `RouteTable::routes`' order.
    pub(super) fn route_show(&self) -> RouteShowReply {
        RouteShowReply { routes: self.routes.routes().into_iter().map(|route| self.route_info(route)).collect() }
    }

    fn route_info(&self, route: &Route) -> RouteInfo {
        let addresses = self.bridges.iter().find(|b| b.name == route.bridge).map_or(&[][..], |b| &b.addresses[..]);
        route_info(route, addresses)
    }

    /// Makes `routes` the table of the next datapath version, with every underlay bridge (one
    /// with addresses) marked changed: the PMDs revalidate the tunnel flows that crossed it and
    /// those that found no route, and keep every other cached flow.
    fn publish_routes(&mut self, routes: RouteTable) -> Result<(), String> {
        self.routes = Arc::new(routes);
        for bridge in &mut self.bridges {
            if bridge.local_dp.is_some() {
                bridge.underlay_changed = true;
            }
        }
        self.publish()
    }
}

/// The route as route-show and the route commands' replies give it; `addresses` are those of
/// the route's bridge. The source is the one tunnel packets get (the datapath's choice when the
/// route has none: the bridge's first address of the family).
fn route_info(route: &Route, addresses: &[InterfaceAddress]) -> RouteInfo {
    let source =
        route.source.or_else(|| addresses.iter().map(|a| a.addr).find(|a| a.is_ipv4() == route.prefix.addr.is_ipv4()));
    RouteInfo {
        prefix: route.prefix.to_string(),
        origin: match route.origin {
            RouteOrigin::Connected => "connected",
            RouteOrigin::Static => "static",
        }
        .to_string(),
        bridge: route.bridge.clone(),
        gateway: route.gateway.map(|g| g.to_string()),
        source: source.map(|s| s.to_string()),
    }
}

fn family(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// The static route `route-add PREFIX BRIDGE [GATEWAY]` asks for, checked: the prefix (syntax,
/// length, host bits), the bridge (`addresses`: its addresses, None when there is no bridge of
/// that name) and that it has an address of the prefix's family to send from, the gateway (an
/// address of that family, on one of the bridge's networks - where ARP/ND reaches it - and
/// not the bridge's own). The source is picked as Open vSwitch does: the bridge's address on
/// the network of the next hop (the gateway, else the destinations), else its first of the
/// family.
fn static_route(
    prefix: &str,
    bridge: &str,
    gateway: Option<&str>,
    addresses: Option<&[InterfaceAddress]>,
) -> Result<Route, String> {
    let prefix = Prefix::parse(prefix)?;
    let addresses = addresses.ok_or_else(|| format!("no bridge named {bridge:?}"))?;
    let own: Vec<&InterfaceAddress> = addresses.iter().filter(|a| a.addr.is_ipv4() == prefix.addr.is_ipv4()).collect();
    if own.is_empty() {
        return Err(format!(
            "bridge {bridge} has no {} address to send tunnel packets to {prefix} from; an underlay bridge \
             needs one in its `addresses`",
            family(&prefix.addr)
        ));
    }
    let gateway = match gateway {
        None => None,
        Some(text) => Some(check_gateway(text, &prefix, bridge, &own)?),
    };
    let towards = gateway.unwrap_or(prefix.addr);
    let source = own
        .iter()
        .filter(|a| a.prefix.contains(&towards))
        .max_by_key(|a| a.prefix.len)
        .or_else(|| own.first())
        .map(|a| a.addr);
    Ok(Route { prefix, bridge: bridge.to_string(), gateway, source, origin: RouteOrigin::Static })
}

/// A route's gateway: an address of the prefix's family on one of `own` (the bridge's addresses
/// of that family) networks, and not one of them.
fn check_gateway(text: &str, prefix: &Prefix, bridge: &str, own: &[&InterfaceAddress]) -> Result<IpAddr, String> {
    let text = text.trim();
    let gateway: IpAddr = text.parse().map_err(|_| format!("gateway {text:?} is not an IP address"))?;
    if gateway.is_ipv4() != prefix.addr.is_ipv4() {
        return Err(format!(
            "gateway {gateway} is {}, the prefix {prefix} {}: the gateway must be of the prefix's family",
            family(&gateway),
            family(&prefix.addr)
        ));
    }
    if gateway.is_unspecified() || gateway.is_multicast() || gateway == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return Err(format!("gateway {gateway} cannot be a next hop"));
    }
    if own.iter().any(|a| a.addr == gateway) {
        return Err(format!("gateway {gateway} is bridge {bridge}'s own address"));
    }
    if !own.iter().any(|a| a.prefix.contains(&gateway)) {
        let networks: Vec<String> = own.iter().map(|a| format!("{}/{}", a.addr, a.prefix.len)).collect();
        return Err(format!(
            "gateway {gateway} is not on a network of bridge {bridge} ({}): the next hop must be on the link, \
             where ARP/ND reaches it",
            networks.join(", ")
        ));
    }
    Ok(gateway)
}

/// Why `route-del PREFIX` found no static route of exactly that prefix to delete.
fn not_deletable(routes: &RouteTable, prefix: &Prefix) -> String {
    let connected = routes.routes().into_iter().find(|r| r.prefix == *prefix && r.origin == RouteOrigin::Connected);
    match connected {
        Some(route) => {
            let address = route.source.map_or_else(String::new, |a| format!(" {a}/{}", prefix.len));
            format!(
                "{prefix} is the connected route of bridge {}'s address{address}: it belongs to the address and \
                 stays as long as the bridge has it (route-del removes static routes only)",
                route.bridge
            )
        }
        None => format!("no static route to {prefix} (route-show lists the routes)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> InterfaceAddress {
        let (addr, prefix) = Prefix::parse_interface_address(text).unwrap();
        InterfaceAddress { addr, prefix }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn br0() -> Vec<InterfaceAddress> {
        vec![address("172.31.1.1/24"), address("192.0.2.1/28"), address("fd00:1::1/64")]
    }

    fn add(prefix: &str, gateway: Option<&str>) -> Result<Route, String> {
        static_route(prefix, "br0", gateway, Some(&br0()))
    }

    #[test]
    fn a_route_through_a_gateway_sends_from_the_gateways_network() {
        let route = add("172.31.2.0/24", Some("172.31.1.254")).unwrap();
        assert_eq!(route.prefix, Prefix::parse("172.31.2.0/24").unwrap());
        assert_eq!(
            (route.bridge.as_str(), route.gateway, route.origin),
            ("br0", Some(ip("172.31.1.254")), RouteOrigin::Static)
        );
        assert_eq!(route.source, Some(ip("172.31.1.1")));
        assert_eq!(add("10.0.0.0/8", Some("192.0.2.14")).unwrap().source, Some(ip("192.0.2.1")));
        let v6 = add("fd00:2::/48", Some("fd00:1::fe")).unwrap();
        assert_eq!((v6.gateway, v6.source), (Some(ip("fd00:1::fe")), Some(ip("fd00:1::1"))));
    }

    #[test]
    fn an_on_link_route_sends_from_the_destinations_network_else_the_first_address() {
        assert_eq!(add("192.0.2.0/29", None).unwrap().source, Some(ip("192.0.2.1")));
        let route = add("198.51.100.7", None).unwrap();
        assert_eq!((route.prefix.len, route.gateway, route.source), (32, None, Some(ip("172.31.1.1"))));
        assert_eq!(add("0.0.0.0/0", None).unwrap().source, Some(ip("172.31.1.1")));
        assert_eq!(add("::/0", None).unwrap().source, Some(ip("fd00:1::1")));
    }

    #[test]
    fn bad_prefixes_are_refused_with_the_reason() {
        assert_eq!(
            add("172.31.2.1/24", None).unwrap_err(),
            "172.31.2.1/24 has host bits set; did you mean 172.31.2.0/24?"
        );
        for garbage in
            ["", "garbage", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "fd00::/129", "1.2.3", "\u{e9}"]
        {
            assert!(add(garbage, None).is_err(), "{garbage:?} accepted");
        }
    }

    #[test]
    fn the_bridge_must_exist_and_have_an_address_of_the_family() {
        assert_eq!(static_route("10.0.0.0/8", "br9", None, None).unwrap_err(), "no bridge named \"br9\"");
        let v4_only = [address("172.31.1.1/24")];
        let error = static_route("fd00::/64", "br0", None, Some(&v4_only)).unwrap_err();
        assert!(
            error.starts_with("bridge br0 has no IPv6 address to send tunnel packets to fd00::/64 from"),
            "{error}"
        );
        let error = static_route("10.0.0.0/8", "br1", None, Some(&[])).unwrap_err();
        assert!(error.starts_with("bridge br1 has no IPv4 address"), "{error}");
    }

    #[test]
    fn bad_gateways_are_refused_with_the_reason() {
        let error = |gateway: &str| add("172.31.2.0/24", Some(gateway)).unwrap_err();
        assert_eq!(
            error("fd00:1::fe"),
            "gateway fd00:1::fe is IPv6, the prefix 172.31.2.0/24 IPv4: the gateway must be of the prefix's family"
        );
        assert_eq!(error("nope"), "gateway \"nope\" is not an IP address");
        assert_eq!(error(""), "gateway \"\" is not an IP address");
        assert_eq!(error("0.0.0.0"), "gateway 0.0.0.0 cannot be a next hop");
        assert_eq!(error("224.0.0.1"), "gateway 224.0.0.1 cannot be a next hop");
        assert_eq!(error("255.255.255.255"), "gateway 255.255.255.255 cannot be a next hop");
        assert_eq!(error("172.31.1.1"), "gateway 172.31.1.1 is bridge br0's own address");
        assert_eq!(
            error("10.9.9.9"),
            "gateway 10.9.9.9 is not on a network of bridge br0 (172.31.1.1/24, 192.0.2.1/28): the next hop must \
             be on the link, where ARP/ND reaches it"
        );
        assert!(add("fd00:2::/48", Some("172.31.1.254")).unwrap_err().contains("is IPv4, the prefix fd00:2::/48 IPv6"));
    }

    #[test]
    fn a_connected_route_cannot_be_deleted_and_says_why() {
        let mut table = RouteTable::new();
        let connected = Route {
            prefix: Prefix::parse("172.31.1.0/24").unwrap(),
            bridge: "br0".into(),
            gateway: None,
            source: Some(ip("172.31.1.1")),
            origin: RouteOrigin::Connected,
        };
        table.insert(connected).unwrap();
        let error = not_deletable(&table, &Prefix::parse("172.31.1.0/24").unwrap());
        assert!(
            error.starts_with(
                "172.31.1.0/24 is the connected route of bridge br0's address 172.31.1.1/24: it belongs to the address"
            ),
            "{error}"
        );
        assert_eq!(
            not_deletable(&table, &Prefix::parse("172.31.0.0/16").unwrap()),
            "no static route to 172.31.0.0/16 (route-show lists the routes)"
        );
    }

    #[test]
    fn route_info_names_the_origin_and_the_source_used() {
        let route = add("172.31.2.0/24", Some("172.31.1.254")).unwrap();
        assert_eq!(
            route_info(&route, &br0()),
            RouteInfo {
                prefix: "172.31.2.0/24".into(),
                origin: "static".into(),
                bridge: "br0".into(),
                gateway: Some("172.31.1.254".into()),
                source: Some("172.31.1.1".into()),
            }
        );
        // A configured static route has no source of its own: the datapath sends from the
        // bridge's first address of the family, and show says so.
        let configured = Route { source: None, ..route };
        assert_eq!(route_info(&configured, &br0()).source.as_deref(), Some("172.31.1.1"));
        assert_eq!(route_info(&configured, &[]).source, None);
        let connected = Route {
            prefix: Prefix::parse("fd00:1::/64").unwrap(),
            bridge: "br0".into(),
            gateway: None,
            source: Some(ip("fd00:1::1")),
            origin: RouteOrigin::Connected,
        };
        let info = route_info(&connected, &br0());
        assert_eq!(
            (info.origin.as_str(), info.gateway, info.source.as_deref()),
            ("connected", None, Some("fd00:1::1"))
        );
    }
}
