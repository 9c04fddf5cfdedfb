//! Slow and hostile controllers cost them their own connection at worst, never the switch's
//! forwarding: while a port forwards without pause (a looping pcap into a null device), one
//! client sends garbage, one sends a 64 KiB message of nonsense, one floods flow-mods without
//! reading anything, and one takes packet-ins but never reads. Throughout, every 500 ms the
//! forwarded count grows, ovs-ofctl on the management socket is answered, and afterwards every
//! flood flow-mod is in the table (one barrier after 20,000 of them), the one that stopped
//! reading has been disconnected for not answering echo requests (its packet-ins never
//! stopped), and the switch stops cleanly.
#![forbid(unsafe_code)]
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use vswitch_e2e::ofctl::{free_port, ofctl_ok};
use vswitch_e2e::openflow_raw::{self, error_of, read_message};
use vswitch_e2e::{frames, pcap, wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

const FLOOD_FLOWS: u32 = 20_000;

/// A 1.3 FLOW_MOD adding `priority=100,udp,tp_src=<port>,actions=output:2`.
fn add_flow(xid: u32, port: u16) -> Vec<u8> {
    let oxm = |field: u8, value: &[u8]| {
        let mut tlv = vec![0x80, 0x00, field << 1, u8::try_from(value.len()).unwrap()];
        tlv.extend_from_slice(value);
        tlv
    };
    let mut fields = oxm(5, &0x0800u16.to_be_bytes());
    fields.extend(oxm(10, &[17]));
    fields.extend(oxm(15, &port.to_be_bytes()));
    let match_len = 4 + fields.len();
    let mut matches = vec![0, 1];
    matches.extend_from_slice(&u16::try_from(match_len).unwrap().to_be_bytes());
    matches.extend(fields);
    matches.resize(match_len.div_ceil(8) * 8, 0);
    // apply_actions { output:2 }
    let instructions = [0, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0xff, 0xe5, 0, 0, 0, 0, 0, 0];
    let mut message = vec![4, 14, 0, 0];
    message.extend_from_slice(&xid.to_be_bytes());
    message.extend_from_slice(&[0; 16]); // cookie, cookie mask
    message.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 100]); // table 0, add, timeouts, priority
    message.extend_from_slice(&[0xff; 12]); // buffer id, out_port, out_group
    message.extend_from_slice(&[0; 4]); // flags, pad
    message.extend(matches);
    message.extend_from_slice(&instructions);
    let length = u16::try_from(message.len()).unwrap();
    message[2..4].copy_from_slice(&length.to_be_bytes());
    message
}

/// A client that asked for no packet-ins (SET_ASYNC), so what it reads are answers.
fn quiet_client(port: u16) -> TcpStream {
    let mut stream = openflow_raw::client(port);
    let mut set_async = vec![4, 28, 0, 32, 0, 0, 0, 2];
    set_async.extend_from_slice(&[0; 8]); // packet-in masks: none
    set_async.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 7]); // port status
    set_async.extend_from_slice(&[0, 0, 0, 15, 0, 0, 0, 0]); // flow removed
    stream.write_all(&set_async).expect("set async");
    stream
}

fn forwarded(switch: &Vswitchd) -> u64 {
    switch.port_stats().get("p2").map_or(0, |p| p.tx_packets)
}

fn ofctl_flow_count(mgmt: &str) -> usize {
    let output = ofctl_ok("OpenFlow13", &["dump-aggregate", mgmt]);
    output
        .split("flow_count=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no flow_count in {output}"))
}

#[test]
fn hostile_controllers_cost_only_their_own_connections() {
    let dir = TestDir::new("of_hostile");
    let port = free_port();
    let frames: Vec<Vec<u8>> = (0..64).map(|i| frames::numbered_udp_frame(1, i, 64)).collect();
    let input = dir.join("loop.pcap");
    pcap::write(&input, &frames);
    let config = SwitchConfig::new(&dir)
        .openflow(&format!("ptcp:{port}:127.0.0.1"))
        .flow("priority=0,actions=output:2")
        // One flow of the loop goes to the controllers too (at the packet-in rate limit).
        .flow(&format!("priority=10,udp,dl_src={},actions=CONTROLLER:64,output:2", mac_of(&frames[0])))
        // Enough packet-ins to fill the deaf client's socket buffers within seconds.
        .bridge_setting("controller_rate_limit", "20000")
        .bridge_setting("controller_burst_limit", "5000")
        .port(PortSpec::dpdk("p1", 1, &format!("net_pcap1,rx_pcap={},infinite_rx=1", input.display())))
        .port(PortSpec::dpdk("p2", 2, "net_null2,no-rx=1"));
    let switch = Vswitchd::start(&dir, &config);
    let mgmt = format!("unix:{}", config.mgmt_socket().display());
    wait::poll(Duration::from_secs(10), || (forwarded(&switch) > 0).then_some(()))
        .expect("the loop forwards before the test starts");

    // Never reads: packet-ins pile up in its socket until the switch gives up on it.
    let deaf = openflow_raw::client(port);
    // Garbage: 16-byte frames of an unknown version and type instead of a HELLO.
    let mut garbage = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    garbage.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let junk: Vec<u8> = (0..256).flat_map(|_| [0x77, 0x77, 0, 16].into_iter().chain([0x77; 12])).collect();
    garbage.write_all(&junk).expect("garbage");
    // 64 KiB of nonsense in one well-framed message of an unknown type.
    let mut nonsense = quiet_client(port);
    let mut big = vec![4, 0xee, 0xff, 0xff, 0, 0, 0, 9];
    big.extend((0..65535 - 8).map(|i| (i * 7 % 251) as u8));
    nonsense.write_all(&big).expect("nonsense");
    // A flood of flow-mods from a client that reads nothing.
    let mut flooder = quiet_client(port);
    let flood: Vec<u8> = (0..FLOOD_FLOWS).flat_map(|i| add_flow(i + 100, u16::try_from(1000 + i).unwrap())).collect();
    let writer = std::thread::spawn(move || {
        flooder.write_all(&flood).expect("the flood");
        flooder
    });

    // Forwarding goes on in every window, and the management socket is answered.
    let started = Instant::now();
    let mut last = forwarded(&switch);
    let mut windows = 0;
    while started.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(500));
        let now = forwarded(&switch);
        assert!(now > last, "no packet forwarded in 500 ms ({} ms into the attack)", started.elapsed().as_millis());
        last = now;
        windows += 1;
        if windows % 4 == 0 {
            ofctl_flow_count(&mgmt);
        }
    }
    // Packet-ins may have come before SET_ASYNC took effect, echo requests any time.
    let next_reply = |stream: &mut TcpStream| {
        std::iter::from_fn(|| read_message(stream)).take(100_000).find(|message| !matches!(message[1], 2 | 10))
    };
    let mut flooder = writer.join().expect("the flood was written");
    // Everything the flooder sent took effect: a barrier answers after the last flow-mod.
    flooder.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    flooder.write_all(&[4, 20, 0, 8, 0, 0, 0, 7]).expect("barrier");
    let reply = next_reply(&mut flooder).expect("a barrier reply");
    assert_eq!(reply[1], 21, "no error for any flow-mod, then the barrier reply: {reply:?}");
    assert_eq!(ofctl_flow_count(&mgmt), FLOOD_FLOWS as usize + 2);

    // The nonsense got an error and its connection lives on.
    let (xid, error_type, code) = error_of(&next_reply(&mut nonsense).expect("an error"));
    assert_eq!((xid, error_type, code), (9, 1, 1), "OFPBRC_BAD_TYPE");
    nonsense.write_all(&[4, 2, 0, 8, 0, 0, 0, 10]).expect("echo");
    assert_eq!(next_reply(&mut nonsense).map(|m| m[1]), Some(3), "an echo reply after the nonsense");
    // The garbage got an error and the door.
    let mut seen = Vec::new();
    while let Some(message) = read_message(&mut garbage) {
        seen.push(message[1]);
        assert!(seen.len() < 5, "the garbage connection stays open: {seen:?}");
    }
    assert!(seen.contains(&1), "an error before the close: {seen:?}");
    // The deaf client answers no echo request: dropped within two probe intervals.
    wait::poll(Duration::from_secs(20), || switch.stderr().contains("no answer to an echo request").then_some(()))
        .unwrap_or_else(|| panic!("the deaf client was not disconnected:\n{}", switch.stderr()));
    drop(deaf);
    assert!(forwarded(&switch) > last, "still forwarding");
    switch.stop();
}

fn mac_of(frame: &[u8]) -> String {
    frame[6..12].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}
