//! Output to a patch port: the packet, as the actions so far leave it, continues in the peer
//! port's bridge as if it came in there - within the same translation, so the megaflow covers
//! both bridges and a packet takes one lookup, no recirculation (as Open vSwitch's patch ports).
//! The peer bridge starts a pipeline of its own: metadata and registers are zero, the tunnel
//! fields stay. Its datapath actions follow; what its lookups examined is un-wildcarded here
//! too (a field rewritten before the patch is then matched on its original value as well:
//! more specific than needed, never wrong); any change of the peer bridge revalidates the
//! megaflow.

use super::{translate_at, Learned, PatchPeer, Xlate};
use crate::flow::key::Field;

/// Patch ports crossed at most in one translation (a loop of patches ends there).
pub const MAX_PATCH_DEPTH: usize = 8;

impl Xlate<'_, '_> {
    pub(super) fn patch_output(&mut self, peer: PatchPeer) {
        if self.bridge_depth >= MAX_PATCH_DEPTH {
            self.note(format!("patch: more than {MAX_PATCH_DEPTH} bridges deep -> drop"));
            return;
        }
        let Some(view) = self.bridge.underlay.and_then(|others| others.bridge_view(peer.bridge)) else {
            self.note("patch: the peer's bridge is not in this version -> drop".into());
            return;
        };
        let mut key = self.key;
        key.set_u64(Field::InPort, u64::from(peer.dp_port));
        key.set_u128(Field::Metadata, 0);
        for r in 0..8 {
            key.set_u128(Field::Reg(r), 0);
        }
        self.read_state(|r| r.crosses_bridge(peer.bridge));
        self.note(format!("patch -> bridge {} (datapath port {})", peer.bridge, peer.dp_port));
        // Changes not yet written to the packet go over uncommitted: the peer writes those its
        // actions need (a VLAN tag NORMAL adds for the patch and the peer strips costs nothing).
        let packet = self.committed;
        let nested = translate_at(&view, &key, self.out.trace.is_some(), self.bridge_depth + 1, Some(&packet));
        let stop = nested.stop.filter(|_| nested.actions_stopped());
        // What the peer's lookups examined: the same bits of this packet (but in_port, which
        // the patch fixed).
        let mut wildcards = nested.wildcards;
        wildcards.set_u128(Field::InPort, 0);
        self.out.wildcards.or_with(&wildcards);
        if let (Some(trace), Some(steps)) = (&mut self.out.trace, nested.trace) {
            let indent = "    ".repeat(self.depth + 1);
            trace.extend(steps.into_iter().map(|line| format!("{indent}{line}")));
        }
        for action in nested.actions {
            self.emit(action);
        }
        // The packet leaves the peer as its actions left it: what this bridge does next
        // writes what differs from its own view.
        self.set_packet(&nested.committed);
        self.out.rules.extend(nested.rules);
        self.out.groups.extend(nested.groups);
        self.out
            .learned_elsewhere
            .extend(nested.learned_rules.into_iter().map(|r| (peer.bridge, Learned::Rule(Box::new(r)))));
        self.out.learned_elsewhere.extend(nested.learned_macs.into_iter().map(|m| (peer.bridge, Learned::Mac(m))));
        self.out.learned_elsewhere.extend(nested.learned_elsewhere);
        self.out.keep_alive.extend(nested.keep_alive);
        if self.out.tunnel_miss.is_none() {
            self.out.tunnel_miss = nested.tunnel_miss;
        }
        if self.out.stop.is_none() {
            self.out.stop = stop;
        }
    }
}

impl super::Translation {
    /// Whether the translation ended early for a reason that is the packet's fate (not a TTL).
    fn actions_stopped(&self) -> bool {
        self.stop.is_some_and(|stop| stop != super::XlateStop::TtlExpired)
    }
}
