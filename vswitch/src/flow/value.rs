//! Field values in ovs-ofctl text, parsed and printed by the kind of field: port names, Ethernet
//! and IP addresses (with masks or prefix lengths), TCP flags (`syn|ack`, `+syn-ack`, numbers),
//! fragment kinds (`no`, `first`, `later`, ...) and integers (decimal or `0x` hex). A field value
//! is an integer of the field's bytes, big-endian, in a `u128` (the widest field has 16 bytes).
//! Parsers never panic; their errors are the problem only, the caller adds the token.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::key::Field;
use super::match_::numbers::{FRAG_ANY, FRAG_LATER, TCP_FLAGS_MASK};
use super::port::OfPort;

/// How a field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Port,
    Ethernet,
    Ipv4,
    Ipv6,
    Decimal,
    Hex,
    /// Named flag bits: tcp_flags, tun_flags.
    Flags(&'static FlagNames),
    Frag,
}

/// The syntax of a field's values.
pub(crate) fn syntax(field: Field) -> Syntax {
    match field {
        Field::InPort => Syntax::Port,
        Field::DlSrc | Field::DlDst | Field::ArpSha | Field::ArpTha | Field::NdSll | Field::NdTll => Syntax::Ethernet,
        Field::NwSrc | Field::NwDst | Field::ArpSpa | Field::ArpTpa | Field::TunSrc | Field::TunDst => Syntax::Ipv4,
        Field::Ipv6Src | Field::Ipv6Dst | Field::NdTarget | Field::TunIpv6Src | Field::TunIpv6Dst => Syntax::Ipv6,
        Field::Metadata
        | Field::Reg(_)
        | Field::TunId
        | Field::TunMetadata(_)
        | Field::TunGbpFlags
        | Field::DlType
        | Field::VlanTci
        | Field::VlanTci2
        | Field::Ipv6Label
        | Field::Ipv6Exthdr => Syntax::Hex,
        Field::TcpFlags => Syntax::Flags(&TCP_FLAGS),
        Field::TunFlags => Syntax::Flags(&TUN_FLAGS),
        Field::NwFrag => Syntax::Frag,
        Field::NwProto
        | Field::NwTos
        | Field::NwTtl
        | Field::TpSrc
        | Field::TpDst
        | Field::IcmpType
        | Field::IcmpCode
        | Field::TunGbpId
        | Field::Icmpv6Type
        | Field::Icmpv6Code
        | Field::ArpOp
        | Field::MplsLabel
        | Field::MplsTc
        | Field::MplsBos
        | Field::MplsTtl => Syntax::Decimal,
    }
}

/// Parses `value[/mask]` for `field` (`name` is the name as written, for messages). Without a
/// mask the mask is all ones in the field's bits. Checks that value and mask fit in the field.
pub(crate) fn parse_masked(field: Field, name: &str, text: &str, mask_allowed: bool) -> Result<(u128, u128), String> {
    if !field.is_mapped() {
        return Err(format!("{name} is not mapped to a Geneve option (ovs-ofctl add-tlv-map)"));
    }
    let all = field.bits_mask();
    let (value, mask) = match syntax(field) {
        Syntax::Port => (parse_port_value(text)?, all),
        Syntax::Ethernet => parse_ethernet_masked(text)?,
        Syntax::Ipv4 => parse_ipv4_masked(text)?,
        Syntax::Ipv6 => parse_ipv6_masked(text)?,
        Syntax::Decimal | Syntax::Hex => parse_integer_masked(text, all)?,
        Syntax::Flags(names) => names.parse(text)?,
        Syntax::Frag => parse_frag(text)?,
    };
    if value & !all != 0 {
        return Err(format!("value does not fit in the {}-bit field {name}", field.def().bits));
    }
    if mask & !all != 0 {
        return Err(format!("mask does not fit in the {}-bit field {name}", field.def().bits));
    }
    if mask != all && !mask_allowed {
        return Err(format!("{name} does not take a mask"));
    }
    Ok((value, mask))
}

/// Prints a field value with its mask (left out when all ones), in the field's syntax.
pub(crate) fn format_masked(field: Field, value: u128, mask: u128) -> String {
    let exact = mask == field.bits_mask();
    match syntax(field) {
        Syntax::Port if exact => OfPort(u32::try_from(value).unwrap_or(u32::MAX)).to_string(),
        Syntax::Ethernet => {
            let mut text = format_ethernet(value);
            if !exact {
                text.push('/');
                text.push_str(&format_ethernet(mask));
            }
            text
        }
        Syntax::Ipv4 => format_ipv4_masked(ipv4_bits(value), ipv4_bits(mask)),
        Syntax::Ipv6 => format_ipv6_masked(value, mask),
        Syntax::Decimal if exact => value.to_string(),
        Syntax::Decimal => format!("{value}/{}", c_hex(mask)),
        Syntax::Flags(names) => names.format(value, mask),
        Syntax::Frag => format_frag(value, mask),
        Syntax::Port | Syntax::Hex => {
            if exact {
                c_hex(value)
            } else {
                format!("{}/{}", c_hex(value), c_hex(mask))
            }
        }
    }
}

/// Hex as C's `%#x` prints it: `0x` and lowercase digits, but plain `0` for zero.
pub(crate) fn c_hex(value: u128) -> String {
    if value == 0 {
        "0".to_string()
    } else {
        format!("{value:#x}")
    }
}

/// An unsigned integer in decimal or `0x` hex, up to 128 bits; no sign, no spaces.
pub(crate) fn parse_integer(text: &str) -> Option<u128> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u128::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

/// `value[/mask]` as integers; the mask may also be `-1` (all ones, as ovs-ofctl's strtoull).
fn parse_integer_masked(text: &str, all: u128) -> Result<(u128, u128), String> {
    let (value_text, mask_text) = split_mask(text);
    let value = parse_integer(value_text).ok_or("not a number (decimal or 0x hex)")?;
    let mask = match mask_text {
        None => all,
        Some("-1") => all,
        Some(mask_text) => parse_integer(mask_text).ok_or("invalid mask (decimal or 0x hex)")?,
    };
    Ok((value, mask))
}

fn split_mask(text: &str) -> (&str, Option<&str>) {
    match text.split_once('/') {
        Some((value, mask)) => (value, Some(mask)),
        None => (text, None),
    }
}

/// `xx:xx:xx:xx:xx:xx[/xx:xx:xx:xx:xx:xx]`.
fn parse_ethernet_masked(text: &str) -> Result<(u128, u128), String> {
    let (value_text, mask_text) = split_mask(text);
    let value = parse_ethernet(value_text).ok_or("invalid Ethernet address (expected xx:xx:xx:xx:xx:xx)")?;
    let mask = match mask_text {
        None => ETHERNET_ALL,
        Some(mask_text) => parse_ethernet(mask_text).ok_or("invalid Ethernet mask (expected xx:xx:xx:xx:xx:xx)")?,
    };
    Ok((value, mask))
}

const ETHERNET_ALL: u128 = (1 << 48) - 1;

/// A port where a value of in_port goes: a switch port number, `LOCAL` or `CONTROLLER`.
fn parse_port_value(text: &str) -> Result<u128, String> {
    let port = OfPort::parse(text)?;
    if port.is_switch_port() || port == OfPort::LOCAL || port == OfPort::CONTROLLER {
        Ok(u128::from(port.0))
    } else {
        Err(format!("{port} is not a port a packet can come from (a port number, LOCAL or CONTROLLER)"))
    }
}

/// `xx:xx:xx:xx:xx:xx`, one or two hex digits per byte.
pub(crate) fn parse_ethernet(text: &str) -> Option<u128> {
    let mut value = 0u128;
    let mut count = 0;
    for part in text.split(':') {
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        value = (value << 8) | u128::from(u8::from_str_radix(part, 16).ok()?);
        count += 1;
    }
    (count == 6).then_some(value)
}

pub(crate) fn format_ethernet(value: u128) -> String {
    let bytes = value.to_be_bytes();
    let mac = &bytes[10..];
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
}

pub(crate) fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    text.parse().ok()
}

/// `a.b.c.d`, `a.b.c.d/len` or `a.b.c.d/m.m.m.m`.
fn parse_ipv4_masked(text: &str) -> Result<(u128, u128), String> {
    let (address, mask) = split_mask(text);
    let address = parse_ipv4(address).ok_or("invalid IPv4 address")?;
    let mask = match mask {
        None => u32::MAX,
        Some(mask) => parse_prefix_or_mask(mask, 32, |m| parse_ipv4(m).map(|a| u128::from(u32::from(a))))
            .and_then(|m| u32::try_from(m).ok())
            .ok_or("invalid IPv4 mask or prefix length (0..32)")?,
    };
    Ok((u128::from(u32::from(address)), u128::from(mask)))
}

/// `addr`, `addr/len` or `addr/mask` for IPv6.
fn parse_ipv6_masked(text: &str) -> Result<(u128, u128), String> {
    let (address, mask) = split_mask(text);
    let address: Ipv6Addr = address.parse().map_err(|_| "invalid IPv6 address")?;
    let mask = match mask {
        None => u128::MAX,
        Some(mask) => parse_prefix_or_mask(mask, 128, |m| m.parse::<Ipv6Addr>().ok().map(u128::from))
            .ok_or("invalid IPv6 mask or prefix length (0..128)")?,
    };
    Ok((u128::from(address), mask))
}

/// A decimal prefix length up to `width` (as a mask of `width` bits), or an address-form mask.
fn parse_prefix_or_mask(text: &str, width: u32, parse_mask: impl Fn(&str) -> Option<u128>) -> Option<u128> {
    if !text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit()) {
        let length: u32 = text.parse().ok()?;
        if length > width {
            return None;
        }
        let all = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
        return Some(if length == 0 { 0 } else { all & !((1u128 << (width - length)) - 1) });
    }
    parse_mask(text)
}

/// How ovs-ofctl prints an IPv4 address with a mask: the prefix length if the mask is one.
/// An IPv4 field's value or mask, kept in the model's u128, as its 32 bits.
pub(crate) fn ipv4_bits(value: u128) -> u32 {
    (value & 0xffff_ffff) as u32
}

pub(crate) fn format_ipv4_masked(value: u32, mask: u32) -> String {
    let address = Ipv4Addr::from(value);
    if mask == u32::MAX {
        address.to_string()
    } else if mask.leading_ones() + mask.trailing_zeros() == 32 {
        format!("{address}/{}", mask.leading_ones())
    } else {
        format!("{address}/{}", Ipv4Addr::from(mask))
    }
}

pub(crate) fn format_ipv6_masked(value: u128, mask: u128) -> String {
    let address = Ipv6Addr::from(value);
    if mask == u128::MAX {
        address.to_string()
    } else if mask.leading_ones() + mask.trailing_zeros() == 128 {
        format!("{address}/{}", mask.leading_ones())
    } else {
        format!("{address}/{}", Ipv6Addr::from(mask))
    }
}

/// TCP flag names by bit, lowest first, as Open vSwitch names them.
/// The names of a flags field's bits (bit i named `names[i]`) and all its bits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FlagNames {
    /// What the flags are, for messages ("TCP flag").
    what: &'static str,
    names: &'static [&'static str],
    all: u128,
    /// Printed `+name-name` even when every bit is matched (tun_flags: Open vSwitch measures the
    /// mask against its private tunnel flags too, so it never prints `oam` alone).
    always_signed: bool,
}

const TCP_FLAGS: FlagNames = FlagNames {
    what: "TCP flag",
    names: &["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", "[200]", "[400]", "[800]"],
    all: TCP_FLAGS_MASK,
    always_signed: false,
};

/// Open vSwitch's public tunnel flags (`flow_tun_flag_to_string`): only the Geneve OAM bit.
const TUN_FLAGS: FlagNames = FlagNames { what: "tunnel flag", names: &["oam"], all: 1, always_signed: true };

impl FlagNames {
    fn bit(&self, name: &str) -> Option<u128> {
        self.names.iter().position(|&flag| flag == name).map(|bit| 1 << bit)
    }

    /// `+syn-ack` (the named flags set or clear, others wildcarded), `value/mask` in numbers, or
    /// `syn|ack` / a number (exactly these flags set).
    fn parse(&self, text: &str) -> Result<(u128, u128), String> {
        let what = self.what;
        if text.starts_with('+') || text.starts_with('-') {
            let (mut value, mut mask) = (0u128, 0u128);
            let mut rest = text;
            while let Some(sign) = rest.chars().next() {
                rest = &rest[1..];
                let end = rest.find(['+', '-']).unwrap_or(rest.len());
                let name = &rest[..end];
                rest = &rest[end..];
                let bit = self.bit(name).ok_or_else(|| format!("unknown {what} {name:?}"))?;
                if mask & bit != 0 {
                    return Err(format!("{what} {name} is given twice"));
                }
                mask |= bit;
                if sign == '+' {
                    value |= bit;
                }
            }
            return Ok((value, mask));
        }
        if text.contains('/') {
            return parse_integer_masked(text, self.all);
        }
        let mut value = 0u128;
        for part in text.split('|') {
            value |= match parse_integer(part) {
                Some(number) => number,
                None => self.bit(part).ok_or_else(|| format!("unknown {what} {part:?}"))?,
            };
        }
        Ok((value, self.all))
    }

    /// As Open vSwitch's `format_flags_masked`: `syn|ack` (or `0`) when every bit is matched,
    /// else `+syn-ack`.
    fn format(&self, value: u128, mask: u128) -> String {
        let names = |bits: u128| self.names.iter().enumerate().filter(move |(bit, _)| bits & (1 << bit) != 0);
        if mask == self.all && !self.always_signed {
            if value == 0 {
                return "0".to_string();
            }
            return names(value).map(|(_, name)| *name).collect::<Vec<_>>().join("|");
        }
        if mask == 0 {
            return "0/0".to_string();
        }
        names(mask).map(|(bit, name)| format!("{}{name}", if value & (1 << bit) != 0 { '+' } else { '-' })).collect()
    }
}

/// The `nw_frag` names: value and mask of the two fragment bits (1 = a fragment, 2 = not the
/// first fragment).
const FRAG_NAMES: [(&str, u128, u128); 5] = [
    ("no", 0, FRAG_ANY),
    ("yes", FRAG_ANY, FRAG_ANY),
    ("first", FRAG_ANY, FRAG_ANY | FRAG_LATER),
    ("later", FRAG_ANY | FRAG_LATER, FRAG_ANY | FRAG_LATER),
    ("not_later", 0, FRAG_LATER),
];

fn parse_frag(text: &str) -> Result<(u128, u128), String> {
    if let Some(&(_, value, mask)) = FRAG_NAMES.iter().find(|(name, _, _)| name.eq_ignore_ascii_case(text)) {
        return Ok((value, mask));
    }
    parse_integer_masked(text, FRAG_ANY | FRAG_LATER)
        .map_err(|_| "unknown fragment kind (no, yes, first, later or not_later)".to_string())
}

fn format_frag(value: u128, mask: u128) -> String {
    match FRAG_NAMES.iter().find(|&&(_, v, m)| v == value && m == mask) {
        Some((name, _, _)) => (*name).to_string(),
        None => format!("{}/{}", c_hex(value), c_hex(mask)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(field: Field, text: &str) -> Result<(u128, u128), String> {
        parse_masked(field, field.def().name, text, field.def().maskable)
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer("0"), Some(0));
        assert_eq!(parse_integer("0x1F"), Some(31));
        assert_eq!(parse_integer("0X1f"), Some(31));
        assert_eq!(parse_integer("340282366920938463463374607431768211455"), Some(u128::MAX));
        assert_eq!(parse_integer("340282366920938463463374607431768211456"), None);
        for bad in ["", "0x", "-1", "+1", "1 ", "0xg", "1e3"] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
        assert_eq!(c_hex(0), "0");
        assert_eq!(c_hex(255), "0xff");
    }

    #[test]
    fn integer_fields_with_masks_and_limits() {
        assert_eq!(parse(Field::TpDst, "80"), Ok((80, 0xffff)));
        assert_eq!(parse(Field::TpDst, "0x50/0xfff0"), Ok((0x50, 0xfff0)));
        assert_eq!(parse(Field::Reg(0), "5/-1"), Ok((5, 0xffff_ffff)));
        assert_eq!(parse(Field::TpDst, "70000"), Err("value does not fit in the 16-bit field tp_dst".to_string()));
        assert_eq!(
            parse(Field::Ipv6Label, "0x100000"),
            Err("value does not fit in the 20-bit field ipv6_label".into())
        );
        assert_eq!(parse(Field::TpDst, "1/0x10000"), Err("mask does not fit in the 16-bit field tp_dst".to_string()));
        assert_eq!(parse(Field::NwProto, "6/0xf"), Err("nw_proto does not take a mask".to_string()));
        assert_eq!(parse(Field::TpDst, "http"), Err("not a number (decimal or 0x hex)".to_string()));
        assert_eq!(parse(Field::TpDst, "1/x"), Err("invalid mask (decimal or 0x hex)".to_string()));
    }

    #[test]
    fn ethernet_addresses() {
        assert_eq!(parse(Field::DlDst, "00:11:22:aa:BB:cc"), Ok((0x0011_22aa_bbcc, u128::MAX >> 80)));
        assert_eq!(parse(Field::DlDst, "00:00:00:00:00:00/01:00:00:00:00:00"), Ok((0, 0x0100_0000_0000)));
        assert_eq!(parse(Field::DlSrc, "0:1:2:3:4:5"), Ok((0x0001_0203_0405, 0xffff_ffff_ffff)));
        for bad in ["00:11:22:33:44", "00:11:22:33:44:55:66", "000:11:22:33:44:55", "g0:11:22:33:44:55", ""] {
            assert!(parse(Field::DlDst, bad).is_err(), "{bad}");
        }
        assert!(parse(Field::DlDst, "00:11:22:33:44:55/ff").unwrap_err().contains("Ethernet mask"));
        assert_eq!(format_ethernet(0x0011_22aa_bbcc), "00:11:22:aa:bb:cc");
        assert_eq!(format_masked(Field::DlDst, 0, 0x0100_0000_0000), "00:00:00:00:00:00/01:00:00:00:00:00");
    }

    #[test]
    fn ipv4_addresses_prefixes_and_masks() {
        assert_eq!(parse(Field::NwDst, "10.128.0.0/9"), Ok((0x0a80_0000, 0xff80_0000)));
        assert_eq!(parse(Field::NwSrc, "192.168.0.0/255.255.0.0"), Ok((0xc0a8_0000, 0xffff_0000)));
        assert_eq!(parse(Field::NwSrc, "1.2.3.4/0"), Ok((0x0102_0304, 0)));
        assert_eq!(parse(Field::NwSrc, "1.2.3.4/32"), Ok((0x0102_0304, 0xffff_ffff)));
        assert_eq!(parse(Field::NwSrc, "10.0.0.300"), Err("invalid IPv4 address".to_string()));
        assert!(parse(Field::NwSrc, "10.0.0.1/33").unwrap_err().contains("prefix length"));
        assert!(parse(Field::NwSrc, "10.0.0.1/").is_err());
        assert_eq!(format_ipv4_masked(0x0a80_0000, 0xff80_0000), "10.128.0.0/9");
        assert_eq!(format_ipv4_masked(0x0a00_0001, 0xffff_ffff), "10.0.0.1");
        assert_eq!(format_ipv4_masked(0x0a00_0001, 0xff00_ff00), "10.0.0.1/255.0.255.0");
        assert_eq!(format_ipv4_masked(0, 0), "0.0.0.0/0");
    }

    #[test]
    fn ipv6_addresses_prefixes_and_masks() {
        let (value, mask) = parse(Field::Ipv6Src, "2001:db8::/32").unwrap();
        assert_eq!(value, 0x2001_0db8 << 96);
        assert_eq!(mask, 0xffff_ffff << 96);
        assert_eq!(format_ipv6_masked(value, mask), "2001:db8::/32");
        assert_eq!(parse(Field::Ipv6Src, "::1"), Ok((1, u128::MAX)));
        let (value, mask) = parse(Field::Ipv6Dst, "fe80::1/ffff::ffff").unwrap();
        assert_eq!(format_ipv6_masked(value, mask), "fe80::1/ffff::ffff");
        assert_eq!(parse(Field::Ipv6Src, "2001:db8:::1"), Err("invalid IPv6 address".to_string()));
        assert!(parse(Field::Ipv6Src, "::1/129").is_err());
    }

    #[test]
    fn tcp_flags_in_every_form() {
        assert_eq!(parse(Field::TcpFlags, "syn"), Ok((0x002, 0xfff)));
        assert_eq!(parse(Field::TcpFlags, "syn|ack"), Ok((0x012, 0xfff)));
        assert_eq!(parse(Field::TcpFlags, "+syn-ack"), Ok((0x002, 0x012)));
        assert_eq!(parse(Field::TcpFlags, "-rst+[800]"), Ok((0x800, 0x804)));
        assert_eq!(parse(Field::TcpFlags, "0x002/0x012"), Ok((0x002, 0x012)));
        assert_eq!(parse(Field::TcpFlags, "0x12"), Ok((0x012, 0xfff)));
        assert_eq!(parse(Field::TcpFlags, "+syn+syn"), Err("TCP flag syn is given twice".to_string()));
        assert!(parse(Field::TcpFlags, "+bogus").unwrap_err().contains("unknown TCP flag"));
        assert!(parse(Field::TcpFlags, "syn|").is_err());
        assert!(parse(Field::TcpFlags, "+").is_err());
        assert_eq!(TCP_FLAGS.format(0x012, 0xfff), "syn|ack");
        assert_eq!(TCP_FLAGS.format(0, 0xfff), "0");
        assert_eq!(TCP_FLAGS.format(0x002, 0x012), "+syn-ack");
        assert_eq!(TCP_FLAGS.format(0, 0), "0/0");
    }

    #[test]
    fn tun_flags_name_only_oam() {
        assert_eq!(parse(Field::TunFlags, "oam"), Ok((1, 1)));
        assert_eq!(parse(Field::TunFlags, "+oam"), Ok((1, 1)));
        assert_eq!(parse(Field::TunFlags, "-oam"), Ok((0, 1)));
        assert_eq!(parse(Field::TunFlags, "0x1/0x1"), Ok((1, 1)));
        assert!(parse(Field::TunFlags, "0x2").unwrap_err().contains("does not fit"));
        assert!(parse(Field::TunFlags, "+csum").unwrap_err().contains("unknown tunnel flag"));
        // As ovs-ofctl prints them.
        assert_eq!(format_masked(Field::TunFlags, 1, 1), "+oam");
        assert_eq!(format_masked(Field::TunFlags, 0, 1), "-oam");
    }

    #[test]
    fn fragment_kinds() {
        for (name, value, mask) in FRAG_NAMES {
            assert_eq!(parse(Field::NwFrag, name), Ok((value, mask)));
            assert_eq!(format_frag(value, mask), name);
        }
        assert_eq!(parse(Field::NwFrag, "LATER"), Ok((3, 3)));
        assert_eq!(format_frag(2, 2), "0x2/0x2");
        assert_eq!(parse(Field::NwFrag, "0x2/0x2"), Ok((2, 2)));
        assert!(parse(Field::NwFrag, "sometimes").unwrap_err().contains("unknown fragment kind"));
    }

    #[test]
    fn ports_as_values() {
        assert_eq!(parse(Field::InPort, "LOCAL"), Ok((0xfffe, 0xffff_ffff)));
        assert_eq!(parse(Field::InPort, "7"), Ok((7, 0xffff_ffff)));
        assert!(parse(Field::InPort, "FLOOD").unwrap_err().contains("not a port a packet can come from"));
        assert_eq!(format_masked(Field::InPort, 0xfffe, 0xffff_ffff), "LOCAL");
        assert_eq!(format_masked(Field::InPort, 2, 0xff), "0x2/0xff");
    }

    #[test]
    fn generic_format_round_trips() {
        let cases: [(Field, u128, u128); 9] = [
            (Field::TpDst, 80, 0xffff),
            (Field::TpDst, 0x50, 0xfff0),
            (Field::Reg(3), 0, 0xffff_ffff),
            (Field::TunId, 0x1, 0xff),
            (Field::DlSrc, 0x0211_2233_4455, 0xffff_ffff_ffff),
            (Field::NwSrc, 0x0a00_0000, 0xff00_0000),
            (Field::Ipv6Dst, 1, u128::MAX),
            (Field::TcpFlags, 0x002, 0x012),
            (Field::NwFrag, 1, 3),
        ];
        for (field, value, mask) in cases {
            let text = format_masked(field, value, mask);
            assert_eq!(parse_masked(field, "f", &text, true), Ok((value, mask)), "{field} {text}");
        }
    }
}
