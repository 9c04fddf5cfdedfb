//! The common form in which the differential tests compare a `vsctl trace`
//! of the switch with an `ofproto/trace` of the OVS oracle.
//!
//! The two print their datapath actions differently: vsctl gives OpenFlow
//! port numbers, `push_vlan(tpid=0x8100,vid=1,pcp=0)`, `set_vlan(vid=..)` on a
//! tagged packet and one `set_field:0x..->FIELD` per changed field; OVS gives
//! datapath ports (the oracle maps them back), `push_vlan(vid=1,pcp=0)`,
//! `pop_vlan,push_vlan(..)` to change a tag and `set(ipv4(src=..,ttl=..))`
//! with one attribute per changed field, masked where OpenFlow wrote part
//! of a field (`tos=0xb8/0xfc`). Both are parsed into [`DpAct`]s, and the
//! comparison is on what they mean: [`deliveries`] replays the actions on
//! the traced packet's headers and yields, per output, the port, the VLAN
//! tag and every header field that differs from the packet as it came in -
//! a multiset (sorted), since the order of equal-meaning actions (several
//! sets before one output, the ports of a flood) is each switch's own.
//!
//! Anything that cannot be modelled (a controller action, a tunnel set, a
//! field not listed in [`HEADER_FIELDS`]) is an error, never silently
//! skipped.
use crate::ovs_oracle::split_top_level;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::frames::ETH_TYPE_VLAN;
use crate::ovs_oracle::{OfAction, Trace, OFPP_LOCAL};
use crate::vswitchd::Vswitchd;

/// The header fields the model tracks: the ovs-ofctl name, the attribute
/// of an OVS `set(...)` that writes it, and its width in bits.
pub const HEADER_FIELDS: [(&str, &[&str], u32); 8] = [
    ("dl_src", &["eth.src"], 48),
    ("dl_dst", &["eth.dst"], 48),
    ("nw_src", &["ipv4.src"], 32),
    ("nw_dst", &["ipv4.dst"], 32),
    ("nw_tos", &["ipv4.tos"], 8),
    ("nw_ttl", &["ipv4.ttl"], 8),
    ("tp_src", &["tcp.src", "udp.src", "sctp.src"], 16),
    ("tp_dst", &["tcp.dst", "udp.dst", "sctp.dst"], 16),
];

/// One datapath action in the common form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpAct {
    /// A copy of the packet as it is now leaves through this OpenFlow port.
    Output(u32),
    /// Push an 802.1Q tag (TPID 0x8100).
    PushVlan { vid: u16, pcp: u8 },
    /// Remove the outermost tag.
    PopVlan,
    /// Write `value` into the bits of `mask` of header field `field` (an
    /// ovs-ofctl name from [`HEADER_FIELDS`]).
    Set { field: &'static str, value: u128, mask: u128 },
}

/// What one output sends: the port, the 802.1Q tags (VID, PCP), outermost
/// first, and every tracked header field whose value differs from the input
/// packet's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delivery {
    pub port: u32,
    pub vlans: Vec<(u16, u8)>,
    pub changed: BTreeMap<&'static str, u128>,
}

impl Delivery {
    /// The outermost tag's (VID, PCP), None when untagged.
    pub fn vlan(&self) -> Option<(u16, u8)> {
        self.vlans.first().copied()
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port {}", self.port)?;
        if self.vlans.is_empty() {
            write!(f, " untagged")?;
        }
        for (vid, pcp) in &self.vlans {
            write!(f, " vlan {vid} pcp {pcp}")?;
        }
        for (field, value) in &self.changed {
            write!(f, " {field}={value:#x}")?;
        }
        Ok(())
    }
}

/// The headers of the traced packet as it came in: the VLAN tag (one at
/// most) and the tracked fields (0 when the flow does not give them, as
/// both switches assume).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub vlan: Option<(u16, u8)>,
    pub fields: BTreeMap<&'static str, u128>,
}

impl Headers {
    /// The headers a flow in ovs-ofctl syntax describes (`dl_vlan=`,
    /// `dl_vlan_pcp=`, `vlan_tci=`, `nw_ecn=` (the low bits of `nw_tos`,
    /// a whole TOS byte in the model) and the tracked fields; anything else
    /// is ignored). OVS's own `Flow:` line is in this syntax too.
    pub fn of_flow(flow: &str) -> Result<Headers, String> {
        let mut headers = Headers::default();
        let (mut vid, mut pcp, mut ecn) = (None, 0u8, 0u128);
        for item in flow.split(',') {
            let Some((key, value)) = item.trim().split_once('=') else { continue };
            match key {
                // The ECN bits of the TOS byte, which `nw_tos=` leaves out.
                "nw_ecn" | "ip_ecn" => ecn = parse_number(value)? & 0x03,
                "dl_vlan" => vid = Some(narrow(parse_number(value)?, item)?),
                "dl_vlan_pcp" => pcp = narrow(parse_number(value)?, item)?,
                // OVS's Flow: line shows the second tag, none in the traces here.
                "vlan_tci1" | "dl_vlan1" if parse_number(value)? != 0 => {
                    return Err(format!("`{item}`: a second VLAN tag is not modelled"));
                }
                "vlan_tci" => {
                    let tci: u16 = narrow(parse_number(value.split('/').next().unwrap_or(value))?, item)?;
                    if tci & 0x1000 != 0 {
                        vid = Some(tci & 0x0fff);
                        pcp = (tci >> 13) as u8;
                    }
                }
                _ => {
                    let key = canonical_name(key);
                    if let Some(&(name, _, _)) = HEADER_FIELDS.iter().find(|(name, _, _)| *name == key) {
                        headers.fields.insert(name, parse_field_value(name, value)?);
                    }
                }
            }
        }
        headers.vlan = vid.map(|vid| (vid, pcp));
        if ecn != 0 {
            *headers.fields.entry("nw_tos").or_insert(0) |= ecn;
        }
        Ok(headers)
    }

    fn field(&self, name: &str) -> u128 {
        self.fields.get(name).copied().unwrap_or(0)
    }
}

/// The ovs-ofctl name of a tracked field written with another of its
/// names (`eth_src`, `ip_dst`, `udp_dst`...).
fn canonical_name(key: &str) -> &str {
    match key {
        "eth_src" => "dl_src",
        "eth_dst" => "dl_dst",
        "ip_src" => "nw_src",
        "ip_dst" => "nw_dst",
        "tcp_src" | "udp_src" | "sctp_src" => "tp_src",
        "tcp_dst" | "udp_dst" | "sctp_dst" => "tp_dst",
        other => other,
    }
}

/// Replays `actions` on `input` and returns what every output sends,
/// sorted (a multiset).
pub fn deliveries(input: &Headers, actions: &[DpAct]) -> Vec<Delivery> {
    let mut vlans: Vec<(u16, u8)> = input.vlan.into_iter().collect();
    let mut fields = input.fields.clone();
    let mut out = Vec::new();
    for action in actions {
        match action {
            DpAct::Output(port) => {
                let changed = fields
                    .iter()
                    .filter(|(name, value)| input.field(name) != **value)
                    .map(|(name, value)| (*name, *value))
                    .collect();
                out.push(Delivery { port: *port, vlans: vlans.clone(), changed });
            }
            DpAct::PushVlan { vid, pcp } => vlans.insert(0, (*vid, *pcp)),
            DpAct::PopVlan => {
                if !vlans.is_empty() {
                    vlans.remove(0);
                }
            }
            DpAct::Set { field, value, mask } => {
                let before = fields.get(field).copied().unwrap_or(0);
                fields.insert(field, (before & !mask) | (value & mask));
            }
        }
    }
    out.sort();
    out
}

/// Parses the `Datapath actions:` of `vsctl trace` (OpenFlow ports).
pub fn parse_ours(datapath_actions: &str) -> Result<Vec<DpAct>, String> {
    let mut acts = Vec::new();
    for action in split_top_level(datapath_actions) {
        if action == "drop" || is_invalid_ttl_packet_in(&action) {
            continue;
        } else if let Ok(port) = action.parse::<u32>() {
            acts.push(DpAct::Output(port));
        } else if action == "pop_vlan" {
            acts.push(DpAct::PopVlan);
        } else if let Some(args) = call_args(&action, "push_vlan") {
            let args = named_args(args)?;
            let tpid = arg(&args, "tpid", &action)?;
            if tpid != u128::from(ETH_TYPE_VLAN) {
                return Err(format!("`{action}`: TPID {tpid:#x} is not modelled"));
            }
            acts.push(DpAct::PushVlan {
                vid: narrow(arg(&args, "vid", &action)?, &action)?,
                pcp: narrow(arg(&args, "pcp", &action)?, &action)?,
            });
        } else if let Some(args) = call_args(&action, "set_vlan") {
            // A new TCI on a tagged packet: what OVS writes as pop + push.
            let args = named_args(args)?;
            acts.push(DpAct::PopVlan);
            acts.push(DpAct::PushVlan {
                vid: narrow(arg(&args, "vid", &action)?, &action)?,
                pcp: narrow(arg(&args, "pcp", &action)?, &action)?,
            });
        } else if let Some(rest) = action.strip_prefix("set_field:") {
            let (value, field) = rest.split_once("->").ok_or_else(|| format!("`{action}`: no `->`"))?;
            let (name, _, bits) = HEADER_FIELDS
                .iter()
                .find(|(name, _, _)| *name == field)
                .ok_or_else(|| format!("`{action}`: field {field} is not modelled"))?;
            acts.push(DpAct::Set { field: name, value: parse_number(value)?, mask: all_ones(*bits) });
        } else {
            return Err(format!("`{action}` is not modelled"));
        }
    }
    Ok(acts)
}

/// The datapath actions of an OVS trace in the common form. Outputs to the
/// bridge's own port (LOCAL, which the switch does not have) are left out
/// when `skip_local` is set.
pub fn parse_ovs(trace: &Trace, skip_local: bool) -> Result<Vec<DpAct>, String> {
    let mut acts = Vec::new();
    for action in &trace.of_actions {
        let text = match action {
            OfAction::Output(port) if *port == OFPP_LOCAL && skip_local => continue,
            OfAction::Output(port) => {
                acts.push(DpAct::Output(*port));
                continue;
            }
            OfAction::Other(text) => text.as_str(),
        };
        if text == "drop" || is_unsent_packet_in(text) {
            continue;
        } else if text == "pop_vlan" {
            acts.push(DpAct::PopVlan);
        } else if let Some(args) = call_args(text, "push_vlan") {
            let args = named_args(args)?;
            if let Some(tpid) = args.get("tpid") {
                if parse_number(tpid)? != u128::from(ETH_TYPE_VLAN) {
                    return Err(format!("`{text}`: TPID {tpid} is not modelled"));
                }
            }
            acts.push(DpAct::PushVlan {
                vid: narrow(arg(&args, "vid", text)?, text)?,
                pcp: narrow(arg(&args, "pcp", text)?, text)?,
            });
        } else if let Some(inner) = call_args(text, "set") {
            acts.extend(parse_ovs_set(inner).map_err(|e| format!("`{text}`: {e}"))?);
        } else {
            return Err(format!("`{text}` is not modelled"));
        }
    }
    Ok(acts)
}

/// The packet-in of an expired TTL (`dec_ttl`, `dec_mpls_ttl`) in our trace: it reaches only the
/// controllers that asked for invalid_ttl, and the bridges compared have none (Open vSwitch shows
/// it as an unsent packet-in, `is_unsent_packet_in`).
fn is_invalid_ttl_packet_in(action: &str) -> bool {
    call_args(action, "controller")
        .is_some_and(|args| split_top_level(args).iter().any(|arg| arg == "reason=invalid_ttl"))
}

/// A packet-in that no controller asked for (`dont_send=1`: e.g. the
/// invalid-TTL packet-in of `dec_ttl` on a bridge without a controller that
/// wants it): OVS lists it, nothing leaves the switch.
fn is_unsent_packet_in(action: &str) -> bool {
    call_args(action, "userspace")
        .and_then(|args| {
            split_top_level(args).into_iter().find_map(|arg| call_args(&arg, "controller").map(str::to_owned))
        })
        .is_some_and(|controller| split_top_level(&controller).iter().any(|arg| arg == "dont_send=1"))
}

/// `ipv4(src=10.0.0.1,tos=0xb8/0xfc)` -> one `Set` per attribute.
fn parse_ovs_set(inner: &str) -> Result<Vec<DpAct>, String> {
    let open = inner.find('(').ok_or("no attribute list")?;
    let proto = &inner[..open];
    let attrs = inner[open + 1..].strip_suffix(')').ok_or("unbalanced parentheses")?;
    let mut acts = Vec::new();
    for attr in split_top_level(attrs) {
        let (key, value) = attr.split_once('=').ok_or_else(|| format!("`{attr}` has no value"))?;
        let ovs_name = format!("{proto}.{key}");
        let (name, _, bits) = HEADER_FIELDS
            .iter()
            .find(|(_, ovs, _)| ovs.contains(&ovs_name.as_str()))
            .ok_or_else(|| format!("{ovs_name} is not modelled"))?;
        let (value, mask) = match value.split_once('/') {
            Some((value, mask)) => (parse_field_value(name, value)?, parse_field_value(name, mask)?),
            None => (parse_field_value(name, value)?, all_ones(*bits)),
        };
        acts.push(DpAct::Set { field: name, value, mask });
    }
    Ok(acts)
}

/// `vsctl --json trace`: the steps (tables visited, notes), the megaflow and
/// the datapath actions.
#[derive(Debug, Clone, Deserialize)]
pub struct OurTrace {
    pub steps: Vec<String>,
    pub datapath_actions: String,
    pub megaflow: String,
}

impl OurTrace {
    /// Traces `flow` through bridge `bridge` of `switch`.
    pub fn run(switch: &Vswitchd, bridge: &str, flow: &str) -> OurTrace {
        switch.json(&["trace", bridge, flow])
    }

    /// The tables looked up, in order (a miss included).
    pub fn tables(&self) -> Vec<u8> {
        self.steps
            .iter()
            .filter_map(|step| step.trim_start().strip_prefix("table ")?.split(':').next()?.parse().ok())
            .collect()
    }

    /// The rules the packet's `learn` actions would add, as printed.
    pub fn learned(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|step| step.trim_start().strip_prefix("learn (not applied by trace): "))
            .map(str::to_owned)
            .collect()
    }

    /// The whole trace as vsctl prints it, for failure messages.
    pub fn text(&self) -> String {
        let mut text: String = self.steps.iter().map(|step| format!("{step}\n")).collect();
        text.push_str(&format!("\nMegaflow: {}\nDatapath actions: {}\n", self.megaflow, self.datapath_actions));
        text
    }
}

/// `name(args)` -> `args`.
fn call_args<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

/// `vid=1,pcp=0` -> {vid: 1, pcp: 0}.
fn named_args(args: &str) -> Result<BTreeMap<String, String>, String> {
    split_top_level(args)
        .into_iter()
        .map(|item| {
            let (key, value) = item.split_once('=').ok_or_else(|| format!("`{item}` has no value"))?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

fn arg(args: &BTreeMap<String, String>, key: &str, action: &str) -> Result<u128, String> {
    parse_number(args.get(key).ok_or_else(|| format!("`{action}` has no {key}"))?)
}

/// `value` as the narrower type of its field. A value that does not fit is an error: cut to its
/// low bits it could make a wrong trace read like the expected one (vid 0x1005 as vid 5).
fn narrow<T: TryFrom<u128>>(value: u128, context: &str) -> Result<T, String> {
    T::try_from(value).map_err(|_| format!("`{context}`: {value:#x} does not fit its field"))
}

/// Decimal or `0x` hex.
fn parse_number(text: &str) -> Result<u128, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("`{text}` is not a number: {e}"))
}

/// A value of a tracked field: a MAC for dl_*, an IPv4 address for nw_src
/// and nw_dst (a prefix length is not a value), a number otherwise.
fn parse_field_value(field: &str, text: &str) -> Result<u128, String> {
    let join = |parts: Vec<&str>, radix: u32| -> Result<u128, String> {
        parts.iter().try_fold(0u128, |acc, part| {
            let byte = u8::from_str_radix(part, radix).map_err(|e| format!("`{text}` in {field}: {e}"))?;
            Ok((acc << 8) | u128::from(byte))
        })
    };
    match field {
        "dl_src" | "dl_dst" if text.contains(':') => join(text.split(':').collect(), 16),
        "nw_src" | "nw_dst" if text.contains('.') => join(text.split('.').collect(), 10),
        _ => parse_number(text),
    }
}

fn all_ones(bits: u32) -> u128 {
    (1u128 << bits) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(field: &'static str, value: u128, mask: u128) -> DpAct {
        DpAct::Set { field, value, mask }
    }

    #[test]
    fn our_actions_parse() {
        let acts =
            parse_ours("push_vlan(tpid=0x8100,vid=5,pcp=0),set_field:0xa090909->nw_src,2,set_vlan(vid=7,pcp=1),3")
                .unwrap();
        assert_eq!(
            acts,
            [
                DpAct::PushVlan { vid: 5, pcp: 0 },
                set("nw_src", 0x0a09_0909, 0xffff_ffff),
                DpAct::Output(2),
                DpAct::PopVlan,
                DpAct::PushVlan { vid: 7, pcp: 1 },
                DpAct::Output(3),
            ]
        );
        assert_eq!(parse_ours("drop").unwrap(), []);
        assert!(parse_ours("controller(reason=action,max_len=65535)").is_err());
        assert_eq!(
            parse_ours("2,controller(reason=invalid_ttl,max_len=65535,table=2,cookie=0x0)").unwrap(),
            [DpAct::Output(2)]
        );
        assert!(parse_ours("set_field:0x1->tun_id").is_err());
        assert!(parse_ours("dp7").is_err());
    }

    #[test]
    fn values_too_wide_for_their_field_are_refused_not_cut() {
        // 0x10005 cut to 16 bits would read as VLAN 5, 0x101 cut to 8 bits as priority 1.
        assert!(parse_ours("push_vlan(tpid=0x8100,vid=0x10005,pcp=0),2").is_err());
        assert!(parse_ours("set_vlan(vid=5,pcp=0x101),2").is_err());
        assert!(Headers::of_flow("in_port=1,dl_vlan=0x10005").is_err());
        assert!(Headers::of_flow("in_port=1,dl_vlan_pcp=0x101").is_err());
        assert!(Headers::of_flow("in_port=1,vlan_tci=0x11005").is_err());
        assert_eq!(Headers::of_flow("in_port=1,dl_vlan=5,dl_vlan_pcp=1").unwrap().vlan, Some((5, 1)));
    }

    #[test]
    fn ovs_sets_parse_with_masks() {
        assert_eq!(
            parse_ovs_set("ipv4(src=10.9.9.9,tos=0xb8/0xfc,ttl=63)").unwrap(),
            [set("nw_src", 0x0a09_0909, 0xffff_ffff), set("nw_tos", 0xb8, 0xfc), set("nw_ttl", 63, 0xff)]
        );
        assert_eq!(
            parse_ovs_set("eth(dst=02:00:00:00:00:99)").unwrap(),
            [set("dl_dst", 0x0200_0000_0099, 0xffff_ffff_ffff)]
        );
        assert_eq!(parse_ovs_set("tcp(dst=8080)").unwrap(), [set("tp_dst", 8080, 0xffff)]);
        assert!(parse_ovs_set("tunnel(tun_id=0x1)").is_err());
    }

    #[test]
    fn only_unsent_packet_ins_are_nothing() {
        let unsent = "userspace(pid=0,controller(reason=2,dont_send=1,continuation=0,recirc_id=1,rule_cookie=0,\
                      controller_id=0,max_len=65535))";
        assert!(is_unsent_packet_in(unsent));
        assert!(!is_unsent_packet_in(&unsent.replace("dont_send=1", "dont_send=0")));
        assert!(!is_unsent_packet_in("userspace(pid=0,slow_path(match))"));
    }

    #[test]
    fn deliveries_are_the_packets_that_leave() {
        let input = Headers::of_flow("in_port=1,dl_vlan=3,tcp,nw_tos=0,nw_ecn=1,nw_ttl=64,tp_dst=80").unwrap();
        assert_eq!(input.field("nw_tos"), 0x01);
        assert_eq!(input.vlan, Some((3, 0)));
        // The same effect written both ways: order of sets, a set to the
        // value the packet already had, pop + push versus a new tag.
        let ours = [
            set("nw_ttl", 63, 0xff),
            set("nw_tos", 0xb9, 0xff),
            set("tp_dst", 80, 0xffff),
            DpAct::Output(2),
            DpAct::PopVlan,
            DpAct::Output(3),
        ];
        let theirs =
            [set("nw_tos", 0xb8, 0xfc), set("nw_ttl", 63, 0xff), DpAct::Output(2), DpAct::PopVlan, DpAct::Output(3)];
        let expected_changes: BTreeMap<&str, u128> = [("nw_tos", 0xb9), ("nw_ttl", 63)].into_iter().collect();
        let got = deliveries(&input, &ours);
        assert_eq!(got, deliveries(&input, &theirs));
        assert_eq!(
            got,
            [
                Delivery { port: 2, vlans: vec![(3, 0)], changed: expected_changes.clone() },
                Delivery { port: 3, vlans: vec![], changed: expected_changes },
            ]
        );
        // Outputs are a multiset: order does not matter, repetition does.
        let one = deliveries(&input, &[DpAct::Output(3), DpAct::Output(2)]);
        assert_eq!(one, deliveries(&input, &[DpAct::Output(2), DpAct::Output(3)]));
        assert_ne!(one, deliveries(&input, &[DpAct::Output(2), DpAct::Output(3), DpAct::Output(3)]));
        // A push on a tagged packet stacks a second tag; set_vlan replaces.
        let pushed = deliveries(&input, &[DpAct::PushVlan { vid: 9, pcp: 0 }, DpAct::Output(1)]);
        assert_eq!(pushed[0].vlans, [(9, 0), (3, 0)]);
        let replaced = deliveries(&input, &parse_ours("set_vlan(vid=9,pcp=0),1").unwrap());
        assert_eq!(replaced[0].vlans, [(9, 0)]);
    }

    #[test]
    fn flows_give_the_input_headers() {
        let headers =
            Headers::of_flow("in_port=2,vlan_tci=0x3005,dl_src=fa:16:3e:00:00:02,nw_src=10.1.2.3,udp,udp_dst=53")
                .unwrap();
        assert_eq!(headers.vlan, Some((5, 1)));
        assert_eq!(headers.field("dl_src"), 0xfa16_3e00_0002);
        assert_eq!(headers.field("nw_src"), 0x0a01_0203);
        assert_eq!(headers.field("tp_dst"), 53);
        assert_eq!(Headers::of_flow("in_port=1,vlan_tci=0x0000").unwrap().vlan, None);
    }
}
