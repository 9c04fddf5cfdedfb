//! Builds a `Config` from a parsed TOML document: reads the switch-wide sections (`[dpdk]`,
//! `[pmd]`, `[control]`, `[switch]`, `[tls]`) over their defaults and checks their values; the
//! bridges are read by `bridge`.

use std::path::PathBuf;

use super::bridge::read_bridges;
use super::port::{check_name, MAX_SOCKET_PATH_LEN};
use super::reader::{KeyError, Section};
use super::{Config, ControlConfig, DpdkConfig, PmdConfig, PortErrorPolicy, SwitchConfig, TlsConfig};

const TOP_LEVEL_KEYS: &[&str] = &["dpdk", "pmd", "control", "switch", "tls", "bridge"];
const DPDK_KEYS: &[&str] =
    &["main_core", "memory_mb", "file_prefix", "in_memory", "no_pci", "mbufs", "mbuf_cache", "extra_args"];
const PMD_KEYS: &[&str] = &["cores", "idle_sleep_max_us"];
const CONTROL_KEYS: &[&str] = &["socket"];
const SWITCH_KEYS: &[&str] = &["on_port_error"];
const TLS_KEYS: &[&str] = &["private_key", "certificate", "ca_certificate"];

const MIN_MEMORY_MB: u32 = 64;
const MIN_MBUFS: u32 = 1024;
/// RTE_MEMPOOL_CACHE_MAX_SIZE.
const MAX_MBUF_CACHE: u32 = 512;

pub(super) fn config_from_table(table: &toml::Table) -> Result<Config, KeyError> {
    let root = Section::root(table);
    root.reject_unknown_keys(TOP_LEVEL_KEYS)?;
    let dpdk = match root.section("dpdk")? {
        Some(section) => read_dpdk(&section)?,
        None => DpdkConfig::default(),
    };
    let pmd = match root.section("pmd")? {
        Some(section) => read_pmd(&section, &dpdk)?,
        None => check_pmd(PmdConfig::default(), &dpdk)?,
    };
    let control = match root.section("control")? {
        Some(section) => read_control(&section)?,
        None => ControlConfig::default(),
    };
    let switch = match root.section("switch")? {
        Some(section) => read_switch(&section)?,
        None => SwitchConfig::default(),
    };
    let tls = match root.section("tls")? {
        Some(section) => Some(read_tls(&section)?),
        None => None,
    };
    let bridges = read_bridges(&root)?;
    for (index, bridge) in bridges.iter().enumerate() {
        for (target_index, target) in bridge.openflow.iter().enumerate() {
            target
                .check_tls_configured(tls.is_some())
                .map_err(|problem| KeyError::new(format!("bridge[{index}].openflow[{target_index}]"), problem))?;
        }
        let mgmt = control.mgmt_socket(&bridge.name);
        if mgmt.as_os_str().len() > MAX_SOCKET_PATH_LEN {
            return Err(KeyError::new(
                format!("bridge[{index}].name"),
                format!(
                    "the bridge's OpenFlow management socket {mgmt:?} (next to control.socket) is too long; \
                     a unix socket path can have at most {MAX_SOCKET_PATH_LEN} bytes"
                ),
            ));
        }
    }
    Ok(Config { dpdk, pmd, control, switch, bridges, tls })
}

fn read_dpdk(section: &Section) -> Result<DpdkConfig, KeyError> {
    section.reject_unknown_keys(DPDK_KEYS)?;
    let defaults = DpdkConfig::default();
    let dpdk = DpdkConfig {
        main_core: section.unsigned("main_core")?.unwrap_or(defaults.main_core),
        memory_mb: section.unsigned("memory_mb")?.unwrap_or(defaults.memory_mb),
        file_prefix: section.string("file_prefix")?.unwrap_or(defaults.file_prefix),
        in_memory: section.boolean("in_memory")?.unwrap_or(defaults.in_memory),
        no_pci: section.boolean("no_pci")?.unwrap_or(defaults.no_pci),
        mbufs: section.unsigned("mbufs")?.unwrap_or(defaults.mbufs),
        mbuf_cache: section.unsigned("mbuf_cache")?.unwrap_or(defaults.mbuf_cache),
        extra_args: section.strings("extra_args")?.unwrap_or(defaults.extra_args),
    };
    if dpdk.memory_mb < MIN_MEMORY_MB {
        return Err(
            section.error("memory_mb", format!("{} is too small; at least {MIN_MEMORY_MB} (MB)", dpdk.memory_mb))
        );
    }
    check_name(&dpdk.file_prefix).map_err(|problem| section.error("file_prefix", problem))?;
    if dpdk.mbufs < MIN_MBUFS {
        return Err(section.error("mbufs", format!("{} is too few; at least {MIN_MBUFS}", dpdk.mbufs)));
    }
    if dpdk.mbuf_cache > MAX_MBUF_CACHE {
        return Err(section.error("mbuf_cache", format!("{} is too large; at most {MAX_MBUF_CACHE}", dpdk.mbuf_cache)));
    }
    if let Some(index) = dpdk.extra_args.iter().position(String::is_empty) {
        return Err(section.error(&format!("extra_args[{index}]"), "must not be empty"));
    }
    Ok(dpdk)
}

fn read_pmd(section: &Section, dpdk: &DpdkConfig) -> Result<PmdConfig, KeyError> {
    section.reject_unknown_keys(PMD_KEYS)?;
    let defaults = PmdConfig::default();
    let pmd = PmdConfig {
        cores: section.unsigned_list("cores")?.unwrap_or(defaults.cores),
        idle_sleep_max_us: section.unsigned("idle_sleep_max_us")?.unwrap_or(defaults.idle_sleep_max_us),
    };
    check_pmd(pmd, dpdk)
}

/// Checks `[pmd]` against `[dpdk]`; also runs on the defaults when `[pmd]` is absent.
fn check_pmd(pmd: PmdConfig, dpdk: &DpdkConfig) -> Result<PmdConfig, KeyError> {
    if pmd.cores.is_empty() {
        return Err(KeyError::new("pmd.cores", "must list at least one core"));
    }
    for (index, core) in pmd.cores.iter().enumerate() {
        let key = format!("pmd.cores[{index}]");
        if pmd.cores[..index].contains(core) {
            return Err(KeyError::new(key, format!("core {core} is listed twice")));
        }
        if *core == dpdk.main_core {
            return Err(KeyError::new(
                key,
                format!(
                    "core {core} is dpdk.main_core (the management thread); \
                     PMD threads need cores of their own"
                ),
            ));
        }
    }
    Ok(pmd)
}

fn read_control(section: &Section) -> Result<ControlConfig, KeyError> {
    section.reject_unknown_keys(CONTROL_KEYS)?;
    let socket = match section.string("socket")? {
        Some(socket) => PathBuf::from(socket),
        None => ControlConfig::default().socket,
    };
    if socket.as_os_str().is_empty() {
        return Err(section.error("socket", "must not be empty"));
    }
    if socket.as_os_str().len() > MAX_SOCKET_PATH_LEN {
        return Err(section.error(
            "socket",
            format!("{socket:?} is too long; a unix socket path can have at most {MAX_SOCKET_PATH_LEN} bytes"),
        ));
    }
    Ok(ControlConfig { socket })
}

fn read_switch(section: &Section) -> Result<SwitchConfig, KeyError> {
    section.reject_unknown_keys(SWITCH_KEYS)?;
    let on_port_error = match section.string("on_port_error")?.as_deref() {
        None => PortErrorPolicy::default(),
        Some("continue") => PortErrorPolicy::Continue,
        Some("abort") => PortErrorPolicy::Abort,
        Some(other) => {
            return Err(
                section.error("on_port_error", format!("{other:?} is not a policy; use \"continue\" or \"abort\""))
            )
        }
    };
    Ok(SwitchConfig { on_port_error })
}

/// `[tls]`: all three files are required (a TLS identity without one of them is unusable).
fn read_tls(section: &Section) -> Result<TlsConfig, KeyError> {
    section.reject_unknown_keys(TLS_KEYS)?;
    let path = |key: &str, what: &str| -> Result<PathBuf, KeyError> {
        match section.string(key)? {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            Some(_) => Err(section.error(key, "must not be empty")),
            None => Err(section.error(key, format!("missing; [tls] needs the PEM file of {what}"))),
        }
    };
    Ok(TlsConfig {
        private_key: path("private_key", "the switch's private key")?,
        certificate: path("certificate", "the switch's certificate")?,
        ca_certificate: path("ca_certificate", "the CA certificate that peers' certificates must chain to")?,
    })
}
