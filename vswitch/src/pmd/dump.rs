//! A snapshot of a PMD's megaflows for `vsctl dump-dp-flows` (Open vSwitch's `dpctl/dump-flows`):
//! the management thread sends a `PmdCommand::DumpMegaflows` with a reply channel; the PMD
//! copies at most `limit` megaflows (mask, masked key, a reference to the actions, counters) at
//! its quiescent point and answers without waiting (the channel has room for every PMD's answer;
//! one nobody waits for any more is dropped). Copying is bounded by the limit, so the pause in
//! forwarding is too; the text is made by the management thread.
use std::sync::Arc;

use crossbeam::channel::Sender;

use crate::classifier::megaflow::MegaflowTable;
use crate::datapath::FlowActions;
use crate::flow::key::FlowKey;

/// What the management thread asks a PMD for: its megaflows of bridge `bridge` (an index of
/// `Datapath::bridges`; every bridge when None), the first `limit` of them.
pub struct MegaflowDumpRequest {
    pub bridge: Option<usize>,
    pub limit: usize,
    pub reply: Sender<MegaflowDump>,
}

/// A PMD's answer.
pub struct MegaflowDump {
    /// The PMD's index (its place in the management thread's list).
    pub pmd: usize,
    /// The megaflows the request selects, copied or not.
    pub selected: usize,
    /// The first `limit` of them, in the table's order.
    pub megaflows: Vec<DumpedMegaflow>,
}

/// One megaflow as the PMD holds it.
pub struct DumpedMegaflow {
    pub mask: FlowKey,
    /// The key under the mask; its in_port is a datapath port.
    pub key: FlowKey,
    pub actions: Arc<FlowActions>,
    pub packets: u64,
    pub bytes: u64,
    /// Milliseconds since a packet last used it; None when none has.
    pub idle_ms: Option<u64>,
}

/// The answer to `request` from `megaflows` of PMD `pmd`, at `now_ms` (the clock the megaflows'
/// `last_used` stamps are taken with).
pub fn snapshot(
    pmd: usize,
    megaflows: &MegaflowTable<Arc<FlowActions>>,
    request: &MegaflowDumpRequest,
    now_ms: u64,
) -> MegaflowDump {
    let mut selected = 0;
    let mut copied = Vec::with_capacity(request.limit.min(megaflows.len()));
    for megaflow in megaflows.iter().filter(|m| request.bridge.is_none_or(|b| m.value.bridge == b)) {
        selected += 1;
        if copied.len() == request.limit {
            continue;
        }
        let stats = megaflow.stats;
        copied.push(DumpedMegaflow {
            mask: *megaflow.mask,
            key: megaflow.key,
            actions: Arc::clone(megaflow.value),
            packets: stats.packets,
            bytes: stats.bytes,
            idle_ms: (stats.packets > 0).then(|| now_ms.saturating_sub(stats.last_used)),
        });
    }
    MegaflowDump { pmd, selected, megaflows: copied }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::Field;

    fn flow_of(bridge: usize) -> Arc<FlowActions> {
        Arc::new(FlowActions { bridge, ..FlowActions::default() })
    }

    #[test]
    fn a_snapshot_keeps_the_bridge_asked_for_up_to_the_limit_with_counters_and_idle_times() {
        let mut table: MegaflowTable<Arc<FlowActions>> = MegaflowTable::new(100);
        let mut mask = FlowKey::default();
        mask.set_u64(Field::InPort, u64::from(u32::MAX));
        mask.set_u64(Field::TpDst, 0xffff);
        for port in 0..6u64 {
            let mut key = FlowKey::default();
            key.set_u64(Field::InPort, port);
            key.set_u64(Field::TpDst, 80);
            let id = table.insert(&mask, &key, flow_of(usize::from(port >= 4)), 1_000).unwrap();
            if port % 2 == 0 {
                assert!(table.credit(id, port + 1, 100 * (port + 1), 1_000 + port));
            }
        }
        let (reply, _answers) = crossbeam::channel::bounded(1);
        let request = |bridge, limit| MegaflowDumpRequest { bridge, limit, reply: reply.clone() };

        let all = snapshot(3, &table, &request(None, 100), 2_000);
        assert_eq!((all.pmd, all.selected, all.megaflows.len()), (3, 6, 6));
        let mut seen: Vec<(u64, u64, u64, Option<u64>, usize)> = all
            .megaflows
            .iter()
            .map(|m| (m.key.get_u64(Field::InPort), m.packets, m.bytes, m.idle_ms, m.actions.bridge))
            .collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            [
                (0, 1, 100, Some(1_000), 0),
                (1, 0, 0, None, 0),
                (2, 3, 300, Some(998), 0),
                (3, 0, 0, None, 0),
                (4, 5, 500, Some(996), 1),
                (5, 0, 0, None, 1),
            ]
        );
        assert!(all.megaflows.iter().all(|m| m.mask == mask && m.key.get_u64(Field::TpDst) == 80));

        let bridge1 = snapshot(0, &table, &request(Some(1), 100), 2_000);
        assert_eq!(bridge1.selected, 2);
        assert!(bridge1.megaflows.iter().all(|m| m.actions.bridge == 1));
        assert_eq!(bridge1.megaflows.len(), 2);

        let limited = snapshot(0, &table, &request(Some(0), 3), 2_000);
        assert_eq!((limited.selected, limited.megaflows.len()), (4, 3), "4 selected, the first 3 copied");
        assert!(limited.megaflows.iter().all(|m| m.actions.bridge == 0));
        assert_eq!(snapshot(0, &table, &request(Some(7), 3), 2_000).selected, 0);
    }
}
