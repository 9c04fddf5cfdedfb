//! The canonical text of rules, matches, actions and instructions: what `ovs-ofctl --no-stats
//! dump-flows` prints (`cookie=0x5, table=1, idle_timeout=10, priority=1,tcp,in_port=1
//! actions=output:2`), fields in Open vSwitch's order (priority, protocol shorthand, registers,
//! tunnel, metadata, in_port, VLAN, Ethernet, L3, L4). Every text parses back to the same value.
//! A match bit that the usual order does not print (a field without its prerequisites) is
//! printed at the end under the field's own name, so nothing is ever hidden.

use std::fmt;

use super::actions::{Action, Instructions, PacketInReason, Subfield};
use super::key::{Field, FlowKey};
use super::learn::{Learn, LearnSpec};
use super::match_::numbers::*;
use super::match_::Match;
use super::port::OfPort;
use super::rule::FlowRule;
use super::tun_metadata;
use super::value::{c_hex, format_ethernet, format_ipv4_masked, format_ipv6_masked, format_masked, ipv4_bits};
use super::DEFAULT_PRIORITY;
use crate::packet::proto::vlan;

impl fmt::Display for Subfield {
    /// `NXM_OF_VLAN_TCI[0..11]`, `NXM_OF_ETH_DST[]`, `NXM_NX_REG0[5]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field.nxm_or_name())?;
        if self.is_whole() {
            f.write_str("[]")
        } else if self.bits == 1 {
            write!(f, "[{}]", self.offset)
        } else if self.bits == 0 {
            // Never valid (check_bounds refuses it), but its error names it.
            write!(f, "[{}..] (0 bits)", self.offset)
        } else {
            write!(f, "[{}..{}]", self.offset, self.offset + self.bits - 1)
        }
    }
}

/// The name Open vSwitch prints for a whole field in set_field and learn (its OXM-style name
/// where ovs-ofctl's match syntax uses an older one).
fn ovs_field_name(field: Field) -> &'static str {
    match field {
        Field::DlSrc => "eth_src",
        Field::DlDst => "eth_dst",
        Field::DlType => "eth_type",
        Field::NwSrc => "ip_src",
        Field::NwDst => "ip_dst",
        _ => field.def().name,
    }
}

/// The text of a set_field action's value and field.
fn set_field_text(field: Field, value: u128, mask: u128) -> String {
    match (field, mask) {
        (Field::NwTos, 0xfc) => format!("set_field:{value}->nw_tos"),
        (Field::NwTos, 0x03) => format!("set_field:{value}->nw_ecn"),
        (Field::NwTos, _) => format!("set_field:{}->{}", format_masked(field, value, mask), field.nxm_or_name()),
        (Field::VlanTci, VLAN_VID_MASK) => format!("set_field:{}->vlan_vid", value | VLAN_PRESENT),
        (Field::VlanTci, VLAN_PCP_MASK) => format!("set_field:{}->vlan_pcp", value >> vlan::PCP_SHIFT),
        _ => format!("set_field:{}->{}", format_masked(field, value, mask), ovs_field_name(field)),
    }
}

impl fmt::Display for Action {
    /// As Open vSwitch prints the action.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output { port, .. } if port.is_switch_port() => write!(f, "output:{port}"),
            Action::Output { port, .. } => write!(f, "{port}"),
            Action::Controller { max_len, reason: PacketInReason::Action } => write!(f, "CONTROLLER:{max_len}"),
            Action::Controller { max_len, reason } => {
                write!(f, "controller(reason={}", reason.name())?;
                if *max_len != u16::MAX {
                    write!(f, ",max_len={max_len}")?;
                }
                f.write_str(")")
            }
            Action::Resubmit { port, table: None } if *port != OfPort::IN_PORT => write!(f, "resubmit:{port}"),
            Action::Resubmit { port, table } => {
                f.write_str("resubmit(")?;
                if *port != OfPort::IN_PORT {
                    write!(f, "{port}")?;
                }
                f.write_str(",")?;
                if let Some(table) = table {
                    write!(f, "{table}")?;
                }
                f.write_str(")")
            }
            Action::SetField { field, value, mask } => f.write_str(&set_field_text(*field, *value, *mask)),
            Action::Load { value, dst } => write!(f, "load:{}->{dst}", c_hex(*value)),
            Action::Move { src, dst } => write!(f, "move:{src}->{dst}"),
            Action::SetVlanVid { vid, push_if_needed: true } => write!(f, "mod_vlan_vid:{vid}"),
            Action::SetVlanVid { vid, push_if_needed: false } => write!(f, "set_vlan_vid:{vid}"),
            Action::SetVlanPcp { pcp, push_if_needed: true } => write!(f, "mod_vlan_pcp:{pcp}"),
            Action::SetVlanPcp { pcp, push_if_needed: false } => write!(f, "set_vlan_pcp:{pcp}"),
            Action::PopVlan => f.write_str("strip_vlan"),
            Action::PushVlan { tpid } => write!(f, "push_vlan:{tpid:#x}"),
            Action::SetEthSrc(mac) => write!(f, "mod_dl_src:{}", format_ethernet(u128::from(*mac))),
            Action::SetEthDst(mac) => write!(f, "mod_dl_dst:{}", format_ethernet(u128::from(*mac))),
            Action::SetIpv4Src(address) => write!(f, "mod_nw_src:{address}"),
            Action::SetIpv4Dst(address) => write!(f, "mod_nw_dst:{address}"),
            Action::SetIpTos(tos) => write!(f, "mod_nw_tos:{tos}"),
            Action::SetIpEcn(ecn) => write!(f, "mod_nw_ecn:{ecn}"),
            Action::SetIpTtl(ttl) => write!(f, "mod_nw_ttl:{ttl}"),
            Action::SetL4SrcPort(port) => write!(f, "mod_tp_src:{port}"),
            Action::SetL4DstPort(port) => write!(f, "mod_tp_dst:{port}"),
            Action::DecTtl => f.write_str("dec_ttl"),
            Action::SetTunnel(id) if *id > u64::from(u32::MAX) => write!(f, "set_tunnel64:{}", c_hex(u128::from(*id))),
            Action::SetTunnel(id) => write!(f, "set_tunnel:{}", c_hex(u128::from(*id))),
            Action::Learn(learn) => write!(f, "{learn}"),
            Action::Group(id) => write!(f, "group:{id}"),
            Action::PushMpls { ethertype } => write!(f, "push_mpls:{ethertype:#06x}"),
            Action::PopMpls { ethertype } => write!(f, "pop_mpls:{ethertype:#06x}"),
            Action::SetMplsLabel(label) => write!(f, "set_mpls_label({label})"),
            Action::SetMplsTc(tc) => write!(f, "set_mpls_tc({tc})"),
            Action::SetMplsTtl(ttl) => write!(f, "set_mpls_ttl({ttl})"),
            Action::DecMplsTtl => f.write_str("dec_mpls_ttl"),
            Action::CopyTtlOut => f.write_str("copy_ttl_out"),
            Action::CopyTtlIn => f.write_str("copy_ttl_in"),
        }
    }
}

fn join_actions(actions: &[Action]) -> String {
    actions.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

impl fmt::Display for Instructions {
    /// The instructions in execution order, comma separated; `drop` when there are none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_drop() {
            return f.write_str("drop");
        }
        let mut parts = Vec::new();
        if let Some(meter) = self.meter {
            parts.push(format!("meter:{meter}"));
        }
        if !self.apply_actions.is_empty() {
            parts.push(join_actions(&self.apply_actions));
        }
        if self.clear_actions {
            parts.push("clear_actions".to_string());
        }
        if let Some(actions) = &self.write_actions {
            parts.push(format!("write_actions({})", join_actions(actions)));
        }
        if let Some(metadata) = self.write_metadata {
            let mut text = format!("write_metadata:{}", c_hex(u128::from(metadata.value)));
            if metadata.mask != u64::MAX {
                text.push_str(&format!("/{}", c_hex(u128::from(metadata.mask))));
            }
            parts.push(text);
        }
        if let Some(table) = self.goto_table {
            parts.push(format!("goto_table:{table}"));
        }
        f.write_str(&parts.join(","))
    }
}

impl fmt::Display for LearnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LearnSpec::MatchField { dst, src } if src.field == dst.field && src.offset == dst.offset => {
                write!(f, "{dst}")
            }
            LearnSpec::MatchField { dst, src } => write!(f, "{dst}={src}"),
            LearnSpec::MatchValue { dst, value } if dst.is_whole() => {
                write!(f, "{}={}", ovs_field_name(dst.field), format_masked(dst.field, *value, dst.field.bits_mask()))
            }
            LearnSpec::MatchValue { dst, value } => write!(f, "{dst}={}", c_hex(*value)),
            LearnSpec::LoadValue { value, dst } => write!(f, "load:{}->{dst}", c_hex(*value)),
            LearnSpec::LoadField { src, dst } => write!(f, "load:{src}->{dst}"),
            LearnSpec::Output { src } => write!(f, "output:{src}"),
        }
    }
}

impl fmt::Display for Learn {
    /// `learn(table=T,...specs)` in Open vSwitch's order; defaults left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "learn(table={}", self.table)?;
        let optional = [
            ("idle_timeout", self.idle_timeout),
            ("hard_timeout", self.hard_timeout),
            ("fin_idle_timeout", self.fin_idle_timeout),
            ("fin_hard_timeout", self.fin_hard_timeout),
        ];
        for (name, seconds) in optional {
            if seconds != 0 {
                write!(f, ",{name}={seconds}")?;
            }
        }
        if self.priority != DEFAULT_PRIORITY {
            write!(f, ",priority={}", self.priority)?;
        }
        if self.cookie != 0 {
            write!(f, ",cookie={:#x}", self.cookie)?;
        }
        for spec in &self.specs {
            write!(f, ",{spec}")?;
        }
        f.write_str(")")
    }
}

/// Collects a match's fields in Open vSwitch's order, remembering which bits were printed.
struct MatchWriter<'a> {
    matches: &'a Match,
    parts: Vec<String>,
    printed: FlowKey,
}

impl MatchWriter<'_> {
    fn mark(&mut self, field: Field) {
        let (_, mask) = self.matches.value_and_mask(field);
        let already = self.printed.get_u128(field);
        self.printed.set_u128(field, already | mask);
    }

    /// Prints `name=TEXT` with `TEXT` from the field's value and mask, if it is matched.
    fn field(&mut self, name: &str, field: Field, text: impl Fn(u128, u128) -> String) {
        let (value, mask) = self.matches.value_and_mask(field);
        if mask != 0 {
            self.parts.push(format!("{name}={}", text(value, mask)));
            self.mark(field);
        }
    }

    /// A field in its generic syntax.
    fn generic(&mut self, name: &str, field: Field) {
        self.field(name, field, |value, mask| format_masked(field, value, mask));
    }

    /// A 16-bit L4 field as Open vSwitch prints it: decimal, or hex value/mask.
    fn be16(&mut self, name: &str, field: Field) {
        self.field(name, field, |value, mask| {
            if mask == field.bits_mask() {
                value.to_string()
            } else {
                format!("{value:#x}/{mask:#x}")
            }
        });
    }

    /// A field printed with C's `%#x` (registers, tunnel id, metadata).
    fn hex(&mut self, name: &str, field: Field) {
        self.field(name, field, |value, mask| {
            if mask == field.bits_mask() {
                c_hex(value)
            } else {
                format!("{}/{}", c_hex(value), c_hex(mask))
            }
        });
    }

    fn protocol_shorthand(&mut self) -> (bool, bool) {
        let dl_type = self.matches.exact_value(Field::DlType);
        let proto = self.matches.exact_value(Field::NwProto);
        let (name, names_proto) = match (dl_type, proto) {
            (Some(ETH_TYPE_IP), Some(IP_PROTO_ICMP)) => ("icmp", true),
            (Some(ETH_TYPE_IP), Some(IP_PROTO_TCP)) => ("tcp", true),
            (Some(ETH_TYPE_IP), Some(IP_PROTO_UDP)) => ("udp", true),
            (Some(ETH_TYPE_IP), Some(IP_PROTO_SCTP)) => ("sctp", true),
            (Some(ETH_TYPE_IP), _) => ("ip", false),
            (Some(ETH_TYPE_IPV6), Some(IP_PROTO_ICMPV6)) => ("icmp6", true),
            (Some(ETH_TYPE_IPV6), Some(IP_PROTO_TCP)) => ("tcp6", true),
            (Some(ETH_TYPE_IPV6), Some(IP_PROTO_UDP)) => ("udp6", true),
            (Some(ETH_TYPE_IPV6), Some(IP_PROTO_SCTP)) => ("sctp6", true),
            (Some(ETH_TYPE_IPV6), _) => ("ipv6", false),
            (Some(ETH_TYPE_ARP), _) => ("arp", false),
            (Some(ETH_TYPE_RARP), _) => ("rarp", false),
            (Some(ETH_TYPE_MPLS), _) => ("mpls", false),
            (Some(ETH_TYPE_MPLS_MCAST), _) => ("mplsm", false),
            _ => return (false, false),
        };
        self.parts.push(name.to_string());
        self.mark(Field::DlType);
        if names_proto {
            self.mark(Field::NwProto);
        }
        (true, names_proto)
    }

    fn vlan(&mut self) {
        let (value, mask) = self.matches.value_and_mask(Field::VlanTci);
        if mask == 0 {
            return;
        }
        let vid_mask = mask & VLAN_VID_MASK;
        let pcp_mask = mask & VLAN_PCP_MASK;
        let tagged = mask & VLAN_PRESENT != 0 && value & VLAN_PRESENT != 0;
        if tagged
            && matches!(vid_mask, 0 | VLAN_VID_MASK)
            && matches!(pcp_mask, 0 | VLAN_PCP_MASK)
            && vid_mask | pcp_mask != 0
        {
            if vid_mask != 0 {
                self.parts.push(format!("dl_vlan={}", value & VLAN_VID_MASK));
            }
            if pcp_mask != 0 {
                self.parts.push(format!("dl_vlan_pcp={}", value >> vlan::PCP_SHIFT));
            }
        } else if mask == 0xffff {
            self.parts.push(format!("vlan_tci={value:#06x}"));
        } else {
            self.parts.push(format!("vlan_tci={value:#06x}/{mask:#06x}"));
        }
        self.mark(Field::VlanTci);
    }

    /// nw_tos (all the DSCP bits) and nw_ecn (both ECN bits); any other mask of the TOS byte
    /// under its NXM name, which takes masks.
    fn tos(&mut self) {
        let (value, mask) = self.matches.value_and_mask(Field::NwTos);
        if mask & 0xfc == 0xfc {
            self.parts.push(format!("nw_tos={}", value & 0xfc));
        }
        if mask & 0x03 == 0x03 {
            self.parts.push(format!("nw_ecn={}", value & 0x03));
        }
        let partial =
            [0xfc, 0x03].into_iter().filter(|&part| mask & part != part).fold(0, |rest, part| rest | (mask & part));
        if partial != 0 {
            self.parts.push(format!("NXM_OF_IP_TOS={}", format_masked(Field::NwTos, value & partial, partial)));
        }
        self.mark(Field::NwTos);
    }

    /// Whatever matched bits the order above did not print, under the field's own name.
    fn leftovers(&mut self) {
        for field in Field::all_mapped() {
            let (value, mask) = self.matches.value_and_mask(field);
            let remaining = mask & !self.printed.get_u128(field);
            if remaining != 0 {
                self.parts.push(format!("{}={}", field.def().name, format_masked(field, value & remaining, remaining)));
                let already = self.printed.get_u128(field);
                self.printed.set_u128(field, already | remaining);
            }
        }
    }

    fn write(mut self) -> Vec<String> {
        let (skip_type, skip_proto) = self.protocol_shorthand();
        for register in 0..8 {
            self.hex(&format!("reg{register}"), Field::Reg(register));
        }
        self.hex("tun_id", Field::TunId);
        self.generic("tun_src", Field::TunSrc);
        self.generic("tun_dst", Field::TunDst);
        self.generic("tun_ipv6_src", Field::TunIpv6Src);
        self.generic("tun_ipv6_dst", Field::TunIpv6Dst);
        self.be16("tun_gbp_id", Field::TunGbpId);
        self.hex("tun_gbp_flags", Field::TunGbpFlags);
        self.generic("tun_flags", Field::TunFlags);
        for index in 0..tun_metadata::FIELDS {
            let field = Field::TunMetadata(u8::try_from(index).unwrap_or(0));
            if field.is_mapped() {
                self.hex(tun_metadata::NAMES[index], field);
            }
        }
        self.hex("metadata", Field::Metadata);
        self.generic("in_port", Field::InPort);
        self.vlan();
        self.generic("dl_src", Field::DlSrc);
        self.generic("dl_dst", Field::DlDst);
        if !skip_type {
            self.field("dl_type", Field::DlType, |value, mask| {
                if mask == 0xffff {
                    format!("{value:#06x}")
                } else {
                    format!("{value:#06x}/{mask:#06x}")
                }
            });
        }
        let dl_type = self.matches.exact_value(Field::DlType);
        let proto = self.matches.exact_value(Field::NwProto);
        if matches!(dl_type, Some(ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST)) {
            for field in [Field::MplsLabel, Field::MplsTc, Field::MplsTtl, Field::MplsBos] {
                self.generic(field.def().name, field);
            }
        }
        let is_arp = matches!(dl_type, Some(ETH_TYPE_ARP | ETH_TYPE_RARP));
        if dl_type == Some(ETH_TYPE_IPV6) {
            self.generic("ipv6_src", Field::Ipv6Src);
            self.generic("ipv6_dst", Field::Ipv6Dst);
            self.field("ipv6_label", Field::Ipv6Label, |value, mask| {
                if mask == 0xf_ffff {
                    format!("{value:#07x}")
                } else {
                    format!("{value:#07x}/{mask:#07x}")
                }
            });
            // Not in Open vSwitch: its flags, as OpenFlow 1.3 numbers them, in hex.
            self.hex("ipv6_exthdr", Field::Ipv6Exthdr);
        } else if is_arp {
            self.field("arp_spa", Field::ArpSpa, |v, m| format_ipv4_masked(ipv4_bits(v), ipv4_bits(m)));
            self.field("arp_tpa", Field::ArpTpa, |v, m| format_ipv4_masked(ipv4_bits(v), ipv4_bits(m)));
        } else {
            self.field("nw_src", Field::NwSrc, |v, m| format_ipv4_masked(ipv4_bits(v), ipv4_bits(m)));
            self.field("nw_dst", Field::NwDst, |v, m| format_ipv4_masked(ipv4_bits(v), ipv4_bits(m)));
        }
        if !skip_proto {
            if is_arp {
                self.generic("arp_op", Field::ArpOp);
            } else {
                self.generic("nw_proto", Field::NwProto);
            }
        }
        if is_arp {
            self.generic("arp_sha", Field::ArpSha);
            self.generic("arp_tha", Field::ArpTha);
        }
        self.tos();
        self.generic("nw_ttl", Field::NwTtl);
        self.generic("nw_frag", Field::NwFrag);
        let is_ip = matches!(dl_type, Some(ETH_TYPE_IP | ETH_TYPE_IPV6));
        if dl_type == Some(ETH_TYPE_IP) && proto == Some(IP_PROTO_ICMP) {
            self.generic("icmp_type", Field::IcmpType);
            self.generic("icmp_code", Field::IcmpCode);
        } else if dl_type == Some(ETH_TYPE_IPV6) && proto == Some(IP_PROTO_ICMPV6) {
            self.generic("icmp_type", Field::Icmpv6Type);
            self.generic("icmp_code", Field::Icmpv6Code);
            self.field("nd_target", Field::NdTarget, format_ipv6_masked);
            self.generic("nd_sll", Field::NdSll);
            self.generic("nd_tll", Field::NdTll);
        } else {
            self.be16("tp_src", Field::TpSrc);
            self.be16("tp_dst", Field::TpDst);
        }
        if is_ip && proto == Some(IP_PROTO_TCP) {
            self.generic("tcp_flags", Field::TcpFlags);
        }
        self.leftovers();
        self.parts
    }
}

impl Match {
    /// The match's fields in ovs-ofctl text, in Open vSwitch's order.
    pub(crate) fn canonical_fields(&self) -> Vec<String> {
        MatchWriter { matches: self, parts: Vec::new(), printed: FlowKey::default() }.write()
    }
}

impl fmt::Display for Match {
    /// The match fields comma separated; empty for a match of everything.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical_fields().join(","))
    }
}

impl fmt::Display for FlowRule {
    /// As `ovs-ofctl --no-stats dump-flows` prints the rule: non-default cookie, table and
    /// timeouts, then priority and match, then `actions=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cookie != 0 {
            write!(f, "cookie={:#x}, ", self.cookie)?;
        }
        if self.table != 0 {
            write!(f, "table={}, ", self.table)?;
        }
        if self.idle_timeout != 0 {
            write!(f, "idle_timeout={}, ", self.idle_timeout)?;
        }
        if self.hard_timeout != 0 {
            write!(f, "hard_timeout={}, ", self.hard_timeout)?;
        }
        let mut fields = Vec::new();
        if self.priority != DEFAULT_PRIORITY {
            fields.push(format!("priority={}", self.priority));
        }
        fields.extend(self.matches.canonical_fields());
        if !fields.is_empty() {
            write!(f, "{} ", fields.join(","))?;
        }
        write!(f, "actions={}", self.instructions)
    }
}
