//! vsctl's command line: the clap definitions, and their translation into one
//! `Invocation` (socket, timeout, output style and the `Request` to send).
//!
//! Every mistake on the command line, including a malformed `add-port` setting,
//! comes back as a `clap::Error`, so it is reported with usage and exit code 2
//! before anything is sent.
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::client::LONGEST_TIMEOUT;
use crate::port_settings::port_config_from_settings;
use crate::proto::{Request, DEFAULT_SOCKET};

/// Seconds vsctl waits for vswitchd when `--timeout` is not given.
const DEFAULT_TIMEOUT_SECS: &str = "10";

/// Talk to a running vswitchd over its control socket.
#[derive(Debug, Parser)]
#[command(name = "vsctl", version, propagate_version = true)]
struct Cli {
    /// Control socket of vswitchd [default: $VSWITCH_SOCKET, else /run/vswitch/vswitchd.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// Print the daemon's reply as pretty JSON instead of tables
    #[arg(long, global = true)]
    json: bool,

    /// Give up when vswitchd has not answered within SECS seconds (fractions allowed)
    #[arg(long, global = true, value_name = "SECS", default_value = DEFAULT_TIMEOUT_SECS,
          value_parser = parse_timeout, allow_negative_numbers = true)]
    timeout: Duration,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bridges and their ports: ofport, type, target, link, speed, MAC, MTU, queues
    Show,
    /// Port counters: packets, bytes, misses, errors and drops by reason
    PortStats {
        /// Only this port (default: all ports)
        port: Option<String>,
    },
    /// Per-PMD counters: packets, bursts, cycles per packet, busy share, sleeps
    PmdStats,
    /// Zero the per-PMD counters (port counters stay)
    PmdStatsClear,
    /// Which PMD core polls which receive queue
    PmdRxqShow,
    /// The flow rules of a bridge, one ovs-ofctl style line each
    DumpFlows {
        /// Bridge name
        bridge: String,
    },
    /// Packet buffer pool usage
    Mempool,
    /// Add a port to a running bridge
    #[command(after_help = "Settings:\n  \
        type=TYPE          required: dpdk, vhost-user or vhost-user-client\n  \
        devargs=DEVARGS    required for type=dpdk: PCI address or vdev (net_tap0,iface=tap0)\n  \
        path=SOCKET        required for type=vhost-user and vhost-user-client\n  \
        ofport=N           OpenFlow port number (default: first free)\n  \
        rx_queues=N        receive queues (default 1)\n  \
        rxq_size=N         receive ring size (default 1024)\n  \
        txq_size=N         transmit ring size (default 1024)\n  \
        mtu=N              MTU (default: the device's)\n\n\
        Example: vsctl add-port br0 vm1 type=vhost-user-client path=/run/vswitch/vm1.sock")]
    AddPort {
        /// Bridge to add the port to
        bridge: String,
        /// Name of the new port
        name: String,
        /// Port settings, see below
        #[arg(value_name = "KEY=VALUE", required = true)]
        settings: Vec<String>,
    },
    /// Remove a port from whichever bridge has it
    DelPort {
        /// Port name
        name: String,
    },
}

/// What one run of vsctl does: which daemon, how long to wait, what to ask, how to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub socket: PathBuf,
    pub timeout: Duration,
    pub json: bool,
    pub request: Request,
}

/// Parses the command line (`args` includes the program name). `socket_env` is
/// the value of $VSWITCH_SOCKET, used when `--socket` is absent.
pub fn parse_invocation<I, T>(args: I, socket_env: Option<OsString>) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let request = request_for(cli.command)?;
    Ok(Invocation { socket: resolve_socket(cli.socket, socket_env), timeout: cli.timeout, json: cli.json, request })
}

/// `--socket`, else a non-empty $VSWITCH_SOCKET, else the built-in default.
fn resolve_socket(flag: Option<PathBuf>, socket_env: Option<OsString>) -> PathBuf {
    flag.or_else(|| socket_env.filter(|value| !value.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

fn request_for(command: Command) -> Result<Request, clap::Error> {
    Ok(match command {
        Command::Show => Request::Show,
        Command::PortStats { port } => Request::PortStats { port },
        Command::PmdStats => Request::PmdStats,
        Command::PmdStatsClear => Request::PmdStatsClear,
        Command::PmdRxqShow => Request::RxqShow,
        Command::DumpFlows { bridge } => Request::DumpFlows { bridge },
        Command::Mempool => Request::Mempool,
        Command::AddPort { bridge, name, settings } => {
            let port = port_config_from_settings(&name, &settings)
                .map_err(|error| usage_error("add-port", &error.to_string()))?;
            Request::AddPort { bridge, port }
        }
        Command::DelPort { name } => Request::DelPort { port: name },
    })
}

/// A usage error for `subcommand`, formatted by clap like its own errors
/// (message, the subcommand's usage line, exit code 2).
fn usage_error(subcommand: &str, message: &str) -> clap::Error {
    let mut command = Cli::command();
    command.build();
    match command.find_subcommand_mut(subcommand) {
        Some(subcommand) => subcommand.error(ErrorKind::ValueValidation, message),
        None => command.error(ErrorKind::ValueValidation, message),
    }
}

/// `--timeout`: a positive number of seconds, fractions allowed.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("'{text}': the timeout must be more than 0 seconds"));
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) if !timeout.is_zero() && timeout <= LONGEST_TIMEOUT => Ok(timeout),
        _ => Err(format!("'{text}': the timeout must be between 0 and {} seconds", LONGEST_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::proto::{PortConfig, PortKind};

    fn parse(args: &str) -> Result<Invocation, clap::Error> {
        parse_invocation(args.split_whitespace(), None)
    }

    fn request(args: &str) -> Request {
        parse(args).unwrap().request
    }

    fn usage_error_text(args: &str) -> String {
        let error = parse(args).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{args}: {error}");
        error.render().to_string()
    }

    #[test]
    fn every_subcommand_maps_to_its_request() {
        assert_eq!(request("vsctl show"), Request::Show);
        assert_eq!(request("vsctl port-stats"), Request::PortStats { port: None });
        assert_eq!(request("vsctl port-stats p1"), Request::PortStats { port: Some("p1".into()) });
        assert_eq!(request("vsctl pmd-stats"), Request::PmdStats);
        assert_eq!(request("vsctl pmd-stats-clear"), Request::PmdStatsClear);
        assert_eq!(request("vsctl pmd-rxq-show"), Request::RxqShow);
        assert_eq!(request("vsctl dump-flows br0"), Request::DumpFlows { bridge: "br0".into() });
        assert_eq!(request("vsctl mempool"), Request::Mempool);
        assert_eq!(request("vsctl del-port vm1"), Request::DelPort { port: "vm1".into() });
    }

    #[test]
    fn add_port_builds_a_port_config() {
        let expected = Request::AddPort {
            bridge: "br0".into(),
            port: PortConfig {
                name: "vm1".into(),
                ofport: Some(3),
                kind: PortKind::VhostUserClient { path: PathBuf::from("/run/vm1.sock") },
                rx_queues: 2,
                rxq_size: 1024,
                txq_size: 1024,
                mtu: None,
            },
        };
        assert_eq!(
            request("vsctl add-port br0 vm1 type=vhost-user-client path=/run/vm1.sock ofport=3 rx_queues=2"),
            expected
        );
    }

    #[test]
    fn defaults() {
        let invocation = parse("vsctl show").unwrap();
        assert_eq!(invocation.socket, Path::new(DEFAULT_SOCKET));
        assert_eq!(invocation.timeout, Duration::from_secs(10));
        assert!(!invocation.json);
    }

    #[test]
    fn global_options_before_or_after_the_subcommand() {
        let before = parse("vsctl --socket /tmp/a.sock --json --timeout 2.5 show").unwrap();
        let after = parse("vsctl show --socket /tmp/a.sock --json --timeout 2.5").unwrap();
        assert_eq!(before, after);
        assert_eq!(before.socket, Path::new("/tmp/a.sock"));
        assert_eq!(before.timeout, Duration::from_millis(2500));
        assert!(before.json);
        let longest = parse("vsctl --timeout 86400 show").unwrap();
        assert_eq!(longest.timeout, Duration::from_secs(86_400));
    }

    #[test]
    fn socket_flag_beats_environment_beats_default() {
        let from_env = parse_invocation(["vsctl", "show"], Some("/tmp/env.sock".into())).unwrap();
        assert_eq!(from_env.socket, Path::new("/tmp/env.sock"));
        let from_flag =
            parse_invocation(["vsctl", "--socket", "/tmp/flag.sock", "show"], Some("/tmp/env.sock".into())).unwrap();
        assert_eq!(from_flag.socket, Path::new("/tmp/flag.sock"));
        let empty_env = parse_invocation(["vsctl", "show"], Some(OsString::new())).unwrap();
        assert_eq!(empty_env.socket, Path::new(DEFAULT_SOCKET));
    }

    #[test]
    fn bad_timeouts_are_usage_errors() {
        for bad in ["0", "-1", "abc", "inf", "NaN", "1e300", "86401", "1e-12"] {
            let text = usage_error_text(&format!("vsctl --timeout {bad} show"));
            assert!(text.contains("--timeout"), "{bad}: {text}");
        }
    }

    #[test]
    fn unknown_subcommand_and_missing_arguments_are_usage_errors() {
        assert!(usage_error_text("vsctl frobnicate").contains("unrecognized subcommand 'frobnicate'"));
        assert!(usage_error_text("vsctl").contains("Usage: vsctl"));
        assert!(usage_error_text("vsctl dump-flows").contains("<BRIDGE>"));
        assert!(usage_error_text("vsctl del-port").contains("<NAME>"));
        assert!(usage_error_text("vsctl add-port br0 vm1").contains("<KEY=VALUE>..."));
        assert!(usage_error_text("vsctl show extra").contains("unexpected argument 'extra'"));
        assert!(usage_error_text("vsctl show --bogus").contains("unexpected argument '--bogus'"));
    }

    #[test]
    fn bad_add_port_settings_are_usage_errors_naming_the_word() {
        let text = usage_error_text("vsctl add-port br0 p1 type=dpdk devargs=x mtu=big");
        assert!(text.contains("error: 'mtu=big': not a number in 0..=65535"), "{text}");
        assert!(text.contains("Usage: vsctl add-port [OPTIONS] <BRIDGE> <NAME> <KEY=VALUE>..."), "{text}");
        let text = usage_error_text("vsctl add-port br0 p1 devargs=x");
        assert!(text.contains("missing 'type=dpdk|vhost-user|vhost-user-client'"), "{text}");
        let text = usage_error_text("vsctl add-port br0 p1 type=dpdk nonsense");
        assert!(text.contains("'nonsense': expected KEY=VALUE"), "{text}");
    }

    #[test]
    fn help_and_version_exit_zero() {
        for args in ["vsctl --help", "vsctl add-port --help", "vsctl --version"] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.exit_code(), 0, "{args}");
        }
        let help = parse("vsctl add-port --help").unwrap_err().render().to_string();
        assert!(help.contains("type=TYPE          required: dpdk, vhost-user or vhost-user-client"), "{help}");
    }
}
