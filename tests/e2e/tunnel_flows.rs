//! A controller drives the tunnel fields of a flow-based VXLAN port (`remote_ip=flow`,
//! `key=flow`) on br-int; the peer is a Linux kernel VTEP (VNI 4000) in a namespace, the host a
//! namespace on br-int's port 1. The way out sets tun_dst and tun_id, the way in matches tun_id
//! and tun_src; the host pings the kernel's overlay address through them.
//! - `ovs-ofctl` over br-int's management socket (OpenFlow 1.3 set_field, NXM fields): its
//!   dump-flows shows the tunnel fields as installed, and a packet of another VNI does not match.
//! - An os-ken application (tests/python/tunnel_fields_app.py, OpenFlow 1.3) the switch connects
//!   to, br-int in secure fail mode (nothing forwards without its flows): tunnel_id as OXM
//!   TUNNEL_ID, tun_ipv4_src / tun_ipv4_dst as os-ken's Nicira extension fields; the flow stats
//!   it asks for decode to the flows it sent, with the pings counted.
#![forbid(unsafe_code)]
use std::path::Path;
use std::time::Duration;

use vswitch_e2e::netns::Namespace;
use vswitch_e2e::ofctl::{flow_lines, free_port, ofctl_ok, unix_target};
use vswitch_e2e::openflow_apps::{controller_target, ControllerApp};
use vswitch_e2e::overlay::{address, sh, veth};
use vswitch_e2e::{wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

/// The VNI of the kernel VTEP and of the flows.
const VNI: u32 = 4000;
/// The kernel VTEP's underlay address (ours is 172.31.1.1).
const REMOTE: &str = "172.31.1.2";
/// The kernel VTEP's overlay address (the host's is 10.1.1.1).
const PEER: &str = "10.1.1.2";
/// How long the controller may take to program br-int and report the pings in its flow stats.
const CONTROLLER_LIMIT: Duration = Duration::from_secs(30);

/// The underlay and host namespaces (declared before the switch: deleted after it stops).
struct Network {
    underlay: Namespace,
    vm: Namespace,
    phy: String,
    vm_port: String,
}

impl Network {
    /// The host (10.1.1.1/24, MTU 1450) and the kernel VTEP of VNI `vni` on the underlay
    /// (172.31.1.2/24, overlay 10.1.1.2/24).
    fn create(dir: &TestDir, vni: u32) -> Network {
        let underlay = Namespace::create(dir, "ul");
        let vm = Namespace::create(dir, "vm");
        let pid = std::process::id() % 100_000;
        let (phy, vm_port) = (format!("tfu{pid}"), format!("tfv{pid}"));
        veth(&phy, None, "ul0", &underlay, 1500);
        address(&underlay, "ul0", &format!("{REMOTE}/24"));
        veth(&vm_port, None, "vm0", &vm, 1450);
        address(&vm, "vm0", "10.1.1.1/24");
        let network = Network { underlay, vm, phy, vm_port };
        network.kernel_vtep(vni);
        network
    }

    /// (Re)creates the kernel's vxlan device `vx0` with VNI `vni`.
    fn kernel_vtep(&self, vni: u32) {
        sh(&format!(
            "ip -n {ns} link del vx0 2>/dev/null || true; \
             ip -n {ns} link add vx0 type vxlan id {vni} remote 172.31.1.1 local {REMOTE} dstport 4789 dev ul0; \
             ip -n {ns} link set vx0 mtu 1450; ip -n {ns} addr add {PEER}/24 dev vx0; ip -n {ns} link set vx0 up",
            ns = self.underlay.name()
        ));
    }

    /// The switch: br0 the underlay (VTEP 172.31.1.1/24, NORMAL), br-int without flows with the
    /// host's port 1 and the flow-based VXLAN port 2, and `br_int_settings` (TOML keys).
    fn switch(&self, dir: &TestDir, br_int_settings: &str) -> Vswitchd {
        let config = SwitchConfig::new(dir)
            .flow("actions=NORMAL")
            .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
            .bridge_setting("addresses", "[\"172.31.1.1/24\"]")
            .port(PortSpec::dpdk("phy", 1, &format!("net_af_packet0,iface={}", self.phy)))
            .more_toml(&format!(
                "[[bridge]]\nname = \"br-int\"\n{br_int_settings}\n\
                 [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet1,iface={}\"\nofport = 1\n\
                 [[bridge.port]]\nname = \"vxlan0\"\ntype = \"vxlan\"\nofport = 2\n\
                 options = {{ remote_ip = \"flow\", key = \"flow\" }}",
                self.vm_port
            ));
        Vswitchd::start(dir, &config)
    }
}

#[test]
fn ovs_ofctl_sets_and_matches_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows");
    let network = Network::create(&dir, VNI);
    let vm = &network.vm;
    let switch = network.switch(&dir, "");
    let mgmt = unix_target(&switch.socket().with_file_name("br-int.mgmt"));
    for flow in [
        "in_port=1,actions=set_field:172.31.1.2->tun_dst,set_field:4000->tun_id,output:2",
        "in_port=2,tun_id=4000,tun_src=172.31.1.2,actions=output:1",
    ] {
        ofctl_ok("OpenFlow13", &["add-flow", &mgmt, flow]);
    }
    let answered = vm.ping_until_answered("10.1.1.2", 3, 5);
    assert!(
        answered.is_ok(),
        "no answer through the flow-based tunnel:\n{}\n{}",
        answered.unwrap_err(),
        switch.stderr()
    );
    let dump = ofctl_ok("OpenFlow13", &["dump-flows", &mgmt]);
    let lines = flow_lines(&dump);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("tun_id=0xfa0") && l.contains("tun_src=172.31.1.2") && !l.contains("n_packets=0")),
        "the way in matched: {dump}"
    );
    assert!(
        lines.iter().any(|l| l.contains("set_field:172.31.1.2->tun_dst") && !l.contains("n_packets=0")),
        "the way out was taken: {dump}"
    );
    // Another VNI from the same peer matches no flow of br-int: a table miss, no reply.
    network.kernel_vtep(VNI + 1);
    let other = vm.ping("10.1.1.2", 2);
    assert!(!other.stdout.contains(" 0% packet loss"), "VNI 4001 crossed a tun_id=4000 flow: {other}");
    let misses = switch.port_stats().port("vxlan0").dropped("table_miss");
    assert!(
        misses > 0,
        "the other VNI's packets are table misses of the tunnel port: {:?}",
        switch.port_stats().port("vxlan0")
    );
    switch.stop();
}

/// The os-ken application's view (its JSON file): the flows it installed and the last flow
/// stats reply, both as os-ken decoded them.
#[derive(Debug, serde::Deserialize)]
struct AppView {
    installed: Vec<AppFlow>,
    stats: Vec<AppFlow>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct AppFlow {
    cookie: u64,
    priority: u16,
    table_id: u8,
    match_: Vec<(String, String)>,
    actions: Vec<String>,
    #[serde(default)]
    packet_count: u64,
}

impl AppView {
    fn read(path: &Path) -> Option<AppView> {
        let text = std::fs::read_to_string(path).ok()?;
        // `match` is a Rust keyword: the field is renamed on the way in.
        serde_json::from_str(&text.replace("\"match\":", "\"match_\":")).ok()
    }

    /// The stats entry of the installed flow with `cookie`.
    fn stats_of(&self, cookie: u64) -> Option<&AppFlow> {
        self.stats.iter().find(|flow| flow.cookie == cookie)
    }
}

#[test]
fn osken_app_sets_and_matches_tunnel_fields() {
    let dir = TestDir::new("tunnel-flows-osken");
    let network = Network::create(&dir, VNI);
    let port = free_port();
    let stats_path = dir.join("osken-stats.json");
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/tunnel_fields_app.py");
    let env = [
        ("TUNNEL_APP_VM_PORT", "1".to_owned()),
        ("TUNNEL_APP_TUNNEL_PORT", "2".to_owned()),
        ("TUNNEL_APP_VNI", VNI.to_string()),
        ("TUNNEL_APP_REMOTE", REMOTE.to_owned()),
        ("TUNNEL_APP_STATS", stats_path.to_string_lossy().into_owned()),
    ];
    let controller = ControllerApp::osken_app(&dir, port, "tunnel-app", &app, &env);
    // Secure: br-int forwards nothing until the application's flows are there.
    let target = controller_target(port);
    let switch = network.switch(&dir, &format!("fail_mode = \"secure\"\nopenflow = [\"{target}\"]"));

    let installed = wait::poll(CONTROLLER_LIMIT, || AppView::read(&stats_path).filter(|v| v.stats.len() == 2))
        .unwrap_or_else(|| panic!("no flow stats with the two flows:\n{}\n{}", controller.logs(), switch.stderr()));
    // What os-ken sent: the tunnel fields it can encode (tun_ipv4_src/dst are NXM fields).
    let out = &installed.installed[0];
    assert_eq!(
        out.actions,
        ["set_field:tunnel_id=4000", &format!("set_field:tun_ipv4_dst={REMOTE}"), "output:2"],
        "{installed:#?}"
    );
    let expected_in = [("in_port", "2"), ("tun_ipv4_src", REMOTE), ("tunnel_id", "4000")];
    let expected_in: Vec<(String, String)> = expected_in.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect();
    assert_eq!(installed.installed[1].match_, expected_in, "{installed:#?}");

    let answered = network.vm.ping_until_answered(PEER, 3, 5);
    assert!(
        answered.is_ok(),
        "no answer through the flows of the os-ken application:\n{}\n{}\n{}",
        answered.unwrap_err(),
        controller.logs(),
        switch.stderr()
    );
    // Its flow stats: each flow decodes to what it sent, with the pings counted (at least the
    // three echo requests out and the three replies in of the answered run).
    let counted = wait::poll(CONTROLLER_LIMIT, || {
        let view = AppView::read(&stats_path)?;
        let all_counted =
            view.installed.iter().all(|flow| view.stats_of(flow.cookie).is_some_and(|s| s.packet_count >= 3));
        all_counted.then_some(view)
    });
    let view = counted.unwrap_or_else(|| {
        panic!("the pings are not in the flow stats: {:#?}\n{}", AppView::read(&stats_path), controller.logs())
    });
    for sent in &view.installed {
        let stats = view.stats_of(sent.cookie).expect("counted above");
        assert_eq!(
            AppFlow { packet_count: sent.packet_count, ..stats.clone() },
            *sent,
            "flow stats of cookie {:#x} decode to another flow than was sent",
            sent.cookie
        );
    }
    // The kernel VTEP got them through the tunnel: its vxlan device counts the requests.
    let received = vswitch_e2e::overlay::sh_in_ok(&network.underlay, "cat /sys/class/net/vx0/statistics/rx_packets");
    assert!(received.trim().parse::<u64>().unwrap_or(0) >= 3, "vx0 received {received}");
    switch.stop();
    controller.stop();
}
