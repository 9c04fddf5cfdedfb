//! The slow path of a PMD: the bridge's OpenFlow pipeline run on a packet's flow key
//! (`pipeline::xlate`), giving the megaflow to install - its mask and its actions - and what
//! the translation learned (rules of learn actions, MAC addresses NORMAL saw), queued to the
//! management thread without waiting (what does not fit a full queue is dropped: the next
//! packet of the flow learns it again). A megaflow whose learn actions build rules with
//! timeouts gets a last-seen cell that goes with them (`pipeline::keepalive`): the management
//! thread ties it to the rules, and the megaflow's traffic refreshes their timeouts.
use std::sync::Arc;

use crossbeam::channel::Sender;

use crate::datapath::{Datapath, FlowActions};
use crate::flow::key::FlowKey;
use crate::flow::FlowRule;
use crate::pipeline::keepalive::LastSeen;
use crate::pipeline::xlate::{translate, MacLearning};
use crate::pipeline::xlate::{vtep_learning, Learned, TunnelMiss, VtepLearning};

/// Something the slow path learned for the management thread to apply.
#[derive(Debug, Clone)]
pub enum SideEffect {
    /// A rule built by a learn action, for bridge `bridge`; a rule with a timeout comes with the
    /// cell its megaflow refreshes (re-running the learn action resets the rule's timeouts).
    LearnedRule { bridge: usize, rule: Box<FlowRule>, refreshed_by: Option<Arc<LastSeen>> },
    /// A MAC address NORMAL saw.
    LearnedMac { bridge: usize, mac: MacLearning },
    /// A tunnel output found its next hop unresolved on underlay bridge `bridge`.
    ResolveNeighbour { bridge: usize, nexthop: std::net::IpAddr },
    /// A flood-and-learn VTEP port saw an inner source MAC behind a remote VTEP.
    LearnedVtep(VtepLearning),
}

/// A translated megaflow: its actions and its mask.
pub struct Upcall {
    pub actions: Arc<FlowActions>,
    pub mask: FlowKey,
}

/// Runs bridge `bridge`'s pipeline of `datapath` on `key`; learned things go to `side_effects`.
/// A bridge the version does not have drops everything (an empty mask: a megaflow for all).
pub fn upcall(datapath: &Datapath, bridge: usize, key: &FlowKey, side_effects: &Sender<SideEffect>) -> Upcall {
    let Some(bridge_dp) = datapath.bridges.get(bridge) else {
        return Upcall { actions: Arc::new(FlowActions::default()), mask: FlowKey::default() };
    };
    let view = bridge_dp.view_in(datapath);
    let mut translation = translate(&view, key, false);
    if let Some(learned) = vtep_learning(&view, key, &mut translation) {
        let _ = side_effects.try_send(SideEffect::LearnedVtep(learned));
    }
    if let Some(TunnelMiss::NeighbourUnresolved { bridge, nexthop }) = translation.tunnel_miss {
        let _ = side_effects.try_send(SideEffect::ResolveNeighbour { bridge, nexthop });
    }
    let timed = |rule: &FlowRule| rule.idle_timeout != 0 || rule.hard_timeout != 0;
    let learns_timed = translation.learned_rules.iter().any(timed)
        || translation
            .learned_elsewhere
            .iter()
            .any(|(_, learned)| matches!(learned, Learned::Rule(rule) if timed(rule)));
    let refreshed_by = learns_timed.then(|| Arc::new(LastSeen::default()));
    if let Some(cell) = &refreshed_by {
        translation.keep_alive.push(Arc::clone(cell));
    }
    let refresh = |rule: &FlowRule| refreshed_by.as_ref().filter(|_| timed(rule)).cloned();
    for rule in translation.learned_rules.drain(..) {
        let refreshed_by = refresh(&rule);
        let _ = side_effects.try_send(SideEffect::LearnedRule { bridge, rule: Box::new(rule), refreshed_by });
    }
    for mac in translation.learned_macs.drain(..) {
        let _ = side_effects.try_send(SideEffect::LearnedMac { bridge, mac });
    }
    // Learned in the bridges behind patch ports.
    for (bridge, learned) in translation.learned_elsewhere.drain(..) {
        let effect = match learned {
            Learned::Rule(rule) => SideEffect::LearnedRule { bridge, refreshed_by: refresh(&rule), rule },
            Learned::Mac(mac) => SideEffect::LearnedMac { bridge, mac },
        };
        let _ = side_effects.try_send(effect);
    }
    let mask = translation.wildcards;
    Upcall { actions: Arc::new(FlowActions::from_translation(bridge, translation)), mask }
}
