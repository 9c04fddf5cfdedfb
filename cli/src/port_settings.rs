//! Turns the `KEY=VALUE` words of `vsctl add-port` into the `PortConfig` that is
//! sent to vswitchd, rejecting anything malformed before a byte goes out.
//!
//! Only the shape of each word is checked here (known key, number in range, the
//! keys a port type needs, a tunnel port's options as the configuration reads them);
//! whether the port makes sense for the running switch (`PortConfig::validate`, free
//! ofport, existing bridge) is vswitchd's call. A tunnel port's options are written as
//! Open vSwitch writes them: `options:remote_ip=192.0.2.2 options:key=1000`.
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::proto::{PortConfig, PortKind, TunnelConfig, TunnelKind, DEFAULT_QUEUE_SIZE, DEFAULT_RX_QUEUES};

/// The keys `add-port` accepts, in the order the help text lists them.
const KEYS: &str = "type, devargs, path, options:NAME, ofport, rx_queues, rxq_size, txq_size, mtu, tag, trunks";

/// The port types, as `type=` takes them.
const TYPES: &str = "dpdk, vhost-user, vhost-user-client, internal, patch, vxlan, geneve or gre";

/// Why a `KEY=VALUE` list does not describe a port. `Display` names the word at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingError {
    /// A word without `=`.
    NotKeyValue { token: String },
    /// A key `add-port` does not know.
    UnknownKey { token: String },
    /// A key given with nothing after `=`.
    EmptyValue { token: String },
    /// The same key twice.
    Repeated { token: String },
    /// `type=` with a value that is not a port type.
    UnknownType { token: String },
    /// A numeric key whose value is not a number in the key's range.
    BadNumber { token: String, max: u64 },
    /// `trunks=` whose value is not a comma-separated list of numbers in 0..=`max`.
    BadNumberList { token: String, max: u64 },
    /// No `type=` at all.
    MissingType,
    /// The port type needs a key that was not given.
    MissingKey { port_type: &'static str, key: &'static str },
    /// A key the port type does not use.
    NotForType { token: String, port_type: &'static str },
    /// `options:=VALUE`: no option name.
    NoOptionName { token: String },
    /// A tunnel option the port type refuses: the word (or `options:NAME` when missing) and why.
    BadOption { token: String, problem: String },
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingError::NotKeyValue { token } => write!(f, "'{token}': expected KEY=VALUE"),
            SettingError::UnknownKey { token } => {
                write!(f, "'{token}': unknown key (known keys: {KEYS})")
            }
            SettingError::EmptyValue { token } => write!(f, "'{token}': empty value"),
            SettingError::Repeated { token } => write!(f, "'{token}': key given more than once"),
            SettingError::UnknownType { token } => {
                write!(f, "'{token}': unknown port type (expected {TYPES})")
            }
            SettingError::BadNumber { token, max } => {
                write!(f, "'{token}': not a number in 0..={max}")
            }
            SettingError::BadNumberList { token, max } => {
                write!(f, "'{token}': not a comma-separated list of numbers in 0..={max}")
            }
            SettingError::MissingType => {
                write!(f, "missing 'type=dpdk|vhost-user|vhost-user-client|internal|patch|vxlan|geneve|gre'")
            }
            SettingError::MissingKey { port_type, key } => {
                write!(f, "missing '{key}=...': type={port_type} needs it")
            }
            SettingError::NotForType { token, port_type } => {
                write!(f, "'{token}': not used by type={port_type}")
            }
            SettingError::NoOptionName { token } => {
                write!(f, "'{token}': no option name (expected options:NAME=VALUE, e.g. options:remote_ip=192.0.2.2)")
            }
            SettingError::BadOption { token, problem } => write!(f, "'{token}': {problem}"),
        }
    }
}

impl std::error::Error for SettingError {}

/// The keys `add-port` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Type,
    Devargs,
    Path,
    Ofport,
    RxQueues,
    RxqSize,
    TxqSize,
    Mtu,
    Tag,
    Trunks,
}

impl Key {
    fn parse(text: &str) -> Option<Key> {
        match text {
            "type" => Some(Key::Type),
            "devargs" => Some(Key::Devargs),
            "path" => Some(Key::Path),
            "ofport" => Some(Key::Ofport),
            "rx_queues" => Some(Key::RxQueues),
            "rxq_size" => Some(Key::RxqSize),
            "txq_size" => Some(Key::TxqSize),
            "mtu" => Some(Key::Mtu),
            "tag" => Some(Key::Tag),
            "trunks" => Some(Key::Trunks),
            _ => None,
        }
    }
}

/// The port types `add-port` can create, as spelled after `type=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortType {
    Dpdk,
    VhostUser,
    VhostUserClient,
    Internal,
    Patch,
    Tunnel(TunnelKind),
}

impl PortType {
    fn parse(value: &str) -> Option<PortType> {
        match value {
            "dpdk" => Some(PortType::Dpdk),
            "vhost-user" => Some(PortType::VhostUser),
            "vhost-user-client" => Some(PortType::VhostUserClient),
            "internal" => Some(PortType::Internal),
            "patch" => Some(PortType::Patch),
            _ => TunnelKind::ALL.into_iter().find(|kind| kind.name() == value).map(PortType::Tunnel),
        }
    }

    fn name(self) -> &'static str {
        match self {
            PortType::Dpdk => "dpdk",
            PortType::VhostUser => "vhost-user",
            PortType::VhostUserClient => "vhost-user-client",
            PortType::Internal => "internal",
            PortType::Patch => "patch",
            PortType::Tunnel(kind) => kind.name(),
        }
    }
}

/// One accepted word, keeping the original text for error messages.
struct Setting<'a, T> {
    token: &'a str,
    value: T,
}

/// Every key seen so far; each at most once.
#[derive(Default)]
struct Settings<'a> {
    port_type: Option<Setting<'a, PortType>>,
    devargs: Option<Setting<'a, String>>,
    path: Option<Setting<'a, PathBuf>>,
    ofport: Option<u32>,
    rx_queues: Option<u16>,
    rxq_size: Option<u16>,
    txq_size: Option<u16>,
    mtu: Option<u16>,
    tag: Option<u16>,
    trunks: Option<Vec<u16>>,
    /// `options:NAME=VALUE`, by name, with the word that gave each.
    options: BTreeMap<String, Setting<'a, String>>,
    /// The first of rx_queues, rxq_size, txq_size and mtu: a device's settings, which a tunnel
    /// port (no device) refuses.
    device_setting: Option<&'a str>,
}

/// Stores `value` in `slot` unless the key was already given.
fn set_once<T>(slot: &mut Option<T>, value: T, token: &str) -> Result<(), SettingError> {
    if slot.is_some() {
        return Err(SettingError::Repeated { token: token.to_string() });
    }
    *slot = Some(value);
    Ok(())
}

/// Parses plain decimal digits (no sign, no spaces) into a number of `max`'s type;
/// `max` is that type's largest value, named in the error message.
fn parse_number<T>(value: &str, token: &str, max: T) -> Result<T, SettingError>
where
    T: std::str::FromStr + Into<u64>,
{
    let digits_only = value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<T>() {
        Ok(number) if digits_only => Ok(number),
        _ => Err(SettingError::BadNumber { token: token.to_string(), max: max.into() }),
    }
}

/// Parses `10,20,30` (plain decimal numbers of 0..=65535, no empty items) for `trunks=`.
fn parse_number_list(value: &str, token: &str) -> Result<Vec<u16>, SettingError> {
    value
        .split(',')
        .map(|item| parse_number(item, token, u16::MAX))
        .collect::<Result<_, _>>()
        .map_err(|_| SettingError::BadNumberList { token: token.to_string(), max: u16::MAX.into() })
}

/// Builds the port `name` from `add-port`'s `KEY=VALUE` words.
///
/// Defaults for keys not given are the TOML config's: no fixed ofport (vswitchd
/// picks the first free one), 1 rx queue, 1024-entry rings, the device's MTU, a
/// trunk of all VLANs. VLAN ranges, duplicate trunks and `tag` with `trunks` are
/// vswitchd's to check (`PortConfig::validate`).
pub fn port_config_from_settings(name: &str, tokens: &[String]) -> Result<PortConfig, SettingError> {
    let mut settings = Settings::default();
    for token in tokens {
        let token = token.as_str();
        let Some((key, value)) = token.split_once('=') else {
            return Err(SettingError::NotKeyValue { token: token.to_string() });
        };
        if let Some(option) = key.strip_prefix("options:") {
            if option.is_empty() {
                return Err(SettingError::NoOptionName { token: token.to_string() });
            }
            if value.is_empty() {
                return Err(SettingError::EmptyValue { token: token.to_string() });
            }
            if settings.options.contains_key(option) {
                return Err(SettingError::Repeated { token: token.to_string() });
            }
            settings.options.insert(option.to_string(), Setting { token, value: value.to_string() });
            continue;
        }
        let key = Key::parse(key).ok_or_else(|| SettingError::UnknownKey { token: token.to_string() })?;
        if value.is_empty() {
            return Err(SettingError::EmptyValue { token: token.to_string() });
        }
        if matches!(key, Key::RxQueues | Key::RxqSize | Key::TxqSize | Key::Mtu) {
            settings.device_setting.get_or_insert(token);
        }
        match key {
            Key::Type => {
                let port_type =
                    PortType::parse(value).ok_or_else(|| SettingError::UnknownType { token: token.to_string() })?;
                set_once(&mut settings.port_type, Setting { token, value: port_type }, token)?;
            }
            Key::Devargs => {
                let devargs = Setting { token, value: value.to_string() };
                set_once(&mut settings.devargs, devargs, token)?;
            }
            Key::Path => {
                let path = Setting { token, value: PathBuf::from(value) };
                set_once(&mut settings.path, path, token)?;
            }
            Key::Ofport => set_once(&mut settings.ofport, parse_number(value, token, u32::MAX)?, token)?,
            Key::RxQueues => set_once(&mut settings.rx_queues, parse_number(value, token, u16::MAX)?, token)?,
            Key::RxqSize => set_once(&mut settings.rxq_size, parse_number(value, token, u16::MAX)?, token)?,
            Key::TxqSize => set_once(&mut settings.txq_size, parse_number(value, token, u16::MAX)?, token)?,
            Key::Mtu => set_once(&mut settings.mtu, parse_number(value, token, u16::MAX)?, token)?,
            Key::Tag => set_once(&mut settings.tag, parse_number(value, token, u16::MAX)?, token)?,
            Key::Trunks => set_once(&mut settings.trunks, parse_number_list(value, token)?, token)?,
        }
    }

    let port_type = settings.port_type.ok_or(SettingError::MissingType)?.value;
    let kind = match port_type {
        PortType::Tunnel(tunnel) => {
            if let Some(token) = settings.device_setting {
                return Err(SettingError::NotForType { token: token.to_string(), port_type: tunnel.name() });
            }
            tunnel_kind(tunnel, settings.devargs, settings.path, &settings.options)?
        }
        PortType::Patch => patch_kind(settings.devargs, settings.path, &settings.options, settings.device_setting)?,
        _ => {
            if let Some(option) = settings.options.values().next() {
                return Err(SettingError::NotForType { token: option.token.to_string(), port_type: port_type.name() });
            }
            port_kind(port_type, settings.devargs, settings.path)?
        }
    };
    Ok(PortConfig {
        name: name.to_string(),
        ofport: settings.ofport,
        kind,
        rx_queues: settings.rx_queues.unwrap_or(DEFAULT_RX_QUEUES),
        rxq_size: settings.rxq_size.unwrap_or(DEFAULT_QUEUE_SIZE),
        txq_size: settings.txq_size.unwrap_or(DEFAULT_QUEUE_SIZE),
        mtu: settings.mtu,
        tag: settings.tag,
        trunks: settings.trunks.unwrap_or_default(),
    })
}

/// A tunnel port: no device (devargs and path refused), its options read as the configuration
/// reads them; an error names the word of the option at fault.
fn tunnel_kind(
    kind: TunnelKind,
    devargs: Option<Setting<'_, String>>,
    path: Option<Setting<'_, PathBuf>>,
    options: &BTreeMap<String, Setting<'_, String>>,
) -> Result<PortKind, SettingError> {
    if let Some(token) = devargs.map(|d| d.token).or(path.map(|p| p.token)) {
        return Err(SettingError::NotForType { token: token.to_string(), port_type: kind.name() });
    }
    let values: BTreeMap<String, String> =
        options.iter().map(|(name, setting)| (name.clone(), setting.value.clone())).collect();
    let tunnel = TunnelConfig::from_options(kind, &values).map_err(|(option, problem)| SettingError::BadOption {
        token: options.get(&option).map_or_else(|| format!("options:{option}"), |setting| setting.token.to_string()),
        problem,
    })?;
    Ok(PortKind::Tunnel(tunnel))
}

/// A patch port: no device, one option, `peer`.
fn patch_kind(
    devargs: Option<Setting<'_, String>>,
    path: Option<Setting<'_, PathBuf>>,
    options: &BTreeMap<String, Setting<'_, String>>,
    device_setting: Option<&str>,
) -> Result<PortKind, SettingError> {
    if let Some(token) = devargs.map(|d| d.token).or(path.map(|p| p.token)).or(device_setting) {
        return Err(SettingError::NotForType { token: token.to_string(), port_type: "patch" });
    }
    if let Some((name, setting)) = options.iter().find(|(name, _)| *name != "peer") {
        return Err(SettingError::BadOption {
            token: setting.token.to_string(),
            problem: format!("unknown option {name:?} of a patch port; expected peer"),
        });
    }
    let peer = options.get("peer").ok_or_else(|| SettingError::BadOption {
        token: "options:peer".to_string(),
        problem: "missing; a patch port names its peer, a patch port of another bridge".to_string(),
    })?;
    Ok(PortKind::Patch { peer: peer.value.clone() })
}

/// Pairs the port type with the one target key it needs (devargs or path).
fn port_kind(
    port_type: PortType,
    devargs: Option<Setting<'_, String>>,
    path: Option<Setting<'_, PathBuf>>,
) -> Result<PortKind, SettingError> {
    let type_name = port_type.name();
    let not_for_type = |token: &str| SettingError::NotForType { token: token.to_string(), port_type: type_name };
    let missing = |key| SettingError::MissingKey { port_type: type_name, key };
    match port_type {
        PortType::Dpdk => {
            if let Some(path) = path {
                return Err(not_for_type(path.token));
            }
            let devargs = devargs.ok_or_else(|| missing("devargs"))?.value;
            Ok(PortKind::Dpdk { devargs })
        }
        PortType::VhostUser | PortType::VhostUserClient => {
            if let Some(devargs) = devargs {
                return Err(not_for_type(devargs.token));
            }
            let path = path.ok_or_else(|| missing("path"))?.value;
            Ok(match port_type {
                PortType::VhostUser => PortKind::VhostUser { path },
                _ => PortKind::VhostUserClient { path },
            })
        }
        // The switch creates the kernel interface, named after the port: no device key.
        PortType::Internal => match devargs.map(|d| d.token).or(path.map(|p| p.token)) {
            Some(token) => Err(not_for_type(token)),
            None => Ok(PortKind::Internal),
        },
        PortType::Tunnel(kind) => tunnel_kind(kind, devargs, path, &BTreeMap::new()),
        PortType::Patch => patch_kind(devargs, path, &BTreeMap::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn parse(text: &str) -> Result<PortConfig, SettingError> {
        port_config_from_settings("p1", &words(text))
    }

    fn error_text(text: &str) -> String {
        match parse(text) {
            Ok(config) => panic!("{text:?} was accepted as {config:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn internal_port_takes_no_device() {
        assert_eq!(parse("type=internal ofport=4").map(|c| (c.kind, c.ofport)), Ok((PortKind::Internal, Some(4))));
        assert_eq!(error_text("type=internal devargs=net_tap0"), "'devargs=net_tap0': not used by type=internal");
        assert_eq!(error_text("type=internal options:peer=x"), "'options:peer=x': not used by type=internal");
    }

    #[test]
    fn dpdk_port_with_defaults() {
        let config = parse("type=dpdk devargs=net_pcap0,rx_pcap=/tmp/in.pcap").unwrap();
        assert_eq!(
            config,
            PortConfig {
                name: "p1".to_string(),
                ofport: None,
                kind: PortKind::Dpdk { devargs: "net_pcap0,rx_pcap=/tmp/in.pcap".to_string() },
                rx_queues: 1,
                rxq_size: 1024,
                txq_size: 1024,
                mtu: None,
                tag: None,
                trunks: Vec::new(),
            }
        );
    }

    #[test]
    fn every_key_is_used() {
        let config = parse(
            "mtu=9000 type=vhost-user-client path=/run/vm1.sock ofport=7 rx_queues=4 \
             rxq_size=2048 txq_size=512 tag=100",
        )
        .unwrap();
        assert_eq!(
            config,
            PortConfig {
                name: "p1".to_string(),
                ofport: Some(7),
                kind: PortKind::VhostUserClient { path: PathBuf::from("/run/vm1.sock") },
                rx_queues: 4,
                rxq_size: 2048,
                txq_size: 512,
                mtu: Some(9000),
                tag: Some(100),
                trunks: Vec::new(),
            }
        );
    }

    #[test]
    fn vhost_user_server_port() {
        let config = parse("type=vhost-user path=/run/vswitch/vm1.sock").unwrap();
        assert_eq!(config.kind, PortKind::VhostUser { path: PathBuf::from("/run/vswitch/vm1.sock") });
    }

    #[test]
    fn value_may_contain_equals_signs() {
        let config = parse("type=dpdk devargs=net_tap0,iface=tap0").unwrap();
        assert_eq!(config.kind, PortKind::Dpdk { devargs: "net_tap0,iface=tap0".to_string() });
    }

    #[test]
    fn largest_numbers_are_accepted() {
        let config = parse("type=dpdk devargs=x ofport=4294967295 mtu=65535").unwrap();
        assert_eq!((config.ofport, config.mtu), (Some(u32::MAX), Some(u16::MAX)));
    }

    #[test]
    fn trunks_are_comma_separated() {
        assert_eq!(parse("type=dpdk devargs=x trunks=10,20,4095").unwrap().trunks, vec![10, 20, 4095]);
        assert_eq!(parse("type=dpdk devargs=x trunks=0").unwrap().trunks, vec![0]);
        let config = parse("type=dpdk devargs=x").unwrap();
        assert_eq!((config.tag, config.trunks), (None, Vec::new()));
    }

    #[test]
    fn bad_vlan_settings() {
        assert_eq!(error_text("type=dpdk devargs=x tag=ten"), "'tag=ten': not a number in 0..=65535");
        assert_eq!(error_text("type=dpdk devargs=x tag=65536"), "'tag=65536': not a number in 0..=65535");
        for bad in ["10,", ",10", "10,,20", "10;20", "+5", "10,x", "10,65536", "-1", ","] {
            assert_eq!(
                error_text(&format!("type=dpdk devargs=x trunks={bad}")),
                format!("'trunks={bad}': not a comma-separated list of numbers in 0..=65535"),
                "{bad:?}"
            );
        }
        assert_eq!(error_text("type=dpdk devargs=x tag=1 tag=2"), "'tag=2': key given more than once");
        assert_eq!(error_text("type=dpdk devargs=x trunks=1 trunks=2"), "'trunks=2': key given more than once");
        assert_eq!(error_text("type=dpdk devargs=x trunks="), "'trunks=': empty value");
    }

    #[test]
    fn word_without_equals_sign() {
        assert_eq!(error_text("type=dpdk devargs=x mtu"), "'mtu': expected KEY=VALUE");
    }

    #[test]
    fn unknown_key() {
        assert_eq!(
            error_text("type=dpdk devargs=x colour=red"),
            "'colour=red': unknown key (known keys: type, devargs, path, options:NAME, ofport, \
             rx_queues, rxq_size, txq_size, mtu, tag, trunks)"
        );
    }

    #[test]
    fn keys_are_case_sensitive() {
        assert!(error_text("TYPE=dpdk devargs=x").starts_with("'TYPE=dpdk': unknown key"));
    }

    #[test]
    fn empty_value() {
        assert_eq!(error_text("type=dpdk devargs="), "'devargs=': empty value");
        assert_eq!(error_text("type= devargs=x"), "'type=': empty value");
    }

    #[test]
    fn repeated_key() {
        assert_eq!(error_text("type=dpdk devargs=x mtu=1500 mtu=9000"), "'mtu=9000': key given more than once");
        assert_eq!(error_text("type=dpdk type=dpdk devargs=x"), "'type=dpdk': key given more than once");
    }

    #[test]
    fn unknown_port_type() {
        assert_eq!(
            error_text("type=tap devargs=x"),
            "'type=tap': unknown port type (expected dpdk, vhost-user, vhost-user-client, internal, patch, vxlan, geneve or gre)"
        );
    }

    #[test]
    fn bad_numbers_name_the_word_and_range() {
        assert_eq!(error_text("type=dpdk devargs=x mtu=abc"), "'mtu=abc': not a number in 0..=65535");
        assert_eq!(error_text("type=dpdk devargs=x mtu=65536"), "'mtu=65536': not a number in 0..=65535");
        assert_eq!(error_text("type=dpdk devargs=x mtu=-1"), "'mtu=-1': not a number in 0..=65535");
        assert_eq!(error_text("type=dpdk devargs=x mtu=+5"), "'mtu=+5': not a number in 0..=65535");
        assert_eq!(
            error_text("type=dpdk devargs=x ofport=4294967296"),
            "'ofport=4294967296': not a number in 0..=4294967295"
        );
        assert_eq!(error_text("type=dpdk devargs=x rx_queues=two"), "'rx_queues=two': not a number in 0..=65535");
        assert_eq!(error_text("type=dpdk devargs=x rxq_size=1k"), "'rxq_size=1k': not a number in 0..=65535");
        assert_eq!(error_text("type=dpdk devargs=x txq_size=0x400"), "'txq_size=0x400': not a number in 0..=65535");
    }

    #[test]
    fn missing_type() {
        assert_eq!(
            error_text("devargs=x"),
            "missing 'type=dpdk|vhost-user|vhost-user-client|internal|patch|vxlan|geneve|gre'"
        );
        assert_eq!(port_config_from_settings("p1", &[]).unwrap_err(), SettingError::MissingType);
    }

    #[test]
    fn missing_target_key() {
        assert_eq!(error_text("type=dpdk mtu=1500"), "missing 'devargs=...': type=dpdk needs it");
        assert_eq!(error_text("type=vhost-user"), "missing 'path=...': type=vhost-user needs it");
        assert_eq!(error_text("type=vhost-user-client"), "missing 'path=...': type=vhost-user-client needs it");
    }

    #[test]
    fn key_of_another_port_type() {
        assert_eq!(error_text("type=dpdk devargs=x path=/run/a.sock"), "'path=/run/a.sock': not used by type=dpdk");
        assert_eq!(
            error_text("type=vhost-user path=/run/a.sock devargs=x"),
            "'devargs=x': not used by type=vhost-user"
        );
    }

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tunnel_ports_take_open_vswitch_options() {
        let config = parse("type=vxlan options:remote_ip=172.31.2.2 options:key=2000 ofport=9 tag=5").unwrap();
        let PortKind::Tunnel(tunnel) = &config.kind else { panic!("not a tunnel: {config:?}") };
        assert_eq!(tunnel.kind, TunnelKind::Vxlan);
        assert_eq!(tunnel.to_options(), options(&[("remote_ip", "172.31.2.2"), ("key", "2000")]));
        assert_eq!((config.ofport, config.tag), (Some(9), Some(5)));
        let all = "type=geneve options:remote_ip=flow options:local_ip=flow options:in_key=flow options:out_key=7 \
                   options:dst_port=6082 options:tos=inherit options:ttl=9 options:df_default=false options:csum=true";
        let PortKind::Tunnel(geneve) = parse(all).unwrap().kind else { panic!("not a tunnel") };
        assert_eq!(geneve.kind, TunnelKind::Geneve);
        assert_eq!(geneve.to_options().len(), 9, "{geneve:?}");
        assert_eq!(
            parse("type=patch options:peer=patch-int").unwrap().kind,
            PortKind::Patch { peer: "patch-int".into() }
        );
        assert!(matches!(parse("type=patch"), Err(SettingError::BadOption { .. })));
        assert!(matches!(parse("type=patch options:peer=x options:colour=red"), Err(SettingError::BadOption { .. })));
        assert!(matches!(parse("type=patch devargs=net_null0 options:peer=x"), Err(SettingError::NotForType { .. })));
        let PortKind::Tunnel(gre) = parse("type=gre options:remote_ip=fd00::2 options:key=0x10").unwrap().kind else {
            panic!("not a tunnel")
        };
        assert_eq!((gre.kind, gre.to_options().get("key").map(String::as_str)), (TunnelKind::Gre, Some("16")));
        // Flood-and-learn VXLAN: a group, or a head-end replication list (commas and colons in the value).
        let her = "type=vxlan options:remote_ip=flood:10.0.0.2,10.0.0.3 options:key=42 options:learn_aging=60";
        let PortKind::Tunnel(her) = parse(her).unwrap().kind else { panic!("not a tunnel") };
        assert_eq!(
            her.to_options(),
            options(&[("remote_ip", "flood:10.0.0.2,10.0.0.3"), ("key", "42"), ("learn_aging", "60")])
        );
        let PortKind::Tunnel(group) = parse("type=vxlan options:remote_ip=239.1.1.1 options:key=42").unwrap().kind
        else {
            panic!("not a tunnel")
        };
        assert!(group.flood.is_some());
        // The JSON add-port sends is the configuration's shape, options as strings.
        let json = serde_json::to_value(parse("type=vxlan options:remote_ip=172.31.2.2 options:key=2000").unwrap());
        assert_eq!(
            json.unwrap(),
            serde_json::json!({"name": "p1", "type": "vxlan", "options": {"remote_ip": "172.31.2.2", "key": "2000"},
                               "rx_queues": 1, "rxq_size": 1024, "txq_size": 1024})
        );
    }

    #[test]
    fn bad_tunnel_settings_name_the_word() {
        assert_eq!(
            error_text("type=vxlan options:remote_ip=172.31.2.2 options:key=abc"),
            "'options:key=abc': \"abc\" is neither a number (decimal or 0x hex) nor \"flow\""
        );
        assert_eq!(
            error_text("type=vxlan options:remote_ip=172.31.2.2 options:key=16777216"),
            "'options:key=16777216': 16777216 is out of range; a vxlan key is at most 16777215"
        );
        assert!(error_text("type=vxlan options:remote_ip=nope")
            .starts_with("'options:remote_ip=nope': \"nope\" is neither"));
        assert_eq!(
            error_text("type=vxlan options:key=1"),
            "'options:remote_ip': missing; a vxlan port needs remote_ip (an address or \"flow\")"
        );
        assert!(error_text("type=vxlan options:remote_ip=10.0.0.2 options:colour=red")
            .starts_with("'options:colour=red': unknown option of a vxlan port; expected one of: remote_ip,"));
        assert!(error_text("type=gre options:remote_ip=10.0.0.2 options:dst_port=4789")
            .starts_with("'options:dst_port=4789': "));
        assert_eq!(
            error_text("type=vxlan options:remote_ip=10.0.0.2 options:remote_ip=10.0.0.3"),
            "'options:remote_ip=10.0.0.3': key given more than once"
        );
        assert_eq!(error_text("type=vxlan options:remote_ip="), "'options:remote_ip=': empty value");
        assert!(error_text("type=vxlan options:=1").starts_with("'options:=1': no option name"));
        assert_eq!(error_text("type=vxlan options:remote_ip=10.0.0.2 mtu=1400"), "'mtu=1400': not used by type=vxlan");
        assert_eq!(error_text("type=gre options:remote_ip=10.0.0.2 devargs=x"), "'devargs=x': not used by type=gre");
        assert_eq!(
            error_text("type=dpdk devargs=x options:remote_ip=10.0.0.2"),
            "'options:remote_ip=10.0.0.2': not used by type=dpdk"
        );
        assert_eq!(
            error_text("options:remote_ip=10.0.0.2"),
            "missing 'type=dpdk|vhost-user|vhost-user-client|internal|patch|vxlan|geneve|gre'"
        );
    }

    #[test]
    fn first_bad_word_is_reported() {
        assert_eq!(error_text("mtu=x colour=red"), "'mtu=x': not a number in 0..=65535");
    }
}
