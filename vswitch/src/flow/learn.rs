//! The `learn(...)` action: the rule it adds (table, priority, timeouts, cookie) and its specs
//! as ovs-ofctl writes them: `FIELD[a..b]` (match the field on the packet's own value),
//! `FIELD[a..b]=SRC[c..d]` or `FIELD=value` (match on another field's bits or a constant),
//! `load:SRC[]->DST[]` / `load:value->DST[]` (the learned rule's actions) and `output:FIELD[]`.
//! Checked as Open vSwitch does: sources against the rule's match, destinations against the
//! learned rule's match as its constant specs build it.

use super::actions::{parse_decimal, parse_table, Subfield};
use super::key::Prereq;
use super::match_::{requirement, Match};
use super::syntax::{Delimiter, Items};
use super::value::{parse_integer, parse_masked};
use super::DEFAULT_PRIORITY;

/// One part of what a learn action adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearnSpec {
    /// The learned rule matches `dst` on the value `src` has in the packet (`dst == src` for
    /// the plain `FIELD[a..b]` form).
    MatchField { dst: Subfield, src: Subfield },
    /// The learned rule matches `dst` on a constant.
    MatchValue { dst: Subfield, value: u128 },
    /// The learned rule loads `dst` from the value `src` has in the packet.
    LoadField { src: Subfield, dst: Subfield },
    /// The learned rule loads a constant into `dst`.
    LoadValue { value: u128, dst: Subfield },
    /// The learned rule outputs to the port number `src` has in the packet.
    Output { src: Subfield },
}

/// `learn(...)`: the rule to add or refresh. Timeouts of 0 mean none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Learn {
    pub table: u8,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub fin_idle_timeout: u16,
    pub fin_hard_timeout: u16,
    pub cookie: u64,
    pub specs: Vec<LearnSpec>,
}

impl Default for Learn {
    /// ovs-ofctl's defaults: table 1, the default priority, no timeouts, cookie 0.
    fn default() -> Self {
        Learn {
            table: 1,
            priority: DEFAULT_PRIORITY,
            idle_timeout: 0,
            hard_timeout: 0,
            fin_idle_timeout: 0,
            fin_hard_timeout: 0,
            cookie: 0,
            specs: Vec::new(),
        }
    }
}

/// A value for all of `dst` (in the field's syntax) or for some of its bits (an integer).
fn parse_immediate(dst: &Subfield, name: &str, text: &str) -> Result<u128, String> {
    if dst.is_whole() {
        return parse_masked(dst.field, name, text, false).map(|(value, _)| value);
    }
    let value = parse_integer(text).ok_or("not a number (decimal or 0x hex)")?;
    check_fits(value, dst)?;
    Ok(value)
}

fn check_fits(value: u128, dst: &Subfield) -> Result<(), String> {
    if dst.bits < 128 && value >> dst.bits != 0 {
        return Err(format!("value does not fit in the {} bits of {dst}", dst.bits));
    }
    Ok(())
}

fn check_same_width(dst: &Subfield, src: &Subfield) -> Result<(), String> {
    if dst.bits != src.bits {
        return Err(format!("{dst} is {} bits wide but {src} is {} bits wide", dst.bits, src.bits));
    }
    Ok(())
}

impl Learn {
    /// Parses what is inside `learn(...)`.
    pub fn parse(text: &str) -> Result<Learn, String> {
        let mut learn = Learn::default();
        for item in Items::new(text) {
            let item = item.map_err(|e| e.to_string())?;
            let error = |problem: String| format!("{}: {problem}", item.text);
            let number = |what: &str| parse_decimal::<u16>(item.value).ok_or_else(|| error(format!("not {what}")));
            match item.key {
                "table" => learn.table = parse_table(item.value).map_err(error)?,
                "priority" => learn.priority = number("a priority (0..65535)")?,
                "idle_timeout" => learn.idle_timeout = number("a timeout in seconds (0..65535)")?,
                "hard_timeout" => learn.hard_timeout = number("a timeout in seconds (0..65535)")?,
                "fin_idle_timeout" => learn.fin_idle_timeout = number("a timeout in seconds (0..65535)")?,
                "fin_hard_timeout" => learn.fin_hard_timeout = number("a timeout in seconds (0..65535)")?,
                "cookie" => {
                    learn.cookie = parse_integer(item.value)
                        .and_then(|cookie| u64::try_from(cookie).ok())
                        .ok_or_else(|| error("not a cookie (64-bit decimal or 0x hex)".to_string()))?;
                }
                "send_flow_rem" | "delete_learned" | "limit" | "result_dst" => {
                    return Err(error("not supported yet".to_string()));
                }
                "load" => {
                    let (source, dst) = item
                        .value
                        .split_once("->")
                        .ok_or_else(|| error("expected load:SOURCE->DESTINATION".to_string()))?;
                    let dst = Subfield::parse(dst).map_err(error)?;
                    learn.specs.push(match parse_integer(source) {
                        Some(value) => {
                            check_fits(value, &dst).map_err(error)?;
                            LearnSpec::LoadValue { value, dst }
                        }
                        None => {
                            let src = Subfield::parse(source).map_err(error)?;
                            check_same_width(&src, &dst).map_err(error)?;
                            LearnSpec::LoadField { src, dst }
                        }
                    });
                }
                "output" => {
                    let src = Subfield::parse(item.value).map_err(error)?;
                    learn.specs.push(LearnSpec::Output { src });
                }
                key => {
                    let dst = Subfield::parse(key).map_err(|problem| error(format!("unknown keyword ({problem})")))?;
                    let spec = match (item.delimiter, item.value) {
                        (Delimiter::None, _) | (_, "") => LearnSpec::MatchField { dst, src: dst },
                        (Delimiter::Paren, _) => return Err(error("expected FIELD[...]=SOURCE".to_string())),
                        (_, value) => match Subfield::parse(value) {
                            Ok(src) => {
                                check_same_width(&dst, &src).map_err(error)?;
                                LearnSpec::MatchField { dst, src }
                            }
                            Err(_) => {
                                LearnSpec::MatchValue { dst, value: parse_immediate(&dst, key, value).map_err(error)? }
                            }
                        },
                    };
                    learn.specs.push(spec);
                }
            }
        }
        Ok(learn)
    }

    /// Checks the specs as Open vSwitch does: each source field must have its prerequisites in
    /// the match of the rule that learns (`rule_flow`), each destination in the learned rule's
    /// match as built by the constant match specs before it.
    pub(crate) fn check(&self, rule_flow: &Match) -> Result<(), String> {
        if self.table == u8::MAX {
            return Err("learn into table 255, which is not a table (0..254)".to_string());
        }
        let mut learned = Match::catch_all();
        for spec in &self.specs {
            let (src, dst) = match spec {
                LearnSpec::MatchField { dst, src } | LearnSpec::LoadField { src, dst } => (Some(src), Some(dst)),
                LearnSpec::MatchValue { dst, .. } | LearnSpec::LoadValue { dst, .. } => (None, Some(dst)),
                LearnSpec::Output { src } => (Some(src), None),
            };
            if let Some(src) = src {
                src.check_bounds()?;
                let prereq = src.field.def().prereq;
                if !rule_flow.satisfies(prereq) {
                    let (what, example) = requirement(prereq);
                    return Err(format!(
                        "{src}: {} requires {what}, which the match does not guarantee (add e.g. '{example}' to the match)",
                        src.field
                    ));
                }
            }
            if let Some(dst) = dst {
                dst.check_bounds()?;
                if matches!(spec, LearnSpec::MatchField { .. } | LearnSpec::MatchValue { .. })
                    && src.is_some_and(|s| s.bits != dst.bits)
                {
                    return Err(format!("{dst} and its source differ in width"));
                }
                check_learned_prerequisite(&learned, dst)?;
            }
            match spec {
                LearnSpec::MatchValue { dst, value } => {
                    check_fits(*value, dst)?;
                    let (old_value, old_mask) = learned.value_and_mask(dst.field);
                    let mask = dst.field_mask();
                    let shifted = value.checked_shl(dst.offset).unwrap_or(0);
                    learned.set_masked(dst.field, (old_value & !mask) | shifted, old_mask | mask);
                }
                LearnSpec::LoadValue { value, dst } => {
                    check_fits(*value, dst)?;
                    check_writable(dst)?;
                }
                LearnSpec::LoadField { src, dst } => {
                    check_same_width(src, dst)?;
                    check_writable(dst)?;
                }
                LearnSpec::MatchField { .. } | LearnSpec::Output { .. } => {}
            }
        }
        Ok(())
    }
}

fn check_writable(dst: &Subfield) -> Result<(), String> {
    if dst.field.def().writable {
        Ok(())
    } else {
        Err(format!("{dst}: {} is read-only", dst.field))
    }
}

fn check_learned_prerequisite(learned: &Match, dst: &Subfield) -> Result<(), String> {
    let prereq = dst.field.def().prereq;
    if prereq == Prereq::None || learned.satisfies(prereq) {
        return Ok(());
    }
    let (what, _) = requirement(prereq);
    Err(format!(
        "{dst}: {} requires {what} in the learned rule; match it first with constants (e.g. \
         NXM_OF_ETH_TYPE[]=0x800,NXM_OF_IP_PROTO[]=6)",
        dst.field
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::Field;
    use crate::flow::match_::numbers::*;

    const NEUTRON: &str = "table=20,priority=1,hard_timeout=300,NXM_OF_VLAN_TCI[0..11],\
        NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],\
        output:NXM_OF_IN_PORT[]";

    #[test]
    fn parses_the_neutron_learn() {
        let learn = Learn::parse(NEUTRON).unwrap();
        let tci_vid = Subfield { field: Field::VlanTci, offset: 0, bits: 12 };
        assert_eq!(
            learn,
            Learn {
                table: 20,
                priority: 1,
                hard_timeout: 300,
                specs: vec![
                    LearnSpec::MatchField { dst: tci_vid, src: tci_vid },
                    LearnSpec::MatchField { dst: Subfield::whole(Field::DlDst), src: Subfield::whole(Field::DlSrc) },
                    LearnSpec::LoadValue { value: 0, dst: Subfield::whole(Field::VlanTci) },
                    LearnSpec::LoadField { src: Subfield::whole(Field::TunId), dst: Subfield::whole(Field::TunId) },
                    LearnSpec::Output { src: Subfield::whole(Field::InPort) },
                ],
                ..Learn::default()
            }
        );
        assert_eq!(learn.check(&Match::catch_all()), Ok(()));
    }

    #[test]
    fn defaults_and_header_fields() {
        assert_eq!(Learn::parse(""), Ok(Learn::default()));
        let learn =
            Learn::parse("table=3,idle_timeout=10,fin_idle_timeout=1,fin_hard_timeout=2,cookie=0x10,priority=7")
                .unwrap();
        assert_eq!((learn.table, learn.idle_timeout, learn.fin_idle_timeout, learn.fin_hard_timeout), (3, 10, 1, 2));
        assert_eq!((learn.cookie, learn.priority), (0x10, 7));
    }

    #[test]
    fn constants_in_every_form() {
        let learn =
            Learn::parse("dl_type=0x800,NXM_OF_IP_PROTO[]=6,reg0[0..3]=5,dl_dst=00:00:00:00:00:01,in_port=LOCAL")
                .unwrap();
        assert_eq!(
            learn.specs,
            vec![
                LearnSpec::MatchValue { dst: Subfield::whole(Field::DlType), value: 0x800 },
                LearnSpec::MatchValue { dst: Subfield::whole(Field::NwProto), value: 6 },
                LearnSpec::MatchValue { dst: Subfield { field: Field::Reg(0), offset: 0, bits: 4 }, value: 5 },
                LearnSpec::MatchValue { dst: Subfield::whole(Field::DlDst), value: 1 },
                LearnSpec::MatchValue { dst: Subfield::whole(Field::InPort), value: 0xfffe },
            ]
        );
    }

    #[test]
    fn errors_name_the_spec() {
        for (text, expected) in [
            ("table=255", "table=255: not a table number (0..254)"),
            ("priority=x", "priority=x: not a priority"),
            ("hard_timeout=70000", "hard_timeout=70000: not a timeout"),
            ("cookie=0x10000000000000000", "cookie=0x10000000000000000: not a cookie"),
            ("limit=10", "limit=10: not supported yet"),
            ("frobnicate=1", "frobnicate=1: unknown keyword (unknown field \"frobnicate\")"),
            ("load:0", "load:0: expected load:SOURCE->DESTINATION"),
            (
                "load:0x1000->NXM_OF_VLAN_TCI[0..11]",
                "load:0x1000->NXM_OF_VLAN_TCI[0..11]: value does not fit in the 12 bits",
            ),
            (
                "load:NXM_NX_REG0[]->NXM_OF_VLAN_TCI[]",
                "load:NXM_NX_REG0[]->NXM_OF_VLAN_TCI[]: NXM_NX_REG0[] is 32 bits wide",
            ),
            ("NXM_OF_ETH_DST[]=NXM_NX_REG0[]", "NXM_OF_ETH_DST[]=NXM_NX_REG0[]: NXM_OF_ETH_DST[] is 48 bits wide"),
            ("reg0[0..3]=16", "reg0[0..3]=16: value does not fit in the 4 bits"),
            ("reg0[0..3]=x", "reg0[0..3]=x: not a number"),
            ("dl_dst=1.2.3.4", "dl_dst=1.2.3.4: invalid Ethernet address"),
            ("output:bogus[]", "output:bogus[]: unknown field"),
            ("reg0(1)", "reg0(1): expected FIELD[...]=SOURCE"),
            ("table=1,learn(", "learn(: missing ')'"),
        ] {
            let error = Learn::parse(text).unwrap_err();
            assert!(error.starts_with(expected), "{text}: {error}");
        }
    }

    #[test]
    fn checks_follow_open_vswitch() {
        let learn = |text: &str| Learn::parse(text).unwrap();
        let any = Match::catch_all();
        assert!(learn("NXM_OF_IP_SRC[]").check(&any).unwrap_err().starts_with("NXM_OF_IP_SRC[]: nw_src requires ip"));
        let mut ip = Match::catch_all();
        ip.set_exact(Field::DlType, ETH_TYPE_IP);
        assert!(learn("NXM_OF_IP_SRC[]").check(&ip).unwrap_err().contains("in the learned rule"));
        assert_eq!(learn("dl_type=0x800,NXM_OF_IP_SRC[]").check(&ip), Ok(()));
        assert_eq!(learn("dl_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[]").check(&ip), Ok(()));
        assert!(learn("dl_type=0x800,load:NXM_OF_IP_SRC[]->NXM_NX_REG0[]").check(&any).is_err());
        assert!(learn("load:1->NXM_OF_ETH_TYPE[]").check(&any).unwrap_err().contains("read-only"));
        assert!(learn("load:NXM_NX_REG1[0..15]->NXM_OF_ETH_TYPE[]").check(&any).unwrap_err().contains("read-only"));
        assert!(learn("output:NXM_OF_IN_PORT[]").check(&any).is_ok());
        let bad_table = Learn { table: 255, ..Learn::default() };
        assert!(bad_table.check(&any).is_err());
        let too_wide = Learn {
            specs: vec![LearnSpec::LoadValue { value: 2, dst: Subfield { field: Field::Reg(0), offset: 0, bits: 1 } }],
            ..Learn::default()
        };
        assert!(too_wide.check(&any).is_err());
        let widths = Learn {
            specs: vec![LearnSpec::MatchField {
                dst: Subfield::whole(Field::Reg(0)),
                src: Subfield::whole(Field::TunId),
            }],
            ..Learn::default()
        };
        assert!(widths.check(&any).is_err());
    }
}
