//! A tunnel port's options (`type = "vxlan" | "geneve" | "gre"`): Open vSwitch's option names and
//! meanings (`remote_ip`, `local_ip`, `key`/`in_key`/`out_key`, `dst_port`, `tos`, `ttl`,
//! `df_default`, `csum`), read from the port's `options` table of strings and written back to it.
//! A VXLAN port may also be a flood-and-learn VTEP (RFC 7348 section 4, which Open vSwitch does
//! not do): `remote_ip` a multicast group (`239.1.1.1`, `ff0e::42`), or `flood:` and a list of
//! unicast VTEPs for head-end replication (`flood:10.0.0.2,10.0.0.3`); `learn_aging` (seconds,
//! default 300) and `learn_limit` (entries, default 8192) bound its table of learned MACs.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::TunnelKind;

/// The options a tunnel port may have.
const OPTION_NAMES: &[&str] = &[
    "remote_ip",
    "local_ip",
    "key",
    "in_key",
    "out_key",
    "dst_port",
    "tos",
    "ttl",
    "df_default",
    "csum",
    "learn_aging",
    "learn_limit",
    "exts",
];

/// The prefix of a head-end replication list in `remote_ip`.
pub const FLOOD_PREFIX: &str = "flood:";
/// Seconds a learned MAC of a flood-and-learn port lives without being seen (Linux's default).
pub const DEFAULT_LEARN_AGING_S: u32 = 300;
/// Learned MACs a flood-and-learn port keeps at most (the oldest goes).
pub const DEFAULT_LEARN_LIMIT: u32 = 8192;
/// Head-end replication lists are at most this long.
pub const MAX_FLOOD_REMOTES: usize = 64;

/// TTL of the outer header when the port does not say (Linux's default).
pub const DEFAULT_TTL: u8 = 64;

/// An address option that may be left to the flows (`flow`: tun_dst / tun_src).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelAddress {
    Fixed(IpAddr),
    Flow,
}

/// A key option: a fixed VNI / GRE key, or `flow` (tun_id carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKey {
    Fixed(u64),
    Flow,
}

/// A value of the outer header, or `inherit`ed from the inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inheritable {
    Fixed(u8),
    Inherit,
}

/// Where a flood-and-learn VTEP sends broadcast, unknown-unicast and multicast inner frames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FloodTo {
    /// An IP multicast group the switch joins on the underlay.
    Group(IpAddr),
    /// One unicast copy per listed VTEP (head-end replication).
    Replicate(Vec<IpAddr>),
}

/// A flood-and-learn VTEP (RFC 7348 section 4): BUM frames flooded, inner source MAC -> outer
/// source IP learned from what it receives, known unicast sent to the learned VTEP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Flood {
    pub to: FloodTo,
    /// Seconds a learned entry lives without being seen.
    pub aging_s: u32,
    /// Learned entries kept at most.
    pub limit: u32,
}

/// A tunnel port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TunnelConfig {
    pub kind: TunnelKind,
    /// The remote endpoint (required).
    pub remote_ip: TunnelAddress,
    /// The local endpoint: the source address sent and the destination accepted; `None` = the
    /// address of the route to the remote.
    pub local_ip: Option<TunnelAddress>,
    /// The key a received packet must carry to belong to this port.
    pub in_key: TunnelKey,
    /// The key sent.
    pub out_key: TunnelKey,
    /// UDP destination port (VXLAN, Geneve); 0 for GRE.
    pub dst_port: u16,
    /// The DSCP bits of the outer TOS (ECN is always copied from the inner packet).
    pub tos: Inheritable,
    pub ttl: Inheritable,
    /// The outer IPv4 header's don't-fragment bit.
    pub df_default: bool,
    /// `csum`: UDP / GRE checksum sent; `None` = the default (on for UDP over IPv6, off otherwise).
    pub csum: Option<bool>,
    /// A flood-and-learn VTEP (then `remote_ip` is the group, or the first VTEP of the list, and
    /// is not used as such).
    pub flood: Option<Flood>,
    /// `exts=gbp` (VXLAN): the Group Based Policy extension, read into tun_gbp_id /
    /// tun_gbp_flags on receipt and sent from them.
    pub gbp: bool,
}

impl TunnelConfig {
    /// Reads the options of a port of `kind`; errors name the option and the problem.
    pub fn from_options(
        kind: TunnelKind,
        options: &BTreeMap<String, String>,
    ) -> Result<TunnelConfig, (String, String)> {
        if let Some(unknown) = options.keys().find(|name| !OPTION_NAMES.contains(&name.as_str())) {
            return Err((
                unknown.clone(),
                format!("unknown option of a {} port; expected one of: {}", kind.name(), OPTION_NAMES.join(", ")),
            ));
        }
        let problem = |name: &str, text: String| (name.to_string(), text);
        let address = |name: &str| -> Result<Option<TunnelAddress>, (String, String)> {
            match options.get(name).map(String::as_str) {
                None => Ok(None),
                Some("flow") => Ok(Some(TunnelAddress::Flow)),
                Some(text) => match text.parse::<IpAddr>() {
                    Ok(addr) if addr.is_unspecified() => {
                        Err(problem(name, format!("{text} is not a usable tunnel endpoint")))
                    }
                    Ok(addr) => Ok(Some(TunnelAddress::Fixed(addr))),
                    Err(_) => Err(problem(name, format!("{text:?} is neither an IPv4/IPv6 address nor \"flow\""))),
                },
            }
        };
        let key = |name: &str| -> Result<Option<TunnelKey>, (String, String)> {
            match options.get(name).map(String::as_str) {
                None => Ok(None),
                Some("flow") => Ok(Some(TunnelKey::Flow)),
                Some(text) => {
                    let value = parse_number(text).ok_or_else(|| {
                        problem(name, format!("{text:?} is neither a number (decimal or 0x hex) nor \"flow\""))
                    })?;
                    if value > kind.max_key() {
                        return Err(problem(
                            name,
                            format!("{value} is out of range; a {} key is at most {}", kind.name(), kind.max_key()),
                        ));
                    }
                    Ok(Some(TunnelKey::Fixed(value)))
                }
            }
        };
        let flood_list = options.get("remote_ip").and_then(|text| text.strip_prefix(FLOOD_PREFIX));
        let (remote_ip, flood_to) = match flood_list {
            Some(list) => {
                let remotes = parse_flood_list(list).map_err(|text| problem("remote_ip", text))?;
                (TunnelAddress::Fixed(remotes[0]), Some(FloodTo::Replicate(remotes)))
            }
            None => {
                let remote_ip = address("remote_ip")?.ok_or_else(|| {
                    problem(
                        "remote_ip",
                        format!("missing; a {} port needs remote_ip (an address or \"flow\")", kind.name()),
                    )
                })?;
                let group = match remote_ip {
                    TunnelAddress::Fixed(addr) if addr.is_multicast() => Some(FloodTo::Group(addr)),
                    _ => None,
                };
                (remote_ip, group)
            }
        };
        if flood_to.is_some() && kind != TunnelKind::Vxlan {
            return Err(problem(
                "remote_ip",
                format!(
                    "flood-and-learn (a multicast group or \"flood:\" list) is for vxlan ports, not {}",
                    kind.name()
                ),
            ));
        }
        let local_ip = address("local_ip")?;
        if local_ip == Some(TunnelAddress::Flow) && remote_ip != TunnelAddress::Flow {
            return Err(problem("local_ip", "\"flow\" needs remote_ip=flow as well".to_string()));
        }
        if let (TunnelAddress::Fixed(remote), Some(TunnelAddress::Fixed(local))) = (remote_ip, local_ip) {
            if remote.is_ipv4() != local.is_ipv4() {
                return Err(problem("local_ip", format!("{local} and remote_ip {remote} are of different families")));
            }
        }
        let both = key("key")?;
        let in_key = key("in_key")?.or(both).unwrap_or(TunnelKey::Fixed(0));
        let out_key = key("out_key")?.or(both).unwrap_or(TunnelKey::Fixed(0));
        let dst_port = match options.get("dst_port") {
            _ if kind == TunnelKind::Gre && options.contains_key("dst_port") => {
                return Err(problem("dst_port", "GRE is not carried in UDP; a gre port has no dst_port".to_string()));
            }
            None => kind.default_dst_port(),
            Some(text) => match parse_number(text).and_then(|n| u16::try_from(n).ok()) {
                Some(port) if port != 0 => port,
                _ => return Err(problem("dst_port", format!("{text:?} is not a UDP port (1..=65535)"))),
            },
        };
        let tos = match options.get("tos").map(String::as_str) {
            None => Inheritable::Fixed(0),
            Some("inherit") => Inheritable::Inherit,
            Some(text) => match parse_number(text).and_then(|n| u8::try_from(n).ok()) {
                Some(tos) if tos & 0x03 == 0 => Inheritable::Fixed(tos),
                Some(tos) => {
                    return Err(problem(
                        "tos",
                        format!("{tos} sets ECN bits; give the DSCP part (a multiple of 4): ECN is always inherited"),
                    ))
                }
                None => return Err(problem("tos", format!("{text:?} is neither 0..=255 nor \"inherit\""))),
            },
        };
        let ttl = match options.get("ttl").map(String::as_str) {
            None => Inheritable::Fixed(DEFAULT_TTL),
            Some("inherit") => Inheritable::Inherit,
            Some(text) => match parse_number(text).and_then(|n| u8::try_from(n).ok()) {
                Some(ttl) if ttl > 0 => Inheritable::Fixed(ttl),
                _ => return Err(problem("ttl", format!("{text:?} is neither 1..=255 nor \"inherit\""))),
            },
        };
        let flag = |name: &str| -> Result<Option<bool>, (String, String)> {
            match options.get(name).map(String::as_str) {
                None => Ok(None),
                Some("true") => Ok(Some(true)),
                Some("false") => Ok(Some(false)),
                Some(text) => Err(problem(name, format!("{text:?} is neither true nor false"))),
            }
        };
        let df_default = flag("df_default")?.unwrap_or(true);
        let csum = flag("csum")?;
        let count = |name: &str, default: u32| -> Result<u32, (String, String)> {
            match options.get(name) {
                None => Ok(default),
                Some(_) if flood_to.is_none() => Err(problem(
                    name,
                    "only a flood-and-learn port (remote_ip a multicast group or \"flood:\" list) learns".to_string(),
                )),
                Some(text) => match parse_number(text).and_then(|n| u32::try_from(n).ok()) {
                    Some(n) if n > 0 => Ok(n),
                    _ => Err(problem(name, format!("{text:?} is not a positive number"))),
                },
            }
        };
        let aging_s = count("learn_aging", DEFAULT_LEARN_AGING_S)?;
        let limit = count("learn_limit", DEFAULT_LEARN_LIMIT)?;
        if flood_to.is_some() && (in_key == TunnelKey::Flow || out_key == TunnelKey::Flow) {
            return Err(problem("key", "a flood-and-learn port's key is its VNI: a number, not \"flow\"".to_string()));
        }
        let flood = flood_to.map(|to| Flood { to, aging_s, limit });
        let gbp = match options.get("exts").map(String::as_str) {
            None | Some("") => false,
            Some("gbp") if kind == TunnelKind::Vxlan => true,
            Some(text) => {
                return Err(problem(
                    "exts",
                    format!("{text:?} is not an extension of a {} port (vxlan: gbp)", kind.name()),
                ))
            }
        };
        Ok(TunnelConfig {
            kind,
            remote_ip,
            local_ip,
            in_key,
            out_key,
            dst_port,
            tos,
            ttl,
            df_default,
            csum,
            flood,
            gbp,
        })
    }

    /// The options table that reads back as this port (defaults left out).
    pub fn to_options(&self) -> BTreeMap<String, String> {
        let mut options = BTreeMap::new();
        let address = |a: TunnelAddress| match a {
            TunnelAddress::Fixed(addr) => addr.to_string(),
            TunnelAddress::Flow => "flow".to_string(),
        };
        let key = |k: TunnelKey| match k {
            TunnelKey::Fixed(value) => value.to_string(),
            TunnelKey::Flow => "flow".to_string(),
        };
        match &self.flood {
            Some(Flood { to: FloodTo::Replicate(remotes), .. }) => {
                let list: Vec<String> = remotes.iter().map(ToString::to_string).collect();
                options.insert("remote_ip".to_string(), format!("{FLOOD_PREFIX}{}", list.join(",")));
            }
            _ => drop(options.insert("remote_ip".to_string(), address(self.remote_ip))),
        }
        if let Some(flood) = &self.flood {
            if flood.aging_s != DEFAULT_LEARN_AGING_S {
                options.insert("learn_aging".to_string(), flood.aging_s.to_string());
            }
            if flood.limit != DEFAULT_LEARN_LIMIT {
                options.insert("learn_limit".to_string(), flood.limit.to_string());
            }
        }
        if let Some(local) = self.local_ip {
            options.insert("local_ip".to_string(), address(local));
        }
        if self.in_key == self.out_key {
            if self.in_key != TunnelKey::Fixed(0) {
                options.insert("key".to_string(), key(self.in_key));
            }
        } else {
            options.insert("in_key".to_string(), key(self.in_key));
            options.insert("out_key".to_string(), key(self.out_key));
        }
        if self.dst_port != self.kind.default_dst_port() {
            options.insert("dst_port".to_string(), self.dst_port.to_string());
        }
        match self.tos {
            Inheritable::Fixed(0) => {}
            Inheritable::Fixed(tos) => drop(options.insert("tos".to_string(), tos.to_string())),
            Inheritable::Inherit => drop(options.insert("tos".to_string(), "inherit".to_string())),
        }
        match self.ttl {
            Inheritable::Fixed(DEFAULT_TTL) => {}
            Inheritable::Fixed(ttl) => drop(options.insert("ttl".to_string(), ttl.to_string())),
            Inheritable::Inherit => drop(options.insert("ttl".to_string(), "inherit".to_string())),
        }
        if !self.df_default {
            options.insert("df_default".to_string(), "false".to_string());
        }
        if let Some(csum) = self.csum {
            options.insert("csum".to_string(), csum.to_string());
        }
        if self.gbp {
            options.insert("exts".to_string(), "gbp".to_string());
        }
        options
    }

    /// Whether the outer UDP / GRE checksum is sent to `remote` (the `csum` default: on for UDP
    /// tunnels over IPv6, where a zero UDP checksum needs the receiver's consent, off otherwise).
    pub fn sends_checksum(&self, remote: &IpAddr) -> bool {
        self.csum.unwrap_or(remote.is_ipv6() && self.kind != TunnelKind::Gre)
    }
}

/// The VTEPs of a head-end replication list: unicast addresses of one family, no repeats.
fn parse_flood_list(list: &str) -> Result<Vec<IpAddr>, String> {
    let mut remotes: Vec<IpAddr> = Vec::new();
    for item in list.split(',').map(str::trim) {
        let addr: IpAddr =
            item.parse().map_err(|_| format!("{item:?} in the flood list is not an IPv4/IPv6 address"))?;
        if addr.is_unspecified() || addr.is_multicast() {
            return Err(format!("{addr} in the flood list is not a unicast VTEP address"));
        }
        if remotes.first().is_some_and(|first| first.is_ipv4() != addr.is_ipv4()) {
            return Err(format!("{addr} in the flood list is not of the family of {}", remotes[0]));
        }
        if remotes.contains(&addr) {
            return Err(format!("{addr} is in the flood list twice"));
        }
        remotes.push(addr);
    }
    if remotes.len() > MAX_FLOOD_REMOTES {
        return Err(format!("{} VTEPs in the flood list; at most {MAX_FLOOD_REMOTES}", remotes.len()));
    }
    Ok(remotes)
}

/// A decimal or `0x` hexadecimal number.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_round_trip() {
        let config = TunnelConfig::from_options(TunnelKind::Vxlan, &options(&[("remote_ip", "10.0.0.2")])).unwrap();
        assert_eq!(config.remote_ip, TunnelAddress::Fixed("10.0.0.2".parse().unwrap()));
        assert_eq!((config.in_key, config.out_key), (TunnelKey::Fixed(0), TunnelKey::Fixed(0)));
        assert_eq!(config.dst_port, 4789);
        assert_eq!(config.ttl, Inheritable::Fixed(64));
        assert!(config.df_default);
        assert!(!config.sends_checksum(&"10.0.0.2".parse().unwrap()));
        assert!(config.sends_checksum(&"fd00::2".parse().unwrap()));
        assert_eq!(config.to_options(), options(&[("remote_ip", "10.0.0.2")]));
        let all = options(&[
            ("remote_ip", "flow"),
            ("local_ip", "flow"),
            ("in_key", "flow"),
            ("out_key", "7"),
            ("dst_port", "8472"),
            ("tos", "inherit"),
            ("ttl", "9"),
            ("df_default", "false"),
            ("csum", "true"),
        ]);
        let config = TunnelConfig::from_options(TunnelKind::Geneve, &all).unwrap();
        assert_eq!(config.to_options(), all);
        assert_eq!(TunnelConfig::from_options(TunnelKind::Geneve, &config.to_options()).unwrap(), config);
    }

    #[test]
    fn errors_name_the_option() {
        let err = |kind, pairs: &[(&str, &str)]| TunnelConfig::from_options(kind, &options(pairs)).unwrap_err();
        assert_eq!(err(TunnelKind::Vxlan, &[]).0, "remote_ip");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "nope")]).0, "remote_ip");
        assert_eq!(err(TunnelKind::Geneve, &[("remote_ip", "239.1.1.1")]).0, "remote_ip");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("key", "16777216")]).0, "key");
        assert!(TunnelConfig::from_options(
            TunnelKind::Gre,
            &options(&[("remote_ip", "10.0.0.2"), ("key", "4294967295")])
        )
        .is_ok());
        assert_eq!(err(TunnelKind::Gre, &[("remote_ip", "10.0.0.2"), ("dst_port", "1")]).0, "dst_port");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("tos", "1")]).0, "tos");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("ttl", "0")]).0, "ttl");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("local_ip", "flow")]).0, "local_ip");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("local_ip", "fd00::1")]).0, "local_ip");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("colour", "red")]).0, "colour");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("csum", "yes")]).0, "csum");
        assert_eq!(err(TunnelKind::Geneve, &[("remote_ip", "10.0.0.2"), ("exts", "gbp")]).0, "exts");
        assert_eq!(err(TunnelKind::Vxlan, &[("remote_ip", "10.0.0.2"), ("exts", "gpe")]).0, "exts");
    }

    #[test]
    fn vxlan_takes_the_gbp_extension() {
        let gbp = options(&[("remote_ip", "10.0.0.2"), ("exts", "gbp")]);
        let config = TunnelConfig::from_options(TunnelKind::Vxlan, &gbp).unwrap();
        assert!(config.gbp);
        assert_eq!(config.to_options(), gbp);
    }

    #[test]
    fn flood_and_learn_ports() {
        let config = |pairs: &[(&str, &str)]| TunnelConfig::from_options(TunnelKind::Vxlan, &options(pairs));
        let group = config(&[("remote_ip", "239.1.1.1"), ("key", "42")]).unwrap();
        assert_eq!(
            group.flood,
            Some(Flood {
                to: FloodTo::Group("239.1.1.1".parse().unwrap()),
                aging_s: DEFAULT_LEARN_AGING_S,
                limit: DEFAULT_LEARN_LIMIT
            })
        );
        assert_eq!(group.to_options(), options(&[("remote_ip", "239.1.1.1"), ("key", "42")]));
        let v6 = config(&[("remote_ip", "ff0e::42"), ("key", "42"), ("learn_aging", "5")]).unwrap();
        assert_eq!(v6.flood.as_ref().map(|f| f.aging_s), Some(5));
        let her = options(&[("remote_ip", "flood:10.0.0.2,10.0.0.3"), ("key", "42"), ("learn_limit", "10")]);
        let config_her = TunnelConfig::from_options(TunnelKind::Vxlan, &her).unwrap();
        assert_eq!(
            config_her.flood.as_ref().map(|f| &f.to),
            Some(&FloodTo::Replicate(vec!["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()]))
        );
        assert_eq!(config_her.to_options(), her);
        assert!(config(&[("remote_ip", "10.0.0.2")]).unwrap().flood.is_none());
        let err = |pairs: &[(&str, &str)]| config(pairs).unwrap_err();
        assert_eq!(err(&[("remote_ip", "flood:")]).0, "remote_ip");
        assert!(err(&[("remote_ip", "flood:10.0.0.2,fd00::3")]).1.contains("family"));
        assert!(err(&[("remote_ip", "flood:10.0.0.2,10.0.0.2")]).1.contains("twice"));
        assert!(err(&[("remote_ip", "flood:239.1.1.1")]).1.contains("unicast"));
        assert_eq!(err(&[("remote_ip", "239.1.1.1"), ("key", "flow")]).0, "key");
        assert_eq!(err(&[("remote_ip", "10.0.0.2"), ("learn_aging", "5")]).0, "learn_aging");
        assert_eq!(err(&[("remote_ip", "239.1.1.1"), ("learn_limit", "0")]).0, "learn_limit");
        assert_eq!(err(&[("remote_ip", "239.1.1.1"), ("local_ip", "fd00::1")]).0, "local_ip");
        assert!(TunnelConfig::from_options(TunnelKind::Gre, &options(&[("remote_ip", "239.1.1.1")])).is_err());
    }
}
