//! Flow rules and their ovs-ofctl text syntax: the OpenFlow 1.3 + Open vSwitch model of matches
//! (`Match`, value/mask over the flow key of `key`), actions and instructions (`Action`,
//! `Instructions`, `Learn`) and rules (`FlowRule`), the parsers of the ovs-ofctl commands
//! (add-flow, mod-flows, del-flows, dump-flows; an add-flows file is split into rules by vsctl,
//! and by `parse_flows_file` in tests) and the canonical text that `Display` prints (what
//! `ovs-ofctl --no-stats dump-flows` shows), which parses back to the same value.
//!
//! Submodules: `key` (flow key layout and field registry), `port` (port numbers and names),
//! `value` (field value syntax), `syntax` (tokens and the parse error), `match_` (matches and
//! prerequisites), `actions` (actions, instructions, their parsing and checks), `learn`,
//! `rule` (rules and selections), `parse` (commands), `display` (canonical text),
//! `tun_metadata` (the TLV map: Geneve options as fields).
#![forbid(unsafe_code)]

mod actions;
mod display;
pub mod key;
mod learn;
mod match_;
mod parse;
mod port;
mod rule;
mod syntax;
pub mod tun_metadata;
mod value;

pub use actions::{Action, Instructions, PacketInReason, Subfield, WriteMetadata, GROUP_MAX};
pub use learn::{Learn, LearnSpec};
pub(crate) use match_::numbers;
pub use match_::{Match, PrerequisiteError};
pub use parse::{parse_add_flow, parse_del_flows, parse_dump_flows, parse_mod_flows};
#[cfg(test)]
pub use parse::{parse_flows_file, FlowsFileError};
pub use port::OfPort;
pub use rule::{FlowModification, FlowRule, FlowSelector};
pub use syntax::FlowParseError;

/// Priority of a rule that does not give one (the ovs-ofctl default).
pub const DEFAULT_PRIORITY: u16 = 32768;

/// Random input for the never-panics tests of the parsers (here and in `config`).
#[cfg(test)]
pub(crate) mod test_random {
    /// xorshift64*: a fixed-seed generator so the cases are the same on every run.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            crate::classifier::xorshift64(&mut self.0).wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        #[expect(clippy::cast_possible_truncation, reason = "the remainder is below `bound`, a usize")]
        pub(crate) fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests;
