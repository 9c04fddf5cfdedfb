//! The switch's Geneve TLV map (`flow::tun_metadata`): NXT_TLV_TABLE_MOD from any bridge's
//! OpenFlow connection changes it for the whole switch (as in Open vSwitch, where the map is
//! the switch's), NXT_TLV_TABLE_REQUEST reads it. A mapping a rule of any bridge uses (its match,
//! or its actions naming the field) is not deleted (NXTTMFC_INVALID_TLV_DEL). A change is
//! published with a new datapath version (the decapsulation stage's option table) and every
//! cached flow is revalidated.

use crate::flow::key::{FlowKey, TUN_METADATA_OFFSET};
use crate::flow::tun_metadata::{self, TlvMap, TlvMapError, TlvMapping};
use crate::flow::FlowSelector;
use crate::openflow::message::TlvTableCommand;
use crate::pipeline::table::RuleEntry;

use super::Switch;

impl Switch {
    /// Applies a TLV table mod; on success the map is published (field definitions and the
    /// datapath).
    pub(super) fn tlv_table_mod(
        &mut self,
        command: TlvTableCommand,
        mappings: &[TlvMapping],
    ) -> Result<(), TlvMapError> {
        let mut map = self.tlv_map.clone();
        let indexes: Vec<u8> = mappings.iter().map(|m| m.index).collect();
        let in_use = |index: u8| self.rules_use(index);
        match command {
            TlvTableCommand::Add => map.add(mappings)?,
            TlvTableCommand::Delete => map.delete(&indexes, in_use)?,
            TlvTableCommand::Clear => map.clear(in_use)?,
        }
        if map == self.tlv_map {
            return Ok(());
        }
        self.tlv_map = map;
        tun_metadata::publish(&self.tlv_map);
        self.tlv_map_changed = true;
        if let Err(e) = self.publish() {
            tracing::error!("the TLV map not published: {e}");
        }
        Ok(())
    }

    /// The switch's TLV map.
    pub(super) fn tlv_table(&self) -> &TlvMap {
        &self.tlv_map
    }

    /// Whether a rule of any bridge uses field `tun_metadata{index}` of the map.
    fn rules_use(&self, index: u8) -> bool {
        let Some(mapping) = self.tlv_map.get(index) else { return false };
        let area = key_bits(mapping);
        let names = [tun_metadata::NAMES[usize::from(index)], tun_metadata::NXM_NAMES[usize::from(index)]];
        (0..self.bridges.len())
            .flat_map(|b| self.select_flows(b, &FlowSelector::default()))
            .any(|entry| rule_uses(&entry, &area, &names))
    }
}

/// All ones in the key bytes of `mapping`.
fn key_bits(mapping: &TlvMapping) -> FlowKey {
    let mut bits = FlowKey::default();
    let start = TUN_METADATA_OFFSET + usize::from(mapping.offset);
    bits.bytes[start..start + usize::from(mapping.len)].fill(0xff);
    bits
}

/// Whether `entry` matches any bit of `area`, or its actions name the field (`names`, as the
/// canonical text prints them: not followed by a digit).
fn rule_uses(entry: &RuleEntry, area: &FlowKey, names: &[&str]) -> bool {
    let rule = entry.rule();
    if rule.matches.mask().masked(area) != FlowKey::default() {
        return true;
    }
    let actions = rule.instructions.to_string();
    names.iter().any(|name| {
        actions.match_indices(name).any(|(at, _)| !actions[at + name.len()..].starts_with(|c: char| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::Field;
    use crate::flow::parse_add_flow;
    use crate::pipeline::table::{FlowModFlags, FlowTables};

    #[test]
    fn a_rule_uses_a_field_by_its_match_or_by_naming_it_in_its_actions() {
        tun_metadata::tests::publish_test_map();
        let entry = |flow: &str| {
            let mut tables = FlowTables::new();
            tables.add(parse_add_flow(flow).unwrap(), FlowModFlags::default(), 0).unwrap();
            tables.dump(&FlowSelector::default()).pop().unwrap()
        };
        let area = key_bits(tun_metadata::published_map().get(1).unwrap());
        let names = [tun_metadata::NAMES[1], tun_metadata::NXM_NAMES[1]];
        assert!(rule_uses(&entry("tun_metadata1=0x5/0xff,actions=drop"), &area, &names));
        assert!(rule_uses(&entry("actions=set_field:1->tun_metadata1"), &area, &names));
        assert!(rule_uses(&entry("actions=move:tun_metadata1[0..7]->reg0[0..7]"), &area, &names));
        assert!(!rule_uses(&entry("tun_metadata0=1,actions=set_field:1->tun_metadata63"), &area, &names));
        assert!(!rule_uses(&entry("tun_metadata0=1,actions=drop"), &area, &[Field::TunMetadata(1).def().name]));
    }
}
