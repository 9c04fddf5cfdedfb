//! The switch's own stack behind an underlay bridge's LOCAL port: it answers ARP and IPv6
//! neighbour solicitations for the bridge's addresses (the tunnel endpoints), learns the
//! neighbours that tunnel packets are sent to from the replies, and asks for a next hop a tunnel
//! output found unresolved - at most once a second per next hop. Its packets enter the bridge's
//! pipeline from LOCAL, as the host stack's do on Open vSwitch's br-phy.
//!
//! A packet whose tunnel next hop is unresolved is not dropped: the PMD hands a copy over
//! (`PacketInOrigin::TunnelHold`), the bridge's neighbour cache holds a few per next hop, and
//! once the next hop resolves they are sent as packet-outs on their tunnel port's bridge whose
//! action is output to the tunnel port (translated with the version that has the neighbour).
//! Unanswered next hops are given up after `NeighbourLimits::give_up_ms`, with their packets.
//!
//! The operator's side: `neigh-show`, `neigh-set` (static entries) and `neigh-flush`.

use std::net::IpAddr;

use crate::config::parse_unicast_mac;
use crate::control::protocol::{NeighbourBridge, NeighbourEntry, NeighbourShowReply};
use crate::flow::key::Field;
use crate::flow::{Action, OfPort};
use crate::pipeline::xlate::PacketInOrigin;
use crate::pmd::packet_in::PacketInEvent;
use crate::tunnel::{
    arp_probe, arp_reply, arp_request, neighbour_advertisement, neighbour_probe, neighbour_solicitation,
};
use crate::tunnel::{parse_neighbour_message, Hold, NeighbourMessage, NeighbourState};

use super::Switch;

impl Switch {
    /// A packet a PMD output to bridge `bridge`'s LOCAL port.
    pub(super) fn local_stack(&mut self, bridge: usize, frame: &[u8]) {
        if self.vtep_query(bridge, frame) {
            return;
        }
        let Some(message) = parse_neighbour_message(frame) else { return };
        let now = self.now_ms();
        let Some(b) = self.bridges.get_mut(bridge) else { return };
        let (mac, own) = (b.mac, b.addresses.iter().map(|a| a.addr).collect::<Vec<_>>());
        let generation = b.neighbours.generation();
        // Only next hops the bridge wants (asked for, holding packets for, or known) are
        // learned: a flood of bindings for other addresses cannot fill the cache.
        let learned = match message {
            NeighbourMessage::Request { sender_ip, sender_mac, target } if own.contains(&target) => {
                let learned = b.neighbours.contains(&sender_ip).then(|| b.neighbours.learn(sender_ip, sender_mac, now));
                let reply = match (target, sender_ip) {
                    (IpAddr::V4(ours), IpAddr::V4(theirs)) => Some(arp_reply(mac, ours, sender_mac, theirs)),
                    (IpAddr::V6(ours), IpAddr::V6(theirs)) => {
                        Some(neighbour_advertisement(mac, ours, sender_mac, theirs))
                    }
                    _ => None,
                };
                if let Some(reply) = reply {
                    self.send_from_local(bridge, &reply);
                }
                learned.map(|l| (sender_ip, sender_mac, l))
            }
            // Someone else's request: only a known entry's MAC is refreshed.
            NeighbourMessage::Request { sender_ip, sender_mac, .. } => {
                Some((sender_ip, sender_mac, b.neighbours.refresh(sender_ip, sender_mac, now)))
            }
            NeighbourMessage::Binding { ip, mac } => {
                b.neighbours.contains(&ip).then(|| (ip, mac, b.neighbours.learn(ip, mac, now)))
            }
        };
        let Some((ip, mac, learned)) = learned else { return };
        let Some(b) = self.bridges.get(bridge) else { return };
        if b.neighbours.generation() != generation {
            tracing::info!(bridge = %b.name, %ip, mac = %mac_text(&mac), "neighbour learned");
            if let Err(e) = self.publish() {
                tracing::error!("neighbour change not published: {e}");
            }
        }
        self.release(bridge, learned.released);
    }

    /// A packet a PMD handed over because its tunnel next hop `nexthop` on underlay bridge
    /// `underlay` is unresolved: held (and the next hop asked for, within the rate limit), or
    /// sent at once when it resolved meanwhile, or dropped when the next hop's queue is full.
    pub(super) fn hold_for_neighbour(&mut self, underlay: usize, nexthop: IpAddr, event: PacketInEvent) {
        let now = self.now_ms();
        let published =
            self.current.bridges.get(underlay).is_some_and(|b| b.neighbours.contains_key(&nexthop.to_canonical()));
        let Some(b) = self.bridges.get_mut(underlay) else { return };
        if b.neighbours.lookup(&nexthop).is_some() {
            // Resolved since the PMD translated (an older version). Sent now if the running
            // version has it, so that the packet-out cannot be held again.
            if published {
                self.release(underlay, vec![event]);
            } else {
                b.neighbour_counters.dropped += 1;
            }
            return;
        }
        let request_due = match b.neighbours.hold(nexthop, event, now) {
            Hold::Held { request_due } => {
                b.neighbour_counters.held += 1;
                request_due
            }
            Hold::QueueFull(_) => {
                b.neighbour_counters.not_held += 1;
                b.neighbours.request_due(nexthop, now)
            }
        };
        if request_due {
            self.send_request(underlay, nexthop, None);
        }
    }

    /// A tunnel output found `nexthop` unresolved on bridge `bridge` (a PMD's upcall): ask for
    /// it, unless asked within the last second.
    pub(super) fn resolve_neighbour(&mut self, bridge: usize, nexthop: IpAddr, now: u64) {
        let Some(b) = self.bridges.get_mut(bridge) else { return };
        if b.neighbours.request_due(nexthop, now) {
            self.send_request(bridge, nexthop, None);
        }
    }

    /// Periodic: learned neighbours age out, next hops unanswered for too long are given up
    /// (their held packets dropped), and the others are asked for again once a second. Returns
    /// whether what a lookup resolves changed (the caller publishes).
    pub(super) fn tick_neighbours(&mut self, now: u64) -> bool {
        let mut changed = false;
        for index in 0..self.bridges.len() {
            let b = &mut self.bridges[index];
            let generation = b.neighbours.generation();
            let expired = b.neighbours.expire(now);
            for (ip, held) in &expired.unresolved {
                tracing::debug!(bridge = %b.name, %ip, dropped = held.len(), "next hop not resolved: given up");
                b.neighbour_counters.dropped += held.len() as u64;
            }
            for ip in &expired.aged {
                tracing::debug!(bridge = %b.name, %ip, "neighbour aged out");
            }
            changed |= b.neighbours.generation() != generation;
            for nexthop in b.neighbours.requests_due(now) {
                self.send_request(index, nexthop, None);
            }
            for (nexthop, mac) in self.bridges[index].neighbours.probes_due(now) {
                self.send_request(index, nexthop, Some(mac));
            }
        }
        changed
    }

    /// Sends an ARP request / neighbour solicitation for `nexthop` from bridge `bridge`'s
    /// address of its family: broadcast (multicast), or a probe to `known`, the MAC the next
    /// hop has.
    fn send_request(&mut self, bridge: usize, nexthop: IpAddr, known: Option<[u8; 6]>) {
        let Some(b) = self.bridges.get_mut(bridge) else { return };
        let Some(source) = b.addresses.iter().map(|a| a.addr).find(|a| a.is_ipv4() == nexthop.is_ipv4()) else {
            return;
        };
        let request = match (source, nexthop.to_canonical(), known) {
            (IpAddr::V4(source), IpAddr::V4(target), None) => arp_request(b.mac, source, target),
            (IpAddr::V4(source), IpAddr::V4(target), Some(mac)) => arp_probe(b.mac, source, target, mac),
            (IpAddr::V6(source), IpAddr::V6(target), None) => neighbour_solicitation(b.mac, source, target),
            (IpAddr::V6(source), IpAddr::V6(target), Some(mac)) => neighbour_probe(b.mac, source, target, mac),
            _ => return,
        };
        if known.is_some() {
            tracing::debug!(bridge = %b.name, %nexthop, "probing a tunnel next hop in use before it ages out");
            b.neighbour_counters.probes += 1;
        } else {
            tracing::debug!(bridge = %b.name, %nexthop, "asking for a tunnel next hop");
            b.neighbour_counters.requests += 1;
        }
        self.send_from_local(bridge, &request);
    }

    /// Sends the packets held for a next hop of underlay bridge `underlay` that resolved: each a
    /// packet-out on its tunnel port's bridge, from the port it came into that bridge on, whose
    /// actions give it the tunnel fields the output read and output it to the tunnel port. A
    /// packet whose tunnel port is gone meanwhile is dropped.
    fn release(&mut self, underlay: usize, packets: Vec<PacketInEvent>) {
        for event in packets {
            let PacketInOrigin::TunnelHold { port, tunnel, .. } = event.meta.origin else { continue };
            let tunnel_port = self.ports.iter().find(|p| p.dp_port == port && p.tunnel().is_some());
            let Some((bridge, ofport)) = tunnel_port.map(|p| (p.bridge, p.ofport)) else {
                if let Some(b) = self.bridges.get_mut(underlay) {
                    b.neighbour_counters.dropped += 1;
                }
                continue;
            };
            let in_port = OfPort(event.meta.in_port);
            let set = |field: Field, value: u128| Action::SetField { field, value, mask: field.bits_mask() };
            let mut actions = vec![set(Field::TunId, u128::from(event.meta.tun_id))];
            actions.extend(tunnel.set_fields());
            // (A packet that came in on the tunnel port itself goes back through it.)
            actions.push(Action::output(if in_port.0 == ofport { OfPort::IN_PORT } else { OfPort(ofport) }));
            let sent = self.packet_out(bridge, in_port, &actions, &event.data);
            let Some(b) = self.bridges.get_mut(underlay) else { return };
            match sent {
                Ok(()) => b.neighbour_counters.released += 1,
                Err(e) => {
                    b.neighbour_counters.dropped += 1;
                    tracing::warn!(bridge = %b.name, "held packet not sent: {e:?}");
                }
            }
        }
    }

    /// Sends `frame` into bridge `bridge`'s pipeline from its LOCAL port.
    fn send_from_local(&mut self, bridge: usize, frame: &[u8]) {
        let actions = [Action::output(OfPort::TABLE)];
        if let Err(e) = self.packet_out(bridge, OfPort::LOCAL, &actions, frame) {
            tracing::warn!(bridge = %self.bridges[bridge].name, "packet from LOCAL not sent: {e:?}");
        }
    }

    /// `neigh-show [BRIDGE]`: the neighbour cache of a bridge, or of every bridge that has
    /// addresses or entries.
    pub(super) fn neigh_show(&self, bridge: Option<&str>) -> Result<NeighbourShowReply, String> {
        let only = bridge.map(|name| self.bridge_named(name)).transpose()?;
        let now = self.now_ms();
        let bridges = self
            .bridges
            .iter()
            .enumerate()
            .filter(|(index, b)| match only {
                Some(only) => *index == only,
                None => !b.addresses.is_empty() || !b.neighbours.is_empty(),
            })
            .map(|(_, b)| {
                let entries = b
                    .neighbours
                    .entries()
                    .into_iter()
                    .map(|(ip, state)| {
                        let held = b.neighbours.held(&ip);
                        let (mac, state, age_ms) = match state {
                            NeighbourState::Reachable { mac, confirmed_ms } => {
                                (Some(mac_text(&mac)), "reachable", Some(now.saturating_sub(confirmed_ms)))
                            }
                            NeighbourState::Static { mac } => (Some(mac_text(&mac)), "static", None),
                            NeighbourState::Incomplete { since_ms, .. } => {
                                (None, "incomplete", Some(now.saturating_sub(since_ms)))
                            }
                        };
                        NeighbourEntry { ip: ip.to_string(), mac, state: state.to_string(), age_ms, held }
                    })
                    .collect();
                let c = b.neighbour_counters;
                NeighbourBridge {
                    bridge: b.name.clone(),
                    entries,
                    requests: c.requests,
                    probes: c.probes,
                    held: c.held,
                    released: c.released,
                    not_held: c.not_held,
                    dropped: c.dropped,
                }
            })
            .collect();
        Ok(NeighbourShowReply { bridges })
    }

    /// `neigh-set BRIDGE IP MAC`: a static entry (never aged, never replaced by what the wire
    /// says); packets held for the address are sent.
    pub(super) fn neigh_set(&mut self, bridge: &str, ip: &str, mac: &str) -> Result<(), String> {
        let index = self.bridge_named(bridge)?;
        let addr: IpAddr = ip.parse().map_err(|_| format!("{ip:?} is not an IP address"))?;
        let addr = addr.to_canonical();
        if addr.is_unspecified() || addr.is_multicast() || addr == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
            return Err(format!("{addr} is not a unicast address: it cannot be a next hop"));
        }
        let mac = parse_unicast_mac(mac)?;
        let b = &mut self.bridges[index];
        if b.addresses.iter().any(|a| a.addr == addr) {
            return Err(format!("{addr} is an address of bridge {bridge} itself"));
        }
        let learned = b.neighbours.set_static(addr, mac);
        tracing::info!(bridge, ip = %addr, mac = %mac_text(&mac), "static neighbour set");
        if learned.changed {
            self.publish()?;
        }
        self.release(index, learned.released);
        Ok(())
    }

    /// `neigh-flush [BRIDGE]`: forgets the learned and incomplete entries (held packets are
    /// dropped) of a bridge or of every bridge; static entries stay (Open vSwitch's
    /// tnl/neigh/flush).
    pub(super) fn neigh_flush(&mut self, bridge: Option<&str>) -> Result<(), String> {
        let only = bridge.map(|name| self.bridge_named(name)).transpose()?;
        let mut changed = false;
        for (index, b) in self.bridges.iter_mut().enumerate() {
            if only.is_some_and(|only| only != index) {
                continue;
            }
            let generation = b.neighbours.generation();
            let dropped = b.neighbours.flush();
            b.neighbour_counters.dropped += dropped.len() as u64;
            changed |= b.neighbours.generation() != generation;
            tracing::info!(bridge = %b.name, "neighbours flushed");
        }
        if changed {
            self.publish()?;
        }
        Ok(())
    }
}

/// `aa:bb:cc:dd:ee:ff`.
fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}
