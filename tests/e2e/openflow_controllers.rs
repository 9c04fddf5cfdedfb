//! Active OpenFlow controllers and their management, against a controller written here: a
//! std `TcpListener` that speaks just enough OpenFlow 1.3 by hand (HELLO, FEATURES, ECHO).
//! The switch connects by itself from the configuration (`openflow = ["tcp:IP:PORT"]`) and
//! reports the datapath id ovs-ofctl shows on the management socket; when the controller
//! closes the connection the switch reconnects within its backoff; `vsctl set-controller`
//! moves it to another controller (closing the old connection), `get-controller` prints the
//! targets, `del-controller` ends the connection for good; bad targets are refused with exit
//! status 1 and a message naming them; the fail mode round-trips. Every wait is bounded.
#![forbid(unsafe_code)]
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use vswitch_e2e::ofctl;
use vswitch_e2e::openflow_raw::read_message;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// The switch waits 1 s before reconnecting; this leaves room for a loaded host.
const RECONNECT_LIMIT: Duration = Duration::from_secs(6);
const READ_LIMIT: Duration = Duration::from_secs(10);

/// A controller listening on a free port of 127.0.0.1.
struct Controller {
    listener: TcpListener,
    port: u16,
}

impl Controller {
    fn new() -> Controller {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        Controller { listener, port }
    }

    fn target(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }

    /// The switch's next connection, if it comes within `limit`.
    fn accept_within(&self, limit: Duration) -> Option<TcpStream> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking stream");
                    stream.set_read_timeout(Some(READ_LIMIT)).expect("read timeout");
                    return Some(stream);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("accept: {e}"),
            }
        }
        None
    }
}

/// The next message of `kind`, skipping others (the switch may probe with echo requests).
fn expect_message(stream: &mut TcpStream, kind: u8, xid: u32) -> Vec<u8> {
    for _ in 0..16 {
        let message = read_message(stream).expect("a message from the switch");
        if message[1] == kind && message[4..8] == xid.to_be_bytes() {
            return message;
        }
    }
    panic!("no message of type {kind} with xid {xid}");
}

/// The controller's side of a session: HELLO both ways (1.3), FEATURES (returns the datapath
/// id), an ECHO with data that must come back.
fn handshake(stream: &mut TcpStream) -> u64 {
    stream.write_all(&[4, 0, 0, 8, 0, 0, 0, 1]).expect("hello");
    let hello = read_message(stream).expect("the switch's hello");
    assert_eq!(hello[1], 0, "the switch starts with a HELLO: {hello:?}");
    stream.write_all(&[4, 5, 0, 8, 0, 0, 0, 2]).expect("features request");
    let features = expect_message(stream, 6, 2);
    assert_eq!(features[0], 4, "FEATURES_REPLY in 1.3: {features:?}");
    let datapath_id = u64::from_be_bytes(features[8..16].try_into().expect("8 bytes"));
    stream.write_all(&[4, 2, 0, 12, 0, 0, 0, 3, b'p', b'i', b'n', b'g']).expect("echo request");
    let echo = expect_message(stream, 3, 3);
    assert_eq!(&echo[8..], b"ping", "the echo reply carries the request's data");
    datapath_id
}

/// Whether the switch closes `stream` within `limit` (messages before the close are skipped).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buffer = [0u8; 512];
    while Instant::now() < deadline {
        stream.set_read_timeout(Some(Duration::from_millis(200))).expect("read timeout");
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn active_controllers_connect_reconnect_and_move() {
    let dir = TestDir::new("openflow_controllers");
    let first = Controller::new();
    let config =
        SwitchConfig::new(&dir).openflow(&first.target()).port(PortSpec::pcap_tx("p1", 1, 1, &dir.join("p1.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let expected_dpid = ofctl::datapath_id(&config.mgmt_socket());

    // The switch connects by itself.
    let mut connection = first.accept_within(RECONNECT_LIMIT).expect("the switch connects to the controller");
    assert_eq!(handshake(&mut connection), expected_dpid, "FEATURES_REPLY's datapath id is ovs-ofctl's");
    // The controller drops it: the switch comes back within its backoff.
    drop(connection);
    let started = Instant::now();
    let mut connection = first.accept_within(RECONNECT_LIMIT).expect("the switch reconnects");
    assert!(started.elapsed() < RECONNECT_LIMIT);
    assert_eq!(handshake(&mut connection), expected_dpid);
    assert_eq!(switch.vsctl_ok(&["get-controller", "br0"]), format!("{}\n", first.target()));

    // Moved to a second controller: the first connection is closed, the second one comes.
    let second = Controller::new();
    switch.vsctl_ok(&["set-controller", "br0", &second.target()]);
    assert!(closed_within(&mut connection, Duration::from_secs(5)), "the old controller's connection is closed");
    let mut moved = second.accept_within(RECONNECT_LIMIT).expect("the switch connects to the new controller");
    assert_eq!(handshake(&mut moved), expected_dpid);
    assert_eq!(switch.vsctl_ok(&["get-controller", "br0"]), format!("{}\n", second.target()));
    assert!(first.accept_within(Duration::from_millis(1500)).is_none(), "no reconnect to the removed controller");

    // A listener and a controller at once; both printed, in order.
    let listen_port = Controller::new().port; // freed on drop
    let listener = format!("ptcp:{listen_port}:127.0.0.1");
    switch.vsctl_ok(&["set-controller", "br0", &second.target(), &listener]);
    assert_eq!(switch.vsctl_ok(&["get-controller", "br0"]), format!("{}\n{listener}\n", second.target()));
    let mut client = TcpStream::connect(("127.0.0.1", listen_port)).expect("the new listener accepts");
    client.set_read_timeout(Some(READ_LIMIT)).expect("read timeout");
    assert_eq!(handshake(&mut client), expected_dpid);
    // The kept controller's connection was not disturbed.
    moved.write_all(&[4, 2, 0, 8, 0, 0, 0, 9]).expect("echo request");
    expect_message(&mut moved, 3, 9);

    // del-controller: every connection ends, the listener is unbound, nothing comes back.
    switch.vsctl_ok(&["del-controller", "br0"]);
    assert!(closed_within(&mut moved, Duration::from_secs(5)), "the controller's connection is closed");
    assert!(closed_within(&mut client, Duration::from_secs(5)), "the listener's connection is closed");
    assert!(TcpStream::connect(("127.0.0.1", listen_port)).is_err(), "the listener is unbound");
    assert!(second.accept_within(Duration::from_secs(2)).is_none(), "no reconnect after del-controller");
    assert_eq!(switch.vsctl_ok(&["get-controller", "br0"]), "");
    // The management socket stays.
    assert_eq!(ofctl::datapath_id(&config.mgmt_socket()), expected_dpid);

    // Bad targets: exit status 1, the bad target named, nothing changed.
    for (bad, problem) in [
        ("tcp:nowhere:6653", "is not an IP address"),
        ("tcp:127.0.0.1", "tcp:IP:PORT"),
        ("tcp:127.0.0.1:0", "is not a TCP port"),
        ("ssl:127.0.0.1:6653", "is not an OpenFlow target"),
        // This switch has no [tls] section.
        ("tls:127.0.0.1:6653", "add a [tls] section"),
        ("ptls:6653", "add a [tls] section"),
    ] {
        let output = switch.vsctl(&["set-controller", "br0", &second.target(), bad]);
        assert_eq!(output.code(), Some(1), "{output}");
        assert!(output.stderr.contains(bad) && output.stderr.contains(problem), "{output}");
    }
    let twice = switch.vsctl(&["set-controller", "br0", &second.target(), &second.target()]);
    assert_eq!(twice.code(), Some(1), "{twice}");
    assert!(twice.stderr.contains("listed twice"), "{twice}");
    let unknown = switch.vsctl(&["get-controller", "br9"]);
    assert_eq!(unknown.code(), Some(1), "{unknown}");
    assert_eq!(switch.vsctl_ok(&["get-controller", "br0"]), "");
    assert!(second.accept_within(Duration::from_millis(500)).is_none(), "a refused set-controller starts nothing");

    // Fail mode: stored and shown.
    assert_eq!(switch.vsctl_ok(&["get-fail-mode", "br0"]), "");
    switch.vsctl_ok(&["set-fail-mode", "br0", "secure"]);
    assert_eq!(switch.vsctl_ok(&["get-fail-mode", "br0"]), "secure\n");
    switch.vsctl_ok(&["set-fail-mode", "br0", "standalone"]);
    assert_eq!(switch.vsctl_ok(&["get-fail-mode", "br0"]), "standalone\n");
    switch.vsctl_ok(&["del-fail-mode", "br0"]);
    assert_eq!(switch.vsctl_ok(&["get-fail-mode", "br0"]), "");
    let bad_mode = switch.vsctl(&["set-fail-mode", "br0", "open"]);
    assert_eq!(bad_mode.code(), Some(2), "a bad mode is a command-line error: {bad_mode}");

    // Stopping the switch with a controller that is being retried is prompt.
    let unreachable = Controller::new();
    let port = unreachable.port;
    drop(unreachable);
    switch.vsctl_ok(&["set-controller", "br0", &format!("tcp:127.0.0.1:{port}")]);
    std::thread::sleep(Duration::from_millis(1500));
    let report = switch.stop();
    assert!(report.took < Duration::from_secs(5), "stopping took {:?}", report.took);
}

#[test]
fn the_configured_datapath_id_is_what_controllers_see() {
    // Faucet's and Neutron's configurations name the datapath id they expect.
    let dir = TestDir::new("openflow_controllers_dpid");
    let controller = Controller::new();
    let config = SwitchConfig::new(&dir)
        .openflow(&controller.target())
        .bridge_setting("datapath_id", "\"0x00000000000000ab\"")
        .port(PortSpec::pcap_tx("p1", 1, 1, &dir.join("p1.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let mut connection = controller.accept_within(RECONNECT_LIMIT).expect("the switch connects to the controller");
    assert_eq!(handshake(&mut connection), 0xab, "FEATURES_REPLY's datapath id is the configured one");
    assert_eq!(ofctl::datapath_id(&config.mgmt_socket()), 0xab, "ovs-ofctl show sees it too");
    assert_eq!(switch.show().bridges[0].datapath_id, "00000000000000ab", "vsctl show says it");

    // Changed at run time: the controller's connection is closed, the switch reconnects with
    // the new id; ovs-ofctl and vsctl show see it.
    switch.vsctl_ok(&["set-datapath-id", "br0", "00000000000000cd"]);
    assert!(closed_within(&mut connection, Duration::from_secs(5)), "the controller is reconnected");
    let mut again = controller.accept_within(RECONNECT_LIMIT).expect("the switch connects again");
    assert_eq!(handshake(&mut again), 0xcd, "FEATURES_REPLY's datapath id is the new one");
    assert_eq!(ofctl::datapath_id(&config.mgmt_socket()), 0xcd);
    assert_eq!(switch.show().bridges[0].datapath_id, "00000000000000cd");
    // Setting the same id again changes nothing: the connection stays.
    switch.vsctl_ok(&["set-datapath-id", "br0", "0xcd"]);
    assert!(!closed_within(&mut again, Duration::from_millis(1500)), "reconnected for nothing");
    // Bad ids: refused with the reason, nothing changed.
    for (bad, problem) in
        [("0", "not allowed"), ("xyz", "not a datapath id"), ("12345678901234567", "not a datapath id")]
    {
        let refused = switch.vsctl(&["set-datapath-id", "br0", bad]);
        assert!(!refused.success() && refused.stderr.contains(problem), "{bad}: {refused}");
    }
    assert_eq!(switch.show().bridges[0].datapath_id, "00000000000000cd");
    drop(again);
    switch.stop();
}
