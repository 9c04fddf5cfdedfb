//! The management thread's side of the bridges' group tables: GROUP_MOD applied as one table
//! version (a delete takes the rules that use the group along, with flow_removed messages for
//! those that asked for them), and group statistics.

use crate::openflow::message::FlowRemovedReason;
use crate::openflow::service::{GroupModFailure, GroupStat};
use crate::pipeline::group::{GroupOp, GROUP_ALL};

use super::Switch;

impl Switch {
    /// Applies a group_mod to a bridge and publishes the result as one datapath version.
    pub(super) fn apply_group_mod(&mut self, bridge: usize, op: GroupOp) -> Result<(), GroupModFailure> {
        let now = self.now_ms();
        let removed = self.bridges[bridge].tables.apply_group_mod(op, now).map_err(GroupModFailure::Table)?;
        self.publish().map_err(GroupModFailure::Internal)?;
        for entry in &removed {
            self.push_flow_removed(bridge, entry, FlowRemovedReason::GroupDelete);
        }
        Ok(())
    }

    /// Counters of group `id` of a bridge, or of every group for [`GROUP_ALL`]; none for a group
    /// that does not exist.
    pub(super) fn group_stats(&self, bridge: usize, id: u32) -> Vec<GroupStat> {
        let now = self.now_ms();
        let tables = &self.bridges[bridge].tables;
        let references = tables.group_references();
        tables
            .groups()
            .iter()
            .filter(|entry| id == GROUP_ALL || entry.group().id == id)
            .map(|entry| {
                let (packets, bytes) = entry.counts();
                GroupStat {
                    group_id: entry.group().id,
                    ref_count: references.get(&entry.group().id).copied().unwrap_or(0),
                    packets,
                    bytes,
                    buckets: entry.bucket_counts(),
                    duration_ms: now.saturating_sub(entry.added_ms()),
                }
            })
            .collect()
    }
}
