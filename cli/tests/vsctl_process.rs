//! vsctl run as a process: what `app::main` promises on exit - 0 with the output on
//! stdout, 1 with `vsctl: <why>` on stderr when vswitchd refuses (or is not there),
//! 2 with clap's usage text when nothing could be sent - and `add-flows BRIDGE -`
//! reading its standard input. A thread on a unix socket in a fresh temporary
//! directory stands in for vswitchd; every wait is bounded.
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

// The unit tests' stand-in for vswitchd, shared by path (vsctl is a binary crate); not every
// item of it is used here.
#[allow(dead_code)]
#[path = "../src/test_server.rs"]
mod test_server;

use test_server::{scratch_dir, Answer, CannedServer};

/// A stand-in that answers the first request with the JSON line `reply`.
fn daemon(test_name: &str, reply: &str) -> CannedServer {
    CannedServer::start(test_name, Answer::Raw(format!("{reply}\n")))
}

/// Runs vsctl with `args` after `--socket SOCKET --timeout 5`, feeding it `stdin`.
fn vsctl(socket: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vsctl"))
        .arg("--socket")
        .arg(socket)
        .args(["--timeout", "5"])
        .args(args)
        .env_remove("VSWITCH_SOCKET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vsctl");
    // vsctl may exit without reading stdin; a broken pipe here is no failure.
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("wait for vsctl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn add_flows_from_standard_input_prints_nothing_and_exits_0() {
    let daemon = daemon("process-stdin", r#"{"ok":true,"result":{"added":2,"replaced":0,"modified":0,"removed":0}}"#);
    let flows = "# uplink\npriority=10,in_port=1,actions=output:2\n\nin_port=2 actions=output:1 # back\n";
    let output = vsctl(daemon.socket(), &["add-flows", "br0", "-"], flows);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(text(&output.stdout), "");
    assert_eq!(text(&output.stderr), "");
    assert_eq!(
        daemon.request_line().unwrap(),
        r#"{"cmd":"add-flows","bridge":"br0","flows":["priority=10,in_port=1,actions=output:2","in_port=2 actions=output:1"]}"#
    );
}

#[test]
fn trace_goes_to_stdout() {
    let daemon = daemon(
        "process-trace",
        r#"{"ok":true,"result":{"steps":[" 0. in_port=1, priority 32768","    output:2"],"datapath_actions":"2","megaflow":"in_port=1"}}"#,
    );
    let output = vsctl(daemon.socket(), &["trace", "br0", "in_port=1,tcp"], "");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        text(&output.stdout),
        " 0. in_port=1, priority 32768\n    output:2\n\nMegaflow: in_port=1\nDatapath actions: 2\n"
    );
    assert_eq!(daemon.request_line().unwrap(), r#"{"cmd":"trace","bridge":"br0","flow":"in_port=1,tcp"}"#);
}

#[test]
fn refusal_exits_1_with_the_daemons_error() {
    let daemon = daemon("process-refused", r#"{"ok":false,"error":"no bridge named \"br9\""}"#);
    let output = vsctl(daemon.socket(), &["del-flows", "--strict", "br9", "priority=5,in_port=1"], "");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(text(&output.stdout), "");
    assert_eq!(text(&output.stderr), "vsctl: no bridge named \"br9\"\n");
    assert_eq!(
        daemon.request_line().unwrap(),
        r#"{"cmd":"del-flows","bridge":"br9","selector":"priority=5,in_port=1","strict":true}"#
    );
}

#[test]
fn refused_rule_of_standard_input_is_named_by_its_line() {
    let daemon = daemon("process-refused-line", r#"{"ok":false,"error":"flow 2: in_port=abc: not a port number"}"#);
    let output = vsctl(daemon.socket(), &["add-flows", "br0", "-"], "actions=drop\n# next\nin_port=abc,actions=drop\n");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(text(&output.stderr), "vsctl: (standard input):3: in_port=abc: not a port number\n");
    assert_eq!(
        daemon.request_line().unwrap(),
        r#"{"cmd":"add-flows","bridge":"br0","flows":["actions=drop","in_port=abc,actions=drop"]}"#
    );
}

#[test]
fn no_daemon_exits_1() {
    let dir = scratch_dir("no-daemon");
    let output = vsctl(&dir.join("vswitchd.sock"), &["add-flow", "br0", "actions=drop"], "");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("vsctl: cannot connect to "), "{stderr}");
    let _ = fs::remove_dir_all(dir);
}

/// Nothing listens at the socket: exit 2 shows vsctl stopped before connecting.
#[test]
fn local_errors_exit_2_before_anything_is_sent() {
    let dir = scratch_dir("usage");
    let socket = dir.join("vswitchd.sock");
    let missing = dir.join("missing.flows");
    let cases = [
        (vec!["fdb-add", "br0", "p1", "4096", "02:00:00:00:00:01"], "4096 is not in 0..=4095".to_string()),
        (vec!["fdb-add", "br0", "p1", "1", "02:00:00:00:00"], "not a MAC address".to_string()),
        (
            vec!["add-flows", "br0", missing.to_str().unwrap()],
            format!("cannot read flows file '{}': No such file or directory", missing.display()),
        ),
        (vec!["add-flows", "br0", dir.to_str().unwrap()], format!("cannot read flows file '{}': ", dir.display())),
        (vec!["mod-flows", "br0"], "<FLOW>".to_string()),
    ];
    for (args, complaint) in cases {
        let output = vsctl(&socket, &args, "");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(text(&output.stdout), "", "{args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with("error: ") && stderr.contains(&complaint), "{args:?}: {stderr}");
    }
    let _ = fs::remove_dir_all(dir);
}
