//! The slow path of a PMD: the bridge's OpenFlow pipeline run on a packet's flow key
//! (`pipeline::xlate`), giving the megaflow to install - its mask and its actions - and what
//! the translation learned (rules of learn actions, MAC addresses NORMAL saw), queued to the
//! management thread without waiting (what does not fit a full queue is dropped: the next
//! packet of the flow learns it again).
use std::sync::Arc;

use crossbeam::channel::Sender;

use crate::datapath::{Datapath, FlowActions};
use crate::flow::key::FlowKey;
use crate::flow::FlowRule;
use crate::pipeline::xlate::{translate, MacLearning};
use crate::pipeline::xlate::{Learned, TunnelMiss};

/// Something the slow path learned for the management thread to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideEffect {
    /// A rule built by a learn action, for bridge `bridge`.
    LearnedRule { bridge: usize, rule: Box<FlowRule> },
    /// A MAC address NORMAL saw.
    LearnedMac { bridge: usize, mac: MacLearning },
    /// A tunnel output found its next hop unresolved on underlay bridge `bridge`.
    ResolveNeighbour { bridge: usize, nexthop: std::net::IpAddr },
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
    let mut translation = translate(&bridge_dp.view_in(datapath), key, false);
    if let Some(TunnelMiss::NeighbourUnresolved { bridge, nexthop }) = translation.tunnel_miss {
        let _ = side_effects.try_send(SideEffect::ResolveNeighbour { bridge, nexthop });
    }
    for rule in translation.learned_rules.drain(..) {
        let _ = side_effects.try_send(SideEffect::LearnedRule { bridge, rule: Box::new(rule) });
    }
    for mac in translation.learned_macs.drain(..) {
        let _ = side_effects.try_send(SideEffect::LearnedMac { bridge, mac });
    }
    // Learned in the bridges behind patch ports.
    for (bridge, learned) in translation.learned_elsewhere.drain(..) {
        let effect = match learned {
            Learned::Rule(rule) => SideEffect::LearnedRule { bridge, rule },
            Learned::Mac(mac) => SideEffect::LearnedMac { bridge, mac },
        };
        let _ = side_effects.try_send(effect);
    }
    let mask = translation.wildcards;
    Upcall { actions: Arc::new(FlowActions::from_translation(bridge, translation)), mask }
}
