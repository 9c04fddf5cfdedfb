//! Tests of the configuration: valid files, every validation rule (asserting the key path and the
//! problem in the message), the JSON shape of `PortConfig`, the shipped files and random input.

use std::path::{Path, PathBuf};

use super::bridge::derived_datapath_id;
use super::*;
use crate::flow::test_random::XorShift;
use crate::flow::{Action, OfPort};
use crate::pipeline::xlate::VlanMode;

const ORIGIN: &str = "test.toml";

fn parse(text: &str) -> Config {
    match Config::parse(text, Path::new(ORIGIN)) {
        Ok(config) => config,
        Err(error) => panic!("expected a valid config, got: {error}\n{text}"),
    }
}

fn error(text: &str) -> String {
    match Config::parse(text, Path::new(ORIGIN)) {
        Ok(config) => panic!("expected an error, got {config:?}\n{text}"),
        Err(error) => error.to_string(),
    }
}

/// Asserts that `text` is rejected with `<file>: <key>: ...` and a message containing `problem`.
fn assert_rejected(text: &str, key: &str, problem: &str) {
    let message = error(text);
    let prefix = format!("{ORIGIN}: {key}: ");
    assert!(message.starts_with(&prefix), "message {message:?} does not start with {prefix:?}");
    assert!(message.contains(problem), "message {message:?} does not mention {problem:?}");
}

/// A bridge br0 with a dpdk port p1 whose table gets `extra` appended.
fn with_dpdk_port(extra: &str) -> String {
    format!(
        "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p1\"\ntype = \"dpdk\"\n\
         devargs = \"net_null0\"\n{extra}\n"
    )
}

/// `[dpdk]` with `body` plus a minimal bridge.
fn with_dpdk_section(body: &str) -> String {
    format!("[dpdk]\n{body}\n[[bridge]]\nname = \"br0\"\n")
}

const FULL: &str = r#"
[dpdk]
main_core = 2
memory_mb = 1024
file_prefix = "vsw-test"
in_memory = false
no_pci = true
mbufs = 8192
mbuf_cache = 128
extra_args = ["--log-level", "lib.eal:debug"]

[pmd]
cores = [3, 5]
idle_sleep_max_us = 250

[control]
socket = "/tmp/vsw.sock"

[switch]
on_port_error = "abort"

[[bridge]]
name = "br0"
flows = ["priority=10,in_port=1,actions=output:2", "in_port=2,actions=output:1"]

[[bridge.port]]
name = "p1"
type = "dpdk"
devargs = "net_pcap0,rx_pcap=/tmp/in.pcap"
ofport = 1
rx_queues = 4
rxq_size = 2048
txq_size = 512
mtu = 9000
trunks = [10, 20]

[[bridge.port]]
name = "vm1"
type = "vhost-user"
path = "/run/vswitch/vm1.sock"
tag = 10

[[bridge]]
name = "br1"

[[bridge.port]]
name = "vm2"
type = "vhost-user-client"
path = "/run/vswitch/vm2.sock"
ofport = 7
"#;

#[test]
fn full_config_is_read() {
    let config = parse(FULL);
    assert_eq!(
        config.dpdk,
        DpdkConfig {
            main_core: 2,
            memory_mb: 1024,
            file_prefix: "vsw-test".into(),
            in_memory: false,
            no_pci: true,
            mbufs: 8192,
            mbuf_cache: 128,
            extra_args: vec!["--log-level".into(), "lib.eal:debug".into()],
        }
    );
    assert_eq!(config.pmd, PmdConfig { cores: vec![3, 5], idle_sleep_max_us: 250 });
    assert_eq!(config.control.socket, PathBuf::from("/tmp/vsw.sock"));
    assert_eq!(config.switch.on_port_error, PortErrorPolicy::Abort);
    assert_eq!(config.bridges.len(), 2);

    let br0 = &config.bridges[0];
    assert_eq!(br0.name, "br0");
    assert_eq!(
        br0.ports[0],
        PortConfig {
            name: "p1".into(),
            ofport: Some(1),
            kind: PortKind::Dpdk { devargs: "net_pcap0,rx_pcap=/tmp/in.pcap".into() },
            rx_queues: 4,
            rxq_size: 2048,
            txq_size: 512,
            mtu: Some(9000),
            tag: None,
            trunks: vec![10, 20],
        }
    );
    assert_eq!(
        br0.ports[1],
        PortConfig {
            name: "vm1".into(),
            ofport: Some(2),
            kind: PortKind::VhostUser { path: "/run/vswitch/vm1.sock".into() },
            rx_queues: 1,
            rxq_size: 1024,
            txq_size: 1024,
            mtu: None,
            tag: Some(10),
            trunks: Vec::new(),
        }
    );
    assert_eq!(br0.flows.len(), 2);
    assert_eq!(br0.flows[0].priority, 10);
    assert_eq!(br0.flows[0].matches.in_port(), Some(OfPort(1)));
    assert_eq!(br0.flows[0].instructions.apply_actions, [Action::output(OfPort(2))]);
    assert_eq!(br0.flows[1].to_string(), "in_port=2 actions=output:1");

    let br1 = &config.bridges[1];
    assert_eq!(br1.name, "br1");
    assert!(br1.flows.is_empty());
    assert_eq!(br1.ports[0].ofport, Some(7));
    assert_eq!(br1.ports[0].kind, PortKind::VhostUserClient { path: "/run/vswitch/vm2.sock".into() });
    assert_eq!(br1.ports[0].kind.type_name(), "vhost-user-client");
    assert_eq!((br1.ports[0].tag, br1.ports[0].trunks.as_slice()), (None, &[][..]));
}

#[test]
fn absent_sections_take_their_defaults() {
    let config = parse("[[bridge]]\nname = \"br0\"\n");
    assert_eq!(config.dpdk, DpdkConfig::default());
    assert_eq!(config.dpdk.main_core, 0);
    assert_eq!(config.dpdk.memory_mb, 512);
    assert_eq!(config.dpdk.file_prefix, "vswitch");
    assert!(config.dpdk.in_memory);
    assert!(!config.dpdk.no_pci);
    assert_eq!(config.dpdk.mbufs, 32768);
    assert_eq!(config.dpdk.mbuf_cache, 256);
    assert!(config.dpdk.extra_args.is_empty());
    assert_eq!(config.pmd.cores, vec![1]);
    assert_eq!(config.pmd.idle_sleep_max_us, 0);
    assert_eq!(config.control.socket, PathBuf::from(crate::control::protocol::DEFAULT_SOCKET));
    assert_eq!(config.switch.on_port_error, PortErrorPolicy::Continue);
    assert_eq!(config.bridges[0].ports, Vec::new());
    assert_eq!(config.bridges[0].flows, Vec::new());
}

#[test]
fn empty_sections_take_their_defaults() {
    let config = parse("[dpdk]\n[pmd]\n[control]\n[switch]\n[[bridge]]\nname = \"br0\"\n");
    assert_eq!(config.dpdk, DpdkConfig::default());
    assert_eq!(config.pmd, PmdConfig::default());
    assert_eq!(config.control, ControlConfig::default());
    assert_eq!(config.switch, SwitchConfig::default());
}

#[test]
fn automatic_ofports_take_the_first_free_numbers_in_order() {
    let text = r#"
[[bridge]]
name = "br0"
flows = ["in_port=2,actions=output:4"]
[[bridge.port]]
name = "a"
type = "dpdk"
devargs = "net_null0"
[[bridge.port]]
name = "b"
type = "dpdk"
devargs = "net_null1"
ofport = 1
[[bridge.port]]
name = "c"
type = "dpdk"
devargs = "net_null2"
[[bridge.port]]
name = "d"
type = "dpdk"
devargs = "net_null3"
ofport = 3
[[bridge.port]]
name = "e"
type = "dpdk"
devargs = "net_null4"
"#;
    let config = parse(text);
    let ofports: Vec<Option<u32>> = config.bridges[0].ports.iter().map(|p| p.ofport).collect();
    assert_eq!(ofports, vec![Some(2), Some(1), Some(4), Some(3), Some(5)]);
}

#[test]
fn ofports_are_per_bridge() {
    let text = r#"
[[bridge]]
name = "br0"
[[bridge.port]]
name = "a"
type = "dpdk"
devargs = "net_null0"
[[bridge]]
name = "br1"
[[bridge.port]]
name = "b"
type = "dpdk"
devargs = "net_null1"
"#;
    let config = parse(text);
    assert_eq!(config.bridges[0].ports[0].ofport, Some(1));
    assert_eq!(config.bridges[1].ports[0].ofport, Some(1));
}

#[test]
fn eal_args_follow_the_dpdk_section() {
    let config = parse(FULL);
    assert_eq!(
        config.eal_args(),
        [
            "vswitchd",
            "-l",
            "2",
            "--main-lcore",
            "2",
            "--file-prefix",
            "vsw-test",
            "-m",
            "1024",
            "--no-pci",
            "--log-level",
            "lib.eal:debug"
        ]
    );
    let defaults = parse("[[bridge]]\nname = \"br0\"\n");
    assert_eq!(
        defaults.eal_args(),
        ["vswitchd", "-l", "0", "--main-lcore", "0", "--file-prefix", "vswitch", "-m", "512", "--in-memory"]
    );
}

#[test]
fn syntax_errors_give_file_line_and_column() {
    let message = error("[dpdk]\nmain_core = 0\nmemory_mb = \n");
    assert!(message.starts_with("test.toml:3:13: "), "{message}");
    assert!(!message.contains('\n'), "{message}");

    let message = error("[dpdk]\nmain_core = 0\nmain_core = 1\n");
    assert!(message.starts_with("test.toml:3:"), "{message}");
    assert!(message.contains("duplicate"), "{message}");

    let message = error("# \u{e9}\u{e9}\nname = \"x\" y\n");
    assert!(message.starts_with("test.toml:2:"), "{message}");
}

#[test]
fn missing_file_names_the_file() {
    let path = Path::new("/nonexistent/vswitch.toml");
    let message = Config::load(path).unwrap_err().to_string();
    assert!(message.starts_with("/nonexistent/vswitch.toml: cannot read: "), "{message}");
}

#[test]
fn load_reads_a_file() {
    let path = std::env::temp_dir().join(format!("vswitch-config-test-{}.toml", std::process::id()));
    std::fs::write(&path, with_dpdk_port("ofport = 9")).unwrap();
    let loaded = Config::load(&path);
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded.unwrap().bridges[0].ports[0].ofport, Some(9));

    let bad = std::env::temp_dir().join(format!("vswitch-config-bad-{}.toml", std::process::id()));
    std::fs::write(&bad, with_dpdk_port("mtu = 1")).unwrap();
    let message = Config::load(&bad).unwrap_err().to_string();
    let _ = std::fs::remove_file(&bad);
    assert!(message.starts_with(&format!("{}: bridge[0].port[0].mtu: ", bad.display())), "{message}");
}

#[test]
fn unknown_keys_are_rejected_everywhere() {
    assert_rejected("[dpdkk]\n", "dpdkk", "unknown key");
    assert_rejected("[dpdk]\nmemory = 512\n", "dpdk.memory", "unknown key");
    assert_rejected("[pmd]\ncore = [1]\n", "pmd.core", "unknown key");
    assert_rejected("[control]\npath = \"/x\"\n", "control.path", "unknown key");
    assert_rejected("[switch]\nfoo = 1\n", "switch.foo", "unknown key");
    assert_rejected(
        "[[bridge]]\nname = \"br0\"\nports = []\n",
        "bridge[0].ports",
        "unknown key; expected one of: name, port, flows",
    );
    assert_rejected(&with_dpdk_port("queues = 2"), "bridge[0].port[0].queues", "unknown key");
}

#[test]
fn port_type_selects_its_keys() {
    let vhost_with_devargs = "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"vm1\"\n\
        type = \"vhost-user\"\npath = \"/run/vm1.sock\"\ndevargs = \"net_null0\"\n";
    assert_rejected(
        vhost_with_devargs,
        "bridge[0].port[0].devargs",
        "only ports of type \"dpdk\" take devargs; this port is type \"vhost-user\"",
    );
    assert_rejected(
        &with_dpdk_port("path = \"/run/x.sock\""),
        "bridge[0].port[0].path",
        "only vhost-user and vhost-user-client ports take a path",
    );
    let dpdk_without_devargs = "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p1\"\ntype = \"dpdk\"\n";
    assert_rejected(dpdk_without_devargs, "bridge[0].port[0].devargs", "missing");
    let client_without_path = "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"vm1\"\n\
        type = \"vhost-user-client\"\n";
    assert_rejected(
        client_without_path,
        "bridge[0].port[0].path",
        "missing; a port of type \"vhost-user-client\" needs",
    );
    let no_type = "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p1\"\n";
    assert_rejected(no_type, "bridge[0].port[0].type", "missing");
    let bad_type = "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p1\"\ntype = \"tap\"\n";
    assert_rejected(bad_type, "bridge[0].port[0].type", "\"tap\" is not a port type");
    let no_name = "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\ntype = \"dpdk\"\n";
    assert_rejected(no_name, "bridge[0].port[0].name", "missing");
}

#[test]
fn values_of_the_wrong_type_are_rejected() {
    assert_rejected(
        &with_dpdk_section("memory_mb = \"512\""),
        "dpdk.memory_mb",
        "expected a non-negative integer, found a string",
    );
    assert_rejected(&with_dpdk_section("memory_mb = -1"), "dpdk.memory_mb", "-1 is out of range");
    assert_rejected(&with_dpdk_section("no_pci = \"yes\""), "dpdk.no_pci", "expected true or false, found a string");
    assert_rejected(
        &with_dpdk_section("extra_args = [\"-v\", 3]"),
        "dpdk.extra_args[1]",
        "expected a string, found an integer",
    );
    assert_rejected(&with_dpdk_section("extra_args = \"-v\""), "dpdk.extra_args", "expected an array");
    assert_rejected("pmd = 1\n[[bridge]]\nname = \"br0\"\n", "pmd", "expected a [pmd] table, found an integer");
    assert_rejected(
        "[pmd]\ncores = [1, \"2\"]\n[[bridge]]\nname = \"br0\"\n",
        "pmd.cores[1]",
        "expected a non-negative integer, found a string",
    );
    assert_rejected(
        "[bridge]\nname = \"br0\"\n",
        "bridge",
        "expected an array of tables (write [[bridge]]), found a table",
    );
    assert_rejected("[[bridge]]\nname = \"br0\"\n[bridge.port]\nname = \"p1\"\n", "bridge[0].port", "[[bridge.port]]");
    assert_rejected("bridge = [1]\n", "bridge[0]", "expected a table (write [[bridge]]), found an integer");
    assert_rejected(&with_dpdk_port("ofport = 1.5"), "bridge[0].port[0].ofport", "found a float");
    assert_rejected(&with_dpdk_port("rx_queues = 70000"), "bridge[0].port[0].rx_queues", "70000 is out of range");
}

#[test]
fn at_least_one_bridge() {
    assert_rejected("", "bridge", "no bridge configured");
    assert_rejected("[dpdk]\nmain_core = 0\n", "bridge", "no bridge configured");
}

#[test]
fn bridge_names() {
    assert_rejected("[[bridge]]\n", "bridge[0].name", "missing");
    assert_rejected("[[bridge]]\nname = \"\"\n", "bridge[0].name", "must not be empty");
    assert_rejected(
        "[[bridge]]\nname = \"br0\"\n[[bridge]]\nname = \"br0\"\n",
        "bridge[1].name",
        "\"br0\" is already the name of bridge[0]",
    );
    assert_rejected("[[bridge]]\nname = \"br 0\"\n", "bridge[0].name", "contains ' '");
}

#[test]
fn port_names() {
    assert_rejected(
        &with_dpdk_port("").replace("name = \"p1\"", "name = \"\""),
        "bridge[0].port[0].name",
        "must not be empty",
    );
    let long = "p".repeat(33);
    assert_rejected(
        &with_dpdk_port("").replace("name = \"p1\"", &format!("name = \"{long}\"")),
        "bridge[0].port[0].name",
        "is 33 characters long; at most 32",
    );
    let longest = "p".repeat(32);
    parse(&with_dpdk_port("").replace("name = \"p1\"", &format!("name = \"{longest}\"")));
    for bad in ["p/1", "p 1", "p:1", "p\u{e9}", "p,1"] {
        assert_rejected(
            &with_dpdk_port("").replace("name = \"p1\"", &format!("name = \"{bad}\"")),
            "bridge[0].port[0].name",
            "use only letters, digits, '_', '.' and '-'",
        );
    }
    parse(&with_dpdk_port("").replace("name = \"p1\"", "name = \"Aa0_.-\""));
}

#[test]
fn port_names_are_unique_across_bridges() {
    let text = r#"
[[bridge]]
name = "br0"
[[bridge.port]]
name = "p1"
type = "dpdk"
devargs = "net_null0"
[[bridge]]
name = "br1"
[[bridge.port]]
name = "p2"
type = "dpdk"
devargs = "net_null1"
[[bridge.port]]
name = "p1"
type = "dpdk"
devargs = "net_null2"
"#;
    assert_rejected(text, "bridge[1].port[1].name", "\"p1\" is already the name of bridge[0].port[0]");
}

#[test]
fn devargs_and_socket_paths_are_unique() {
    let text = r#"
[[bridge]]
name = "br0"
[[bridge.port]]
name = "p1"
type = "dpdk"
devargs = "net_null0"
[[bridge.port]]
name = "p2"
type = "dpdk"
devargs = "net_null0,no-rx=1"
"#;
    assert_rejected(text, "bridge[0].port[1].devargs", "DPDK device \"net_null0\" is already used by port \"p1\"");
    let text = r#"
[[bridge]]
name = "br0"
[[bridge.port]]
name = "vm1"
type = "vhost-user"
path = "/run/vm.sock"
[[bridge]]
name = "br1"
[[bridge.port]]
name = "vm2"
type = "vhost-user-client"
path = "/run/vm.sock"
"#;
    assert_rejected(text, "bridge[1].port[0].path", "already used by port \"vm1\"");
}

#[test]
fn ofports() {
    let duplicate = r#"
[[bridge]]
name = "br0"
[[bridge.port]]
name = "p1"
type = "dpdk"
devargs = "net_null0"
ofport = 5
[[bridge.port]]
name = "p2"
type = "dpdk"
devargs = "net_null1"
ofport = 5
"#;
    assert_rejected(duplicate, "bridge[0].port[1].ofport", "5 is already the ofport of port \"p1\" (port[0])");
    assert_rejected(&with_dpdk_port("ofport = 0"), "bridge[0].port[0].ofport", "0 is out of range; use 1..=65279");
    assert_rejected(&with_dpdk_port("ofport = 65280"), "bridge[0].port[0].ofport", "65280 is out of range");
    parse(&with_dpdk_port("ofport = 65279"));
}

#[test]
fn pmd_cores() {
    assert_rejected("[pmd]\ncores = []\n[[bridge]]\nname = \"br0\"\n", "pmd.cores", "must list at least one core");
    assert_rejected("[pmd]\ncores = [1, 2, 1]\n[[bridge]]\nname = \"br0\"\n", "pmd.cores[2]", "core 1 is listed twice");
    assert_rejected(
        "[dpdk]\nmain_core = 2\n[pmd]\ncores = [1, 2]\n[[bridge]]\nname = \"br0\"\n",
        "pmd.cores[1]",
        "core 2 is dpdk.main_core",
    );
    assert_rejected("[dpdk]\nmain_core = 1\n[[bridge]]\nname = \"br0\"\n", "pmd.cores[0]", "core 1 is dpdk.main_core");
    let config = parse("[pmd]\ncores = [1, 200]\n[[bridge]]\nname = \"br0\"\n");
    assert_eq!(config.pmd.cores, vec![1, 200]);
}

#[test]
fn queues() {
    parse(&with_dpdk_port("rx_queues = 1"));
    parse(&with_dpdk_port("rx_queues = 64"));
    for bad in [0, 65] {
        assert_rejected(
            &with_dpdk_port(&format!("rx_queues = {bad}")),
            "bridge[0].port[0].rx_queues",
            &format!("{bad} is out of range; use 1..=64"),
        );
    }
    for good in [64, 128, 1024, 4096] {
        parse(&with_dpdk_port(&format!("rxq_size = {good}\ntxq_size = {good}")));
    }
    for bad in [0, 32, 1000, 8192] {
        assert_rejected(
            &with_dpdk_port(&format!("rxq_size = {bad}")),
            "bridge[0].port[0].rxq_size",
            &format!("{bad} is not a power of two in 64..=4096"),
        );
        assert_rejected(
            &with_dpdk_port(&format!("txq_size = {bad}")),
            "bridge[0].port[0].txq_size",
            &format!("{bad} is not a power of two in 64..=4096"),
        );
    }
}

#[test]
fn mtu() {
    parse(&with_dpdk_port("mtu = 68"));
    parse(&with_dpdk_port("mtu = 9600"));
    for bad in [67, 9601] {
        assert_rejected(
            &with_dpdk_port(&format!("mtu = {bad}")),
            "bridge[0].port[0].mtu",
            &format!("{bad} is out of range; use 68..=9600"),
        );
    }
}

#[test]
fn vlan_tag_and_trunks() {
    let port = |extra: &str| parse(&with_dpdk_port(extra)).bridges[0].ports[0].clone();
    assert_eq!(port("tag = 1").tag, Some(1));
    assert_eq!(port("tag = 4094").tag, Some(4094));
    assert_eq!(port("trunks = [0, 4095, 7]").trunks, vec![0, 4095, 7]);
    let plain = port("trunks = []");
    assert_eq!((plain.tag, plain.trunks.as_slice()), (None, &[][..]));
    for bad in [0, 4095] {
        assert_rejected(
            &with_dpdk_port(&format!("tag = {bad}")),
            "bridge[0].port[0].tag",
            &format!("{bad} is out of range; use 1..=4094"),
        );
    }
    assert_rejected(&with_dpdk_port("tag = 65536"), "bridge[0].port[0].tag", "65536 is out of range");
    assert_rejected(&with_dpdk_port("tag = \"10\""), "bridge[0].port[0].tag", "found a string");
    assert_rejected(
        &with_dpdk_port("trunks = [10, 4096]"),
        "bridge[0].port[0].trunks[1]",
        "4096 is out of range; use 0..=4095",
    );
    assert_rejected(&with_dpdk_port("trunks = [10, -1]"), "bridge[0].port[0].trunks[1]", "-1 is out of range");
    assert_rejected(
        &with_dpdk_port("trunks = [10, 20, 10]"),
        "bridge[0].port[0].trunks[2]",
        "10 is already listed as trunks[0]",
    );
    assert_rejected(&with_dpdk_port("trunks = 10"), "bridge[0].port[0].trunks", "expected an array, found an integer");
    assert_rejected(
        &with_dpdk_port("tag = 10\ntrunks = [10]"),
        "bridge[0].port[0].trunks",
        "a port is either an access port (tag) or a trunk (trunks)",
    );
    // An empty trunk list is "no trunks given", so it goes with a tag.
    assert_eq!(port("tag = 10\ntrunks = []").tag, Some(10));
}

#[test]
fn vlan_mode_for_normal() {
    let port = |extra: &str| parse(&with_dpdk_port(extra)).bridges[0].ports[0].clone();
    assert_eq!(VlanMode::from(&port("tag = 10")), VlanMode::Access(10));
    assert_eq!(VlanMode::from(&port("trunks = [10, 20]")), VlanMode::Trunk(vec![10, 20]));
    assert_eq!(VlanMode::from(&port("")), VlanMode::Trunk(Vec::new()));
}

#[test]
fn dpdk_limits() {
    parse(&with_dpdk_section("memory_mb = 64\nmbufs = 1024\nmbuf_cache = 512"));
    parse(&with_dpdk_section("mbuf_cache = 0"));
    assert_rejected(&with_dpdk_section("memory_mb = 63"), "dpdk.memory_mb", "63 is too small; at least 64");
    assert_rejected(&with_dpdk_section("mbufs = 1023"), "dpdk.mbufs", "1023 is too few; at least 1024");
    assert_rejected(&with_dpdk_section("mbuf_cache = 513"), "dpdk.mbuf_cache", "513 is too large; at most 512");
    assert_rejected(&with_dpdk_section("file_prefix = \"\""), "dpdk.file_prefix", "must not be empty");
    assert_rejected(&with_dpdk_section("file_prefix = \"a/b\""), "dpdk.file_prefix", "contains '/'");
    assert_rejected(&with_dpdk_section("extra_args = [\"-v\", \"\"]"), "dpdk.extra_args[1]", "must not be empty");
}

#[test]
fn control_and_switch() {
    assert_rejected("[control]\nsocket = \"\"\n[[bridge]]\nname = \"br0\"\n", "control.socket", "must not be empty");
    let long = format!("/{}", "s".repeat(200));
    assert_rejected(
        &format!("[control]\nsocket = \"{long}\"\n[[bridge]]\nname = \"br0\"\n"),
        "control.socket",
        "too long",
    );
    assert_rejected(
        "[switch]\non_port_error = \"ignore\"\n[[bridge]]\nname = \"br0\"\n",
        "switch.on_port_error",
        "\"ignore\" is not a policy; use \"continue\" or \"abort\"",
    );
    let config = parse("[switch]\non_port_error = \"continue\"\n[[bridge]]\nname = \"br0\"\n");
    assert_eq!(config.switch.on_port_error, PortErrorPolicy::Continue);
}

#[test]
fn vhost_paths_must_be_absolute_and_fit_a_socket_address() {
    let vhost = |path: &str| {
        format!(
            "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"vm1\"\n\
             type = \"vhost-user\"\npath = \"{path}\"\n"
        )
    };
    assert_rejected(&vhost("vm1.sock"), "bridge[0].port[0].path", "\"vm1.sock\" is not an absolute path");
    assert_rejected(&vhost(""), "bridge[0].port[0].path", "is not an absolute path");
    let long = format!("/{}", "v".repeat(107));
    assert_rejected(&vhost(&long), "bridge[0].port[0].path", "108 bytes long; a unix socket path can have at most 107");
    parse(&vhost(&format!("/{}", "v".repeat(106))));
}

#[test]
fn devargs_values() {
    assert_rejected(
        &with_dpdk_port("").replace("devargs = \"net_null0\"", "devargs = \"\""),
        "bridge[0].port[0].devargs",
        "must not be empty",
    );
    assert_rejected(
        &with_dpdk_port("").replace("\"net_null0\"", "\"net_tap0, iface=x\""),
        "bridge[0].port[0].devargs",
        "contains whitespace",
    );
    assert_rejected(
        &with_dpdk_port("").replace("\"net_null0\"", "\"net_tap0,iface=x\\t\""),
        "bridge[0].port[0].devargs",
        "contains whitespace",
    );
    let config = parse(&with_dpdk_port("").replace("\"net_null0\"", "\"0000:01:00.0\""));
    assert_eq!(config.bridges[0].ports[0].kind, PortKind::Dpdk { devargs: "0000:01:00.0".into() });
}

fn two_port_bridge(flows: &str) -> String {
    format!(
        "[[bridge]]\nname = \"br0\"\nflows = [{flows}]\n\
         [[bridge.port]]\nname = \"p1\"\ntype = \"dpdk\"\ndevargs = \"net_null0\"\n\
         [[bridge.port]]\nname = \"p2\"\ntype = \"dpdk\"\ndevargs = \"net_null1\"\n"
    )
}

#[test]
fn flows_are_parsed_and_errors_name_the_flow() {
    let config = parse(&two_port_bridge(
        "\"in_port=1,actions=output:2\", \"in_port=2,actions=1\", \"actions=drop\", \
         \"priority=1,in_port=2,actions=in_port\"",
    ));
    assert_eq!(config.bridges[0].flows.len(), 4);
    assert_eq!(config.bridges[0].flows[3].instructions.apply_actions, [Action::output(OfPort::IN_PORT)]);

    assert_rejected(
        &two_port_bridge(
            "\"in_port=1,actions=output:2\", \"actions=drop\", \"in_port=2,actions=1\", \
             \"in_port=abc,actions=drop\"",
        ),
        "bridge[0].flows[3]",
        "in_port=abc: not a port number",
    );
    // The whole OpenFlow pipeline is accepted.
    let full = parse(&two_port_bridge(
        "\"priority=100,udp,in_port=1,nw_dst=10.128.0.0/9,tp_dst=5001,actions=output:2\", \
         \"in_port=1,actions=NORMAL\", \"table=2,in_port=1,actions=mod_vlan_vid:5,output:2\", \
         \"idle_timeout=10,in_port=1,actions=output:2,goto_table:1\"",
    ));
    assert_eq!(full.bridges[0].flows.len(), 4);
    assert_rejected(
        &two_port_bridge("\"actions=output:2,output:9\""),
        "bridge[0].flows[0]",
        "output:9: bridge \"br0\" has no port with ofport 9",
    );
    assert_rejected(
        &two_port_bridge("\"tcp,tp_dst=80,nw_src=10.0.0.300,actions=drop\""),
        "bridge[0].flows[0]",
        "nw_src=10.0.0.300: invalid IPv4 address",
    );
    assert_rejected(
        &two_port_bridge("\"actions=drop\", 5"),
        "bridge[0].flows[1]",
        "expected a string, found an integer",
    );
}

#[test]
fn flows_may_only_name_ports_of_their_bridge() {
    assert_rejected(
        &two_port_bridge("\"in_port=3,actions=output:1\""),
        "bridge[0].flows[0]",
        "in_port=3: bridge \"br0\" has no port with ofport 3",
    );
    assert_rejected(
        &two_port_bridge("\"in_port=1,actions=output:2\", \"in_port=2,actions=output:1,output:9\""),
        "bridge[0].flows[1]",
        "output:9: bridge \"br0\" has no port with ofport 9",
    );
    // Auto-assigned ofports (1 and 2 here) count.
    parse(&two_port_bridge("\"in_port=2,actions=output:1,in_port\""));
}

#[test]
fn port_json_has_the_flat_shape() {
    let port = PortConfig {
        name: "p1".into(),
        ofport: Some(3),
        kind: PortKind::Dpdk { devargs: "net_null0".into() },
        rx_queues: 2,
        rxq_size: 512,
        txq_size: 256,
        mtu: None,
        tag: None,
        trunks: vec![10, 20],
    };
    let json = serde_json::to_value(&port).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "p1", "type": "dpdk", "devargs": "net_null0", "ofport": 3,
            "rx_queues": 2, "rxq_size": 512, "txq_size": 256, "trunks": [10, 20]
        })
    );
    let back: PortConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, port);

    let vhost = PortConfig {
        name: "vm1".into(),
        ofport: None,
        kind: PortKind::VhostUserClient { path: "/run/vm1.sock".into() },
        rx_queues: 1,
        rxq_size: 1024,
        txq_size: 1024,
        mtu: Some(1500),
        tag: Some(30),
        trunks: Vec::new(),
    };
    let text = serde_json::to_string(&vhost).unwrap();
    assert!(text.contains("\"type\":\"vhost-user-client\""), "{text}");
    assert!(text.contains("\"path\":\"/run/vm1.sock\""), "{text}");
    assert!(text.contains("\"tag\":30"), "{text}");
    assert!(!text.contains("ofport"), "{text}");
    assert!(!text.contains("trunks"), "{text}");
    assert_eq!(serde_json::from_str::<PortConfig>(&text).unwrap(), vhost);
}

#[test]
fn port_json_defaults_and_shape_errors() {
    let port: PortConfig =
        serde_json::from_str(r#"{"name":"vm2","type":"vhost-user","path":"/run/vm2.sock"}"#).unwrap();
    assert_eq!(
        port,
        PortConfig {
            name: "vm2".into(),
            ofport: None,
            kind: PortKind::VhostUser { path: "/run/vm2.sock".into() },
            rx_queues: 1,
            rxq_size: 1024,
            txq_size: 1024,
            mtu: None,
            tag: None,
            trunks: Vec::new(),
        }
    );
    let rejected = |json: &str| serde_json::from_str::<PortConfig>(json).unwrap_err().to_string();
    assert!(rejected(r#"{"name":"p","type":"dpdk","devargs":"x","bogus":1}"#).contains("unknown field `bogus`"));
    assert!(rejected(r#"{"name":"p","type":"vhost-user","path":"/a","devargs":"x"}"#)
        .contains("devargs: only ports of type \"dpdk\" take devargs"));
    assert!(rejected(r#"{"name":"p","type":"dpdk","path":"/a"}"#).contains("path: only"));
    assert!(rejected(r#"{"name":"p","type":"dpdk"}"#).contains("devargs: missing"));
    assert!(rejected(r#"{"name":"p","type":"nic","devargs":"x"}"#).contains("type: \"nic\" is not a port type"));
    assert!(rejected(r#"{"type":"dpdk","devargs":"x"}"#).contains("missing field `name`"));
    assert!(rejected(r#"{"name":"p","type":"dpdk","devargs":"x","ofport":-1}"#).contains("invalid value"));
    assert!(rejected(r#"{"name":"p","type":"dpdk","devargs":"x","tag":65536}"#).contains("invalid value"));
    assert!(rejected(r#"{"name":"p","type":"dpdk","devargs":"x","trunks":10}"#).contains("invalid type"));
    let trunk: PortConfig = serde_json::from_str(r#"{"name":"p","type":"dpdk","devargs":"x","trunks":[5]}"#).unwrap();
    assert_eq!((trunk.tag, trunk.trunks), (None, vec![5]));
}

#[test]
fn port_validate_for_runtime_add_port() {
    let good = PortConfig {
        name: "p9".into(),
        ofport: None,
        kind: PortKind::Dpdk { devargs: "net_null9".into() },
        rx_queues: 1,
        rxq_size: 1024,
        txq_size: 1024,
        mtu: None,
        tag: None,
        trunks: Vec::new(),
    };
    assert_eq!(good.validate(), Ok(()));
    let with = |change: fn(&mut PortConfig)| {
        let mut port = good.clone();
        change(&mut port);
        port.validate().unwrap_err()
    };
    assert_eq!(with(|p| p.name.clear()), "name: must not be empty");
    assert!(with(|p| p.ofport = Some(0)).starts_with("ofport: 0 is out of range"));
    assert!(with(|p| p.rx_queues = 0).starts_with("rx_queues: 0 is out of range"));
    assert!(with(|p| p.rxq_size = 100).starts_with("rxq_size: 100 is not a power of two"));
    assert!(with(|p| p.txq_size = 8192).starts_with("txq_size: 8192 is not a power of two"));
    assert!(with(|p| p.mtu = Some(10_000)).starts_with("mtu: 10000 is out of range"));
    assert_eq!(with(|p| p.tag = Some(0)), "tag: 0 is out of range; use 1..=4094");
    assert_eq!(with(|p| p.trunks = vec![1, 5000]), "trunks[1]: 5000 is out of range; use 0..=4095");
    assert_eq!(with(|p| p.trunks = vec![5, 6, 5]), "trunks[2]: 5 is already listed as trunks[0]");
    assert!(with(|p| {
        p.tag = Some(5);
        p.trunks = vec![6];
    })
    .starts_with("trunks: a port is either an access port (tag) or a trunk (trunks)"));
    assert!(with(|p| { p.kind = PortKind::Dpdk { devargs: String::new() } }).starts_with("devargs: must not be empty"));
    assert!(with(|p| { p.kind = PortKind::VhostUser { path: "relative.sock".into() } })
        .starts_with("path: \"relative.sock\" is not an absolute path"));
}

/// The workspace's conf/ directory, next to this crate.
fn shipped_conf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf")
}

#[test]
fn shipped_configs_are_valid() {
    let dir = shipped_conf_dir();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            if let Err(error) = Config::load(&path) {
                panic!("{error}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} files in {}", dir.display());
}

#[test]
fn default_config_is_the_documented_demo() {
    let config = Config::load(&shipped_conf_dir().join("default.toml")).unwrap();
    assert_eq!(config.pmd.cores, vec![1]);
    assert_eq!(config.pmd.idle_sleep_max_us, 500);
    assert_eq!(config.dpdk.main_core, 0);
    assert!(config.dpdk.no_pci);
    let bridge = &config.bridges[0];
    assert_eq!(bridge.name, "br0");
    let summary: Vec<(String, Option<u32>, &str)> =
        bridge.ports.iter().map(|p| (p.name.clone(), p.ofport, p.kind.type_name())).collect();
    assert_eq!(
        summary,
        vec![
            ("tap0".to_string(), Some(1), "dpdk"),
            ("tap1".to_string(), Some(2), "dpdk"),
            ("vm1".to_string(), Some(3), "vhost-user"),
            ("vm2".to_string(), Some(4), "vhost-user"),
        ]
    );
    let flows: Vec<String> = bridge.flows.iter().map(ToString::to_string).collect();
    assert_eq!(
        flows,
        [
            "in_port=1 actions=output:2",
            "in_port=2 actions=output:1",
            "in_port=3 actions=output:4",
            "in_port=4 actions=output:3"
        ]
    );
}

#[test]
fn random_input_never_panics() {
    let origin = Path::new("fuzz.toml");
    let mut random = XorShift(0x0c0f_f1e5_7ab1_e5ed);
    for _ in 0..3_000 {
        let len = random.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| (random.next() & 0xff) as u8).collect();
        let _ = Config::parse(&String::from_utf8_lossy(&bytes), origin);
    }
    // Valid documents with random bytes overwritten: most fail deep inside the schema.
    let base = FULL.as_bytes();
    for _ in 0..3_000 {
        let mut bytes = base.to_vec();
        for _ in 0..=random.below(4) {
            let at = random.below(bytes.len());
            bytes[at] = b" =\"[]{},.0123456789-_abcdefghijklmnopqrstuvwxyz\n#"[random.below(48)];
        }
        if let Ok(config) = Config::parse(&String::from_utf8_lossy(&bytes), origin) {
            for bridge in &config.bridges {
                assert!(bridge.ports.iter().all(|port| port.ofport.is_some()));
            }
        }
    }
    // Documents assembled from schema words.
    let pieces = [
        "[dpdk]\n",
        "[pmd]\n",
        "[[bridge]]\n",
        "[[bridge.port]]\n",
        "name = \"br0\"\n",
        "name = \"p1\"\n",
        "type = \"dpdk\"\n",
        "type = \"vhost-user\"\n",
        "devargs = \"x\"\n",
        "path = \"/s\"\n",
        "ofport = 1\n",
        "ofport = 0\n",
        "cores = [0]\n",
        "cores = []\n",
        "flows = [\"in_port=1,actions=1\"]\n",
        "flows = [\"actions=9\"]\n",
        "mtu = 70000\n",
        "tag = 10\n",
        "tag = 0\n",
        "trunks = [10, 20]\n",
        "trunks = [5, 5]\n",
        "main_core = 1\n",
        "= ",
        "\"",
        "[",
        "]",
        "\n",
        "port = 3\n",
        "bridge = []\n",
    ];
    for _ in 0..3_000 {
        let count = random.below(16);
        let text: String = (0..count).map(|_| pieces[random.below(pieces.len())]).collect();
        let _ = Config::parse(&text, origin);
    }
}

#[test]
fn openflow_listeners() {
    let bridge = |listeners: &str| format!("[[bridge]]\nname = \"br0\"\nopenflow = [{listeners}]\n");
    let config = parse(&bridge("\"ptcp:6653\", \"ptcp:6654:0.0.0.0\", \"ptcp:6655:[::1]\""));
    let listeners: Vec<String> = config.bridges[0].openflow.iter().map(ToString::to_string).collect();
    assert_eq!(listeners, ["ptcp:6653:127.0.0.1", "ptcp:6654:0.0.0.0", "ptcp:6655:[::1]"]);
    assert!(parse("[[bridge]]\nname = \"br0\"\n").bridges[0].openflow.is_empty());
    assert_rejected(&bridge("\"ssl:1.2.3.4:6653\""), "bridge[0].openflow[0]", "is not an OpenFlow target");
    assert_rejected(&bridge("\"ptcp:0\""), "bridge[0].openflow[0]", "is not a TCP port");
    assert_rejected(&bridge("\"ptcp:70000\""), "bridge[0].openflow[0]", "is not a TCP port");
    assert_rejected(&bridge("\"ptcp:6653:localhost\""), "bridge[0].openflow[0]", "is not an IP address");
    assert_rejected(&bridge("\"ptcp:6653\", \"ptcp:6653:127.0.0.1\""), "bridge[0].openflow[1]", "listed twice");
    assert_rejected(
        "[[bridge]]\nname = \"br0\"\nopenflow = [\"ptcp:6653:0.0.0.0\"]\n\
         [[bridge]]\nname = \"br1\"\nopenflow = [\"ptcp:6653\"]\n",
        "bridge[1].openflow[0]",
        "bridge[0] listens on that TCP port already",
    );
}

#[test]
fn openflow_active_controllers_share_the_list() {
    let bridge = |targets: &str| format!("[[bridge]]\nname = \"br0\"\nopenflow = [{targets}]\n");
    let config = parse(&bridge("\"tcp:10.0.0.1:6653\", \"ptcp:6653\", \"tcp:[::1]:6633\""));
    let targets: Vec<String> = config.bridges[0].openflow.iter().map(ToString::to_string).collect();
    assert_eq!(targets, ["tcp:10.0.0.1:6653", "ptcp:6653:127.0.0.1", "tcp:[::1]:6633"]);
    assert_rejected(&bridge("\"tcp:10.0.0.1\""), "bridge[0].openflow[0]", "\"tcp:IP:PORT\"");
    assert_rejected(&bridge("\"tcp:10.0.0.1:0\""), "bridge[0].openflow[0]", "is not a TCP port");
    assert_rejected(&bridge("\"tcp:::1:6653\""), "bridge[0].openflow[0]", "in brackets");
    assert_rejected(&bridge("\"tcp:host:6653\""), "bridge[0].openflow[0]", "is not an IP address");
    assert_rejected(&bridge("\"tcp:10.0.0.1:1\", \"tcp:10.0.0.1:1\""), "bridge[0].openflow[1]", "listed twice");
    // Two bridges may connect to the same controller.
    parse(
        "[[bridge]]\nname = \"br0\"\nopenflow = [\"tcp:127.0.0.1:6653\"]\n\
         [[bridge]]\nname = \"br1\"\nopenflow = [\"tcp:127.0.0.1:6653\"]\n",
    );
}

const TLS_SECTION: &str = "[tls]\nprivate_key = \"/etc/vswitch/sc-privkey.pem\"\n\
                           certificate = \"/etc/vswitch/sc-cert.pem\"\n\
                           ca_certificate = \"/etc/vswitch/cacert.pem\"\n";

#[test]
fn tls_targets_parse_and_print_back() {
    let bridge = |targets: &str| format!("{TLS_SECTION}[[bridge]]\nname = \"br0\"\nopenflow = [{targets}]\n");
    let config =
        parse(&bridge("\"tls:10.0.0.1:6653\", \"ptls:6653\", \"ptls:6654:[::1]\", \"tls:[::1]:6633\", \"ptcp:6655\""));
    let targets: Vec<String> = config.bridges[0].openflow.iter().map(ToString::to_string).collect();
    assert_eq!(
        targets,
        ["tls:10.0.0.1:6653", "ptls:6653:127.0.0.1", "ptls:6654:[::1]", "tls:[::1]:6633", "ptcp:6655:127.0.0.1"]
    );
    assert_eq!(config.bridges[0].openflow[0].transport(), Transport::Tls);
    assert_eq!(config.bridges[0].openflow[4].transport(), Transport::Tcp);
    assert_rejected(&bridge("\"tls:10.0.0.1\""), "bridge[0].openflow[0]", "\"tls:IP:PORT\"");
    assert_rejected(&bridge("\"tls:::1:6653\""), "bridge[0].openflow[0]", "\"tls:[::1]:6653\"");
    assert_rejected(&bridge("\"ptls:0\""), "bridge[0].openflow[0]", "is not a TCP port");
    assert_rejected(&bridge("\"ssl:10.0.0.1:6653\""), "bridge[0].openflow[0]", "\"tls:IP:PORT\"");
    assert_rejected(&bridge("\"ptls:6653\", \"ptls:6653:127.0.0.1\""), "bridge[0].openflow[1]", "listed twice");
    // ptcp and ptls are different targets but cannot share a TCP port.
    assert_rejected(&bridge("\"ptcp:6653\", \"ptls:6653\""), "bridge[0].openflow[1]", "listens on that TCP port");
    assert_eq!(
        OpenFlowTarget::parse("tls:192.0.2.1:6653").unwrap(),
        OpenFlowTarget::Connect("192.0.2.1:6653".parse().unwrap(), Transport::Tls)
    );
}

#[test]
fn tls_targets_need_the_tls_section() {
    let problem = "TLS needs the switch's private key and certificates; add a [tls] section";
    assert_rejected(
        "[[bridge]]\nname = \"br0\"\nopenflow = [\"ptcp:6653\", \"ptls:6654\"]\n",
        "bridge[0].openflow[1]",
        problem,
    );
    let message = error("[[bridge]]\nname = \"br0\"\n[[bridge]]\nname = \"br1\"\nopenflow = [\"tls:10.0.0.1:6653\"]\n");
    assert!(message.starts_with("test.toml: bridge[1].openflow[0]: tls:10.0.0.1:6653: "), "{message}");
    // The section alone is fine (vsctl set-controller may add TLS targets later).
    let config = parse(&format!("{TLS_SECTION}[[bridge]]\nname = \"br0\"\n"));
    let tls = config.tls.unwrap();
    assert_eq!(tls.private_key, Path::new("/etc/vswitch/sc-privkey.pem"));
    assert_eq!(tls.certificate, Path::new("/etc/vswitch/sc-cert.pem"));
    assert_eq!(tls.ca_certificate, Path::new("/etc/vswitch/cacert.pem"));
    assert_eq!(parse("[[bridge]]\nname = \"br0\"\n").tls, None);
}

#[test]
fn tls_section_needs_all_three_files() {
    let bridge = "[[bridge]]\nname = \"br0\"\n";
    let without = |key: &str| {
        let section: String = TLS_SECTION
            .lines()
            .filter(|line| !line.starts_with(&format!("{key} ")))
            .map(|line| format!("{line}\n"))
            .collect();
        format!("{section}{bridge}")
    };
    assert_rejected(
        &without("private_key"),
        "tls.private_key",
        "missing; [tls] needs the PEM file of the switch's private key",
    );
    assert_rejected(&without("certificate"), "tls.certificate", "missing");
    assert_rejected(&without("ca_certificate"), "tls.ca_certificate", "missing");
    assert_rejected(&format!("{TLS_SECTION}peer_ca_cert = \"/x\"\n{bridge}"), "tls.peer_ca_cert", "unknown key");
    assert_rejected(
        &format!("{}{bridge}", TLS_SECTION.replace("\"/etc/vswitch/cacert.pem\"", "\"\"")),
        "tls.ca_certificate",
        "must not be empty",
    );
    assert_rejected(
        &format!("{}{bridge}", TLS_SECTION.replace("\"/etc/vswitch/sc-cert.pem\"", "7")),
        "tls.certificate",
        "expected a string",
    );
    assert_rejected(&format!("tls = 1\n{bridge}"), "tls", "expected a [tls] table");
}

#[test]
fn fail_mode_is_secure_or_standalone() {
    use crate::config::FailMode;
    let bridge = |mode: &str| format!("[[bridge]]\nname = \"br0\"\nfail_mode = \"{mode}\"\n");
    assert_eq!(parse(&bridge("secure")).bridges[0].fail_mode, Some(FailMode::Secure));
    assert_eq!(parse(&bridge("standalone")).bridges[0].fail_mode, Some(FailMode::Standalone));
    assert_eq!(parse("[[bridge]]\nname = \"br0\"\n").bridges[0].fail_mode, None);
    assert_rejected(&bridge("open"), "bridge[0].fail_mode", "is not a fail mode");
}

#[test]
fn datapath_id_is_set_or_derived_from_the_name_and_unique() {
    let bridge = |name: &str, id: &str| format!("[[bridge]]\nname = \"{name}\"\ndatapath_id = \"{id}\"\n");
    assert_eq!(parse(&bridge("br0", "0000000000000001")).bridges[0].datapath_id, 1);
    assert_eq!(parse(&bridge("br0", "0xfedcba9876543210")).bridges[0].datapath_id, 0xfedc_ba98_7654_3210);
    assert_eq!(parse(&bridge("br0", "00000000000000AB")).bridges[0].datapath_id, 0xab);
    // Without the key: derived from the name, stable, 48 bits, different per bridge.
    let derived = parse("[[bridge]]\nname = \"br0\"\n[[bridge]]\nname = \"br1\"\n");
    assert_eq!(derived.bridges[0].datapath_id, derived_datapath_id("br0"));
    assert_ne!(derived.bridges[0].datapath_id, derived.bridges[1].datapath_id);
    assert_eq!(derived.bridges[0].datapath_id >> 48, 0);
    for bad in ["", "0x", "12345678901234567", "0xg", "-1", " 1"] {
        assert_rejected(&bridge("br0", bad), "bridge[0].datapath_id", "is not a datapath id");
    }
    assert_rejected(&bridge("br0", "0000000000000000"), "bridge[0].datapath_id", "datapath id 0 is not allowed");
    let twice = bridge("br0", "0x2") + &bridge("br1", "2");
    assert_rejected(&twice, "bridge[1].datapath_id", "is already the datapath id of bridge[0]");
    let clash = bridge("br0", &format!("{:x}", derived_datapath_id("br1"))) + "[[bridge]]\nname = \"br1\"\n";
    assert_rejected(&clash, "bridge[1].datapath_id", "is already the datapath id of bridge[0]");
}

#[test]
fn neighbour_aging_is_in_seconds_and_bounded() {
    let bridge = |aging: &str| format!("[[bridge]]\nname = \"br0\"\nneighbour_aging = {aging}\n");
    assert_eq!(parse("[[bridge]]\nname = \"br0\"\n").bridges[0].neighbour_aging, 900);
    assert_eq!(parse(&bridge("2")).bridges[0].neighbour_aging, 2);
    assert_rejected(&bridge("0"), "bridge[0].neighbour_aging", "0 is out of range; use 1..=86400");
    assert_rejected(&bridge("86401"), "bridge[0].neighbour_aging", "out of range");
}

#[test]
fn mac_aging_is_in_seconds_and_bounded() {
    let bridge = |aging: &str| format!("[[bridge]]\nname = \"br0\"\nmac_aging = {aging}\n");
    assert_eq!(parse("[[bridge]]\nname = \"br0\"\n").bridges[0].mac_aging, 300);
    assert_eq!(parse(&bridge("2")).bridges[0].mac_aging, 2);
    assert_eq!(parse(&bridge("3600")).bridges[0].mac_aging, 3600);
    assert_rejected(&bridge("0"), "bridge[0].mac_aging", "0 is out of range; use 1..=3600");
    assert_rejected(&bridge("3601"), "bridge[0].mac_aging", "out of range");
    assert_rejected(&bridge("-5"), "bridge[0].mac_aging", "");
    assert_rejected(&bridge("\"5m\""), "bridge[0].mac_aging", "");
}

#[test]
fn mac_table_size_is_bounded() {
    let bridge = |size: &str| format!("[[bridge]]\nname = \"br0\"\nmac_table_size = {size}\n");
    assert_eq!(parse("[[bridge]]\nname = \"br0\"\n").bridges[0].mac_table_size, 8192);
    assert_eq!(parse(&bridge("20000")).bridges[0].mac_table_size, 20_000);
    assert_rejected(&bridge("0"), "bridge[0].mac_table_size", "out of range");
    assert_rejected(&bridge("1000001"), "bridge[0].mac_table_size", "out of range");
    assert_rejected(&bridge("\"big\""), "bridge[0].mac_table_size", "");
}

#[test]
fn management_sockets_sit_next_to_the_control_socket() {
    let config = parse("[control]\nsocket = \"/run/vs/ctl.sock\"\n[[bridge]]\nname = \"br0\"\n");
    assert_eq!(config.control.mgmt_socket("br0"), Path::new("/run/vs/br0.mgmt"));
    let long = format!("/{}/ctl.sock", "s".repeat(90));
    assert_rejected(
        &format!("[control]\nsocket = \"{long}\"\n[[bridge]]\nname = \"{}\"\n", "b".repeat(20)),
        "bridge[0].name",
        "management socket",
    );
}

#[test]
fn internal_ports_are_kernel_interfaces_named_after_the_port() {
    let config = parse("[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"host0\"\ntype = \"internal\"\n");
    assert_eq!(config.bridges[0].ports[0].kind, PortKind::Internal);
    assert_rejected(
        "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"a-name-of-16-chr\"\ntype = \"internal\"\n",
        "bridge[0].port[0].name",
        "a Linux interface name has at most 15",
    );
    assert_rejected(
        "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"host0\"\ntype = \"internal\"\ndevargs = \"net_tap0\"\n",
        "bridge[0].port[0].devargs",
        "an internal port takes no device",
    );
    // The JSON of add-port has the same shape.
    let port: PortConfig = serde_json::from_str(r#"{"name": "host0", "type": "internal"}"#).unwrap();
    assert_eq!(port.kind, PortKind::Internal);
    assert_eq!(serde_json::to_value(&port).unwrap()["type"], "internal");
}

#[test]
fn local_interface_is_opt_in_and_named_after_the_bridge() {
    let bridge = |extra: &str| format!("[[bridge]]\nname = \"br-host\"\n{extra}\n");
    assert!(!parse(&bridge("")).bridges[0].local_interface);
    let config = parse(&bridge("local_interface = true\nflows = [\"in_port=LOCAL,actions=FLOOD\"]"));
    assert!(config.bridges[0].local_interface);
    // in_port=LOCAL names a port only a bridge with a LOCAL port has.
    assert_rejected(
        &bridge("flows = [\"in_port=LOCAL,actions=FLOOD\"]"),
        "bridge[0].flows[0]",
        "no port with ofport 65534",
    );
    assert_rejected(
        "[[bridge]]\nname = \"bridge-of-16-chr\"\nlocal_interface = true\n",
        "bridge[0].local_interface",
        "a Linux interface name has at most 15",
    );
    assert_rejected(
        &bridge("local_interface = true\naddresses = [\"172.31.1.1/24\"]"),
        "bridge[0].local_interface",
        "a port of type \"internal\" instead",
    );
    assert_rejected(
        "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"br-host\"\ntype = \"internal\"\n\
         [[bridge]]\nname = \"br-host\"\nlocal_interface = true\n",
        "bridge[1].local_interface",
        "which is the name of bridge[0].port[0]",
    );
}
