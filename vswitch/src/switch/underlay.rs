//! The switch's own stack behind an underlay bridge's LOCAL port: it answers ARP and IPv6
//! neighbour solicitations for the bridge's addresses (the tunnel endpoints), learns the
//! neighbours that tunnel packets are sent to from the replies, and asks for a next hop a tunnel
//! output found unresolved - at most once a second per next hop. Its packets enter the bridge's
//! pipeline from LOCAL, as the host stack's do on Open vSwitch's br-phy.

use std::net::IpAddr;

use crate::flow::{Action, OfPort};
use crate::tunnel::{arp_reply, arp_request, neighbour_advertisement, neighbour_solicitation};
use crate::tunnel::{parse_neighbour_message, NeighbourMessage};

use super::Switch;

/// A next hop is asked for at most this often.
pub const NEIGHBOUR_REQUEST_INTERVAL_MS: u64 = 1000;
/// Learned neighbours not confirmed for this long are forgotten (Open vSwitch's default).
pub const NEIGHBOUR_AGING_MS: u64 = 900_000;

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
        let mut changed = false;
        match message {
            NeighbourMessage::Request { sender_ip, sender_mac, target } if own.contains(&target) => {
                if !sender_ip.is_unspecified() {
                    changed |= b.set_neighbour(sender_ip, sender_mac, false, now);
                }
                let reply = match (target, sender_ip) {
                    (IpAddr::V4(ours), IpAddr::V4(theirs)) => arp_reply(mac, ours, sender_mac, theirs),
                    (IpAddr::V6(ours), IpAddr::V6(theirs)) => neighbour_advertisement(mac, ours, sender_mac, theirs),
                    _ => return,
                };
                self.send_from_local(bridge, &reply);
            }
            NeighbourMessage::Request { .. } => {}
            NeighbourMessage::Binding { ip, mac } => {
                // Only next hops this bridge's tunnels use or asked for, or already knows.
                let wanted = self.pending_neighbours.contains_key(&(bridge, ip))
                    || self.bridges[bridge].neighbours.contains_key(&ip);
                if wanted {
                    changed |= self.bridges[bridge].set_neighbour(ip, mac, false, now);
                    self.pending_neighbours.remove(&(bridge, ip));
                }
            }
        }
        if changed {
            tracing::info!(bridge = %self.bridges[bridge].name, "neighbour learned");
            if let Err(e) = self.publish() {
                tracing::error!("neighbour change not published: {e}");
            }
        }
    }

    /// A tunnel output found `nexthop` unresolved on bridge `bridge`: ask for it, unless asked
    /// within the last second.
    pub(super) fn resolve_neighbour(&mut self, bridge: usize, nexthop: IpAddr, now: u64) {
        let Some(b) = self.bridges.get(bridge) else { return };
        if b.neighbours.contains_key(&nexthop) {
            return;
        }
        if let Some(&asked) = self.pending_neighbours.get(&(bridge, nexthop)) {
            if now.saturating_sub(asked) < NEIGHBOUR_REQUEST_INTERVAL_MS {
                return;
            }
        }
        let Some(source) = b.addresses.iter().map(|a| a.addr).find(|a| a.is_ipv4() == nexthop.is_ipv4()) else {
            return;
        };
        let request = match (source, nexthop) {
            (IpAddr::V4(source), IpAddr::V4(target)) => arp_request(b.mac, source, target),
            (IpAddr::V6(source), IpAddr::V6(target)) => neighbour_solicitation(b.mac, source, target),
            _ => return,
        };
        tracing::debug!(bridge = %b.name, %nexthop, "asking for a tunnel next hop");
        self.pending_neighbours.insert((bridge, nexthop), now);
        self.send_from_local(bridge, &request);
    }

    /// Periodic: learned neighbours age out; a next hop asked for a second ago and still
    /// unresolved lets its tunnel flows be translated again (the next packet asks again).
    pub(super) fn tick_neighbours(&mut self, now: u64) -> bool {
        let mut changed = false;
        for b in &mut self.bridges {
            changed |= b.age_neighbours(now, NEIGHBOUR_AGING_MS);
        }
        let bridges = &mut self.bridges;
        self.pending_neighbours.retain(|&(bridge, _), &mut asked| {
            let due = now.saturating_sub(asked) >= NEIGHBOUR_REQUEST_INTERVAL_MS;
            if due {
                if let Some(b) = bridges.get_mut(bridge) {
                    b.underlay_changed = true;
                    changed = true;
                }
            }
            !due
        });
        changed
    }

    /// Sends `frame` into bridge `bridge`'s pipeline from its LOCAL port.
    fn send_from_local(&mut self, bridge: usize, frame: &[u8]) {
        let actions = [Action::output(OfPort::TABLE)];
        if let Err(e) = self.packet_out(bridge, OfPort::LOCAL, &actions, frame) {
            tracing::warn!(bridge = %self.bridges[bridge].name, "packet from LOCAL not sent: {e:?}");
        }
    }
}
