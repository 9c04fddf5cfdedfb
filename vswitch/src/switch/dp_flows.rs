//! `vsctl dump-dp-flows`: the megaflows the PMDs have cached, as Open vSwitch's
//! `ovs-appctl dpctl/dump-flows` shows its datapath flows. Every PMD is asked for a snapshot
//! through its command channel (`pmd::dump`); the answers are awaited for at most
//! `PMD_ANSWER_LIMIT` together, a PMD that did not answer is reported as such. Each megaflow is
//! shown in OpenFlow terms, as trace shows the megaflow it would install: its match (in_port as
//! the bridge's OpenFlow port), its counters and its datapath actions (a tunnel push with its
//! outer header). Packets that came out of a tunnel were decapsulated before any lookup (there is
//! no megaflow of the outer packet, unlike Open vSwitch's `tnl_pop` flow and recirculation): their
//! megaflows' in_port is the tunnel port, named as `tnl_pop`, and their match holds the tunnel
//! fields the pipeline looked at.
use std::time::{Duration, Instant};

use crossbeam::channel;

use crate::control::protocol::{DpFlow, DpFlowsReply, PmdDpFlows};
use crate::flow::key::Field;
use crate::flow::OfPort;
use crate::pmd::dump::{DumpedMegaflow, MegaflowDumpRequest};
use crate::pmd::PmdCommand;

use super::trace::megaflow_match;
use super::Switch;

/// The most megaflows one PMD lists (it copies them while it does not forward).
const DP_FLOW_DUMP_LIMIT: usize = 1000;
/// How long the dump waits for the PMDs' answers.
const PMD_ANSWER_LIMIT: Duration = Duration::from_secs(1);

impl Switch {
    /// The PMDs' megaflows, of every bridge or of bridge `bridge` only.
    pub(super) fn dump_dp_flows(&self, bridge: Option<&str>) -> Result<DpFlowsReply, String> {
        let bridge = bridge.map(|name| self.bridge_named(name)).transpose()?;
        let mut pmds: Vec<PmdDpFlows> = self
            .pmds
            .iter()
            .map(|pmd| PmdDpFlows {
                core: pmd.shared.core,
                error: Some(format!("no answer within {} s", PMD_ANSWER_LIMIT.as_secs_f64())),
                megaflows: 0,
                flows: Vec::new(),
            })
            .collect();
        // Room for every answer: a PMD never waits to give it.
        let (reply, answers) = channel::bounded(self.pmds.len());
        let mut asked = 0;
        for (pmd, out) in self.pmds.iter().zip(&mut pmds) {
            let request = MegaflowDumpRequest { bridge, limit: DP_FLOW_DUMP_LIMIT, reply: reply.clone() };
            match pmd.try_send(PmdCommand::DumpMegaflows(request)) {
                Ok(()) => asked += 1,
                Err(e) => out.error = Some(e),
            }
        }
        drop(reply);
        let deadline = Instant::now() + PMD_ANSWER_LIMIT;
        for _ in 0..asked {
            let Ok(dump) = answers.recv_deadline(deadline) else { break };
            let Some(out) = pmds.get_mut(dump.pmd) else { continue };
            out.error = None;
            out.megaflows = dump.selected as u64;
            out.flows = dump.megaflows.iter().map(|megaflow| self.dp_flow(megaflow)).collect();
        }
        Ok(DpFlowsReply { limit: DP_FLOW_DUMP_LIMIT as u64, pmds })
    }

    /// One megaflow in OpenFlow terms.
    fn dp_flow(&self, megaflow: &DumpedMegaflow) -> DpFlow {
        let actions = &megaflow.actions;
        let dp = u16::try_from(megaflow.key.get_u64(Field::InPort)).unwrap_or(u16::MAX);
        let port = self.ports.iter().find(|p| p.dp_port == dp);
        let in_ofport = match port {
            Some(port) => port.ofport,
            None if self.bridges.iter().any(|b| b.local_dp == Some(dp)) => OfPort::LOCAL.0,
            // A port removed since the megaflow was cached (its datapath number shows).
            None => u32::from(dp),
        };
        DpFlow {
            bridge: self.bridges.get(actions.bridge).map_or_else(|| "?".to_owned(), |b| b.name.clone()),
            tnl_pop: port.filter(|p| p.tunnel().is_some()).map(|p| p.config.name.clone()),
            matches: megaflow_match(&megaflow.key, &megaflow.mask, in_ofport),
            packets: megaflow.packets,
            bytes: megaflow.bytes,
            used_ms: megaflow.idle_ms,
            actions: self.dp_actions_text(&actions.actions),
        }
    }
}
