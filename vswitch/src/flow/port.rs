//! OpenFlow port numbers as ovs-ofctl writes them: switch ports by number, the reserved ports
//! (`IN_PORT`, `NORMAL`, `FLOOD`, `ALL`, `CONTROLLER`, `LOCAL`, ...) by name. Numbers are the
//! 16-bit OpenFlow 1.0 ones Open vSwitch uses internally, kept in a `u32` like the flow key's
//! in_port.

use std::fmt;
use std::ops::RangeInclusive;

/// An OpenFlow port number: a switch port or a reserved port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfPort(pub u32);

impl OfPort {
    /// The numbers a switch port can have; 0 is invalid and 0xff00 and above are reserved ports
    /// (IN_PORT, LOCAL, CONTROLLER, ...), as in OpenFlow 1.0 and Open vSwitch.
    pub const RANGE: RangeInclusive<u32> = 1..=0xfeff;
    /// The port the packet came in on.
    pub const IN_PORT: OfPort = OfPort(0xfff8);
    /// The OpenFlow pipeline (packet-out only).
    pub const TABLE: OfPort = OfPort(0xfff9);
    /// The traditional L2 switch (MAC learning).
    pub const NORMAL: OfPort = OfPort(0xfffa);
    /// Every port except the input port and those with flooding disabled.
    pub const FLOOD: OfPort = OfPort(0xfffb);
    /// Every port except the input port.
    pub const ALL: OfPort = OfPort(0xfffc);
    /// The controller(s), as a packet-in.
    pub const CONTROLLER: OfPort = OfPort(0xfffd);
    /// The switch's local (bridge) port.
    pub const LOCAL: OfPort = OfPort(0xfffe);
    /// No port (also `ANY` in filters).
    pub const NONE: OfPort = OfPort(0xffff);

    /// The reserved ports with their ovs-ofctl names, as printed.
    const NAMED: [(OfPort, &'static str); 8] = [
        (OfPort::IN_PORT, "IN_PORT"),
        (OfPort::TABLE, "TABLE"),
        (OfPort::NORMAL, "NORMAL"),
        (OfPort::FLOOD, "FLOOD"),
        (OfPort::ALL, "ALL"),
        (OfPort::CONTROLLER, "CONTROLLER"),
        (OfPort::LOCAL, "LOCAL"),
        (OfPort::NONE, "ANY"),
    ];

    /// A switch port (not reserved, not 0).
    pub fn is_switch_port(self) -> bool {
        OfPort::RANGE.contains(&self.0)
    }

    /// Parses a port as ovs-ofctl does: a decimal switch port number or a reserved port name in
    /// any case (`LOCAL`, `in_port`, `NONE` or `ANY`). Reserved ports by number are refused.
    pub fn parse(text: &str) -> Result<OfPort, String> {
        if let Some(&(port, _)) = OfPort::NAMED.iter().find(|(_, name)| name.eq_ignore_ascii_case(text)) {
            return Ok(port);
        }
        if text.eq_ignore_ascii_case("none") {
            return Ok(OfPort::NONE);
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err("not a port number".to_string());
        }
        match text.parse::<u32>() {
            Ok(number) if OfPort::RANGE.contains(&number) => Ok(OfPort(number)),
            _ => Err(format!("port number out of range {}..={}", OfPort::RANGE.start(), OfPort::RANGE.end())),
        }
    }
}

impl fmt::Display for OfPort {
    /// The number of a switch port, the name of a reserved one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OfPort::NAMED.iter().find(|(port, _)| port == self) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names() {
        assert_eq!(OfPort::parse("1"), Ok(OfPort(1)));
        assert_eq!(OfPort::parse("65279"), Ok(OfPort(0xfeff)));
        assert_eq!(OfPort::parse("local"), Ok(OfPort::LOCAL));
        assert_eq!(OfPort::parse("IN_PORT"), Ok(OfPort::IN_PORT));
        assert_eq!(OfPort::parse("Controller"), Ok(OfPort::CONTROLLER));
        assert_eq!(OfPort::parse("none"), Ok(OfPort::NONE));
        assert_eq!(OfPort::parse("ANY"), Ok(OfPort::NONE));
    }

    #[test]
    fn bad_ports() {
        assert_eq!(OfPort::parse("0"), Err("port number out of range 1..=65279".to_string()));
        assert_eq!(OfPort::parse("65280"), Err("port number out of range 1..=65279".to_string()));
        assert_eq!(OfPort::parse("99999999999999999999"), Err("port number out of range 1..=65279".to_string()));
        assert_eq!(OfPort::parse("-1"), Err("not a port number".to_string()));
        assert_eq!(OfPort::parse(""), Err("not a port number".to_string()));
        assert_eq!(OfPort::parse("eth0"), Err("not a port number".to_string()));
    }

    #[test]
    fn display_round_trips() {
        for port in [OfPort(1), OfPort(0xfeff), OfPort::IN_PORT, OfPort::TABLE, OfPort::NORMAL, OfPort::FLOOD]
            .into_iter()
            .chain([OfPort::ALL, OfPort::CONTROLLER, OfPort::LOCAL, OfPort::NONE])
        {
            assert_eq!(OfPort::parse(&port.to_string()), Ok(port));
        }
        assert_eq!(OfPort::LOCAL.to_string(), "LOCAL");
        assert_eq!(OfPort(7).to_string(), "7");
        assert!(OfPort(7).is_switch_port());
        assert!(!OfPort::LOCAL.is_switch_port());
    }
}
