//! Bad input is refused clearly and harms nothing: invalid configuration
//! files (and a PMD core the machine lacks) stop vswitchd before DPDK
//! starts, with one line naming file, key and problem; a port that fails to
//! probe follows `switch.on_port_error`; a port on a DPDK device another
//! port already owns never takes it over; a vhost-user socket another
//! process listens on is never taken over; a second vswitchd on the same
//! control socket is refused; vsctl reports usage errors (exit 2), refused
//! requests (exit 1) and a missing daemon (exit 1) with clear messages.
#![forbid(unsafe_code)]
use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vswitch_e2e::bins;
use vswitch_e2e::command::{self, CmdOutput};
use vswitch_e2e::vswitchd::vsctl_at;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// A refused start must be this quick (DPDK is never initialised).
const QUICK: Duration = Duration::from_secs(2);
/// Upper bound for any vswitchd run that should end by itself.
const RUN_LIMIT: Duration = Duration::from_secs(15);

/// A forwarding pair every running-switch test here has: p1 -> p2.
fn forwarding_pair(dir: &TestDir) -> SwitchConfig {
    SwitchConfig::new(dir)
        .port(PortSpec::dpdk("p1", 1, "net_null0"))
        .port(PortSpec::dpdk("p2", 2, "net_null1,no-rx=1"))
        .flow("in_port=1,actions=output:2")
}

fn run_vswitchd(args: &[&str], config: &Path) -> CmdOutput {
    let mut cmd = Command::new(bins::vswitchd());
    cmd.args(args).arg(config);
    command::run(cmd, RUN_LIMIT)
}

fn assert_no_eal(output: &CmdOutput) {
    let eal_lines: Vec<&str> = output.stderr.lines().filter(|l| l.starts_with("EAL:")).collect();
    assert!(eal_lines.is_empty(), "DPDK was started ({eal_lines:?}):\n{output}");
}

/// p2 sends more over 200 ms: the switch forwards (`when`: for the message).
fn assert_forwarding(switch: &Vswitchd, when: &str) {
    let before = switch.port_stats().port("p2").tx_packets;
    std::thread::sleep(Duration::from_millis(200));
    let after = switch.port_stats().port("p2").tx_packets;
    assert!(after > before, "p1 -> p2 does not forward {when}: p2 tx {before} -> {after}");
}

/// The socket at `path` is still the test's: it exists and `listener`
/// accepts a new connection on it.
fn assert_still_listening(path: &Path, listener: &UnixListener) {
    assert!(path.exists(), "{} was removed", path.display());
    let _client = UnixStream::connect(path).unwrap_or_else(|e| panic!("cannot connect to {}: {e}", path.display()));
    listener.set_nonblocking(true).expect("nonblocking listener");
    match listener.accept() {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            panic!("{} no longer reaches the test's listener", path.display())
        }
        Err(e) => panic!("accept on {}: {e}", path.display()),
    }
}

struct BadConfig {
    what: &'static str,
    /// (text to replace in a valid configuration, its replacement)
    edit: (&'static str, &'static str),
    /// Substrings the error line must contain besides the file name.
    expect: &'static [&'static str],
}

#[test]
fn invalid_configs_are_refused_before_dpdk_starts() {
    let dir = TestDir::new("bad_configs");
    let valid = forwarding_pair(&dir).to_toml();
    let cases = [
        BadConfig {
            what: "unknown key",
            edit: ("main_core = 0", "main_cor = 0"),
            expect: &["dpdk.main_cor", "unknown key", "main_core"],
        },
        BadConfig {
            what: "bad type",
            edit: ("main_core = 0", "main_core = \"zero\""),
            expect: &["dpdk.main_core", "integer", "string"],
        },
        BadConfig {
            what: "duplicate port names",
            edit: ("name = \"p2\"", "name = \"p1\""),
            expect: &["bridge[0].port[1].name", "\"p1\"", "unique"],
        },
        BadConfig {
            what: "flow naming a missing port",
            edit: ("in_port=1,actions=output:2", "in_port=1,actions=output:7"),
            expect: &["bridge[0].flows[0]", "output:7", "no port with ofport 7"],
        },
        BadConfig {
            what: "TOML syntax error",
            edit: ("mbufs = 8192", "mbufs = 8192\nin_memory = \"unterminated"),
            expect: &[],
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let (from, to) = case.edit;
        assert!(valid.contains(from), "test bug: {from:?} not in the base configuration");
        let text = valid.replacen(from, to, 1);
        let path = dir.join(&format!("bad{index}.toml"));
        std::fs::write(&path, &text).expect("write config");
        let file = path.display().to_string();

        let output = run_vswitchd(&["--config"], &path);
        let what = case.what;
        assert!(!output.success() && output.code().is_some(), "{what}: expected a non-zero exit:\n{output}");
        assert!(output.elapsed < QUICK, "{what}: took {:?} to refuse", output.elapsed);
        assert_no_eal(&output);
        let lines: Vec<&str> = output.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: expected one error line:\n{output}");
        let line = lines[0];
        if case.expect.is_empty() {
            // Syntax errors name file:line:column; the bad line is this one.
            let line_no = text.lines().position(|l| l.contains("unterminated")).expect("edited line") + 1;
            assert!(line.contains(&format!("{file}:{line_no}:")), "{what}: no {file}:{line_no}: in {line:?}");
        } else {
            assert!(line.contains(&file), "{what}: file not named in {line:?}");
            for expected in case.expect {
                assert!(line.contains(expected), "{what}: {expected:?} missing in {line:?}");
            }
        }
        assert!(!dir.join("ctl.sock").exists(), "{what}: the control socket was created");

        let check = run_vswitchd(&["--check-config"], &path);
        assert_eq!(check.code(), Some(1), "{what}: --check-config:\n{check}");
        assert_eq!(check.stderr.trim(), line.trim(), "{what}: --check-config reports differently");
    }
    let valid_path = dir.join("valid.toml");
    std::fs::write(&valid_path, &valid).expect("write config");
    let check = run_vswitchd(&["--check-config"], &valid_path);
    assert!(check.success(), "the base configuration itself is invalid:\n{check}");
}

/// A PMD core the machine does not have: refused before DPDK starts.
#[test]
fn missing_pmd_core_is_refused_before_dpdk_starts() {
    let dir = TestDir::new("missing_core");
    let text = forwarding_pair(&dir).to_toml();
    assert!(text.contains("cores = [1]"), "test bug: no PMD core line in\n{text}");
    let path = dir.join("vswitchd.toml");
    std::fs::write(&path, text.replace("cores = [1]", "cores = [1023]")).expect("write config");
    let output = run_vswitchd(&["--config"], &path);
    assert!(!output.success() && output.code().is_some(), "expected a non-zero exit:\n{output}");
    assert!(output.elapsed < QUICK, "took {:?} to refuse", output.elapsed);
    assert_no_eal(&output);
    assert!(output.stderr.contains("core 1023"), "the missing core is not named:\n{output}");
    assert!(!dir.join("ctl.sock").exists(), "control socket left behind");
}

#[test]
fn port_probe_failure_with_continue_runs_without_the_port() {
    let dir = TestDir::new("probe_continue");
    let config = forwarding_pair(&dir).port(PortSpec::dpdk("p3", 3, "net_bogus0")).on_port_error("continue");
    let switch = Vswitchd::start(&dir, &config);
    assert_eq!(switch.show().port_names(), ["p1", "p2"], "`show` must lack the failed port");
    assert_forwarding(&switch, "without the failed p3");
    let stderr = switch.stderr();
    assert!(stderr.contains("p3") && stderr.contains("net_bogus0"), "the failure of p3 is not logged:\n{stderr}");
    switch.stop();
}

#[test]
fn port_probe_failure_with_abort_exits_non_zero() {
    let dir = TestDir::new("probe_abort");
    let config = forwarding_pair(&dir).port(PortSpec::dpdk("p3", 3, "net_bogus0")).on_port_error("abort");
    let mut switch = Vswitchd::spawn(&dir, &config, "vswitchd");
    let status = switch.wait_exit(RUN_LIMIT).expect("vswitchd keeps running although a port failed with abort");
    assert!(!status.success() && status.code().is_some(), "exit status {status}");
    let stderr = switch.stderr();
    assert!(stderr.contains("p3") && stderr.contains("net_bogus0"), "error does not name p3 / its devargs:\n{stderr}");
    assert!(!config.socket.exists(), "control socket left behind");
}

#[test]
fn vhost_server_socket_in_use_is_never_taken_over() {
    let dir = TestDir::new("vhost_busy");
    let busy = dir.join("busy.sock");
    let listener = UnixListener::bind(&busy).expect("bind the test's socket");

    // At start, with abort: vswitchd refuses and exits.
    let config = forwarding_pair(&dir).port(PortSpec::vhost_user("vm1", 3, &busy)).on_port_error("abort");
    let mut switch = Vswitchd::spawn(&dir, &config, "vswitchd-abort");
    let status = switch.wait_exit(RUN_LIMIT).expect("vswitchd took over or hung on a socket in use");
    assert!(!status.success(), "exit status {status}");
    let stderr = switch.stderr();
    let path = busy.display().to_string();
    assert!(stderr.contains(&path) && stderr.contains("in use"), "error does not name the busy socket:\n{stderr}");
    drop(switch);
    assert_still_listening(&busy, &listener);

    // At run time: add-port is refused, the switch carries on.
    let switch = Vswitchd::start(&dir, &forwarding_pair(&dir));
    let output = switch.vsctl(&["add-port", "br0", "vmx", "type=vhost-user", &format!("path={path}")]);
    assert_eq!(output.code(), Some(1), "add-port on a socket in use:\n{output}");
    assert!(output.stderr.contains(&path) && output.stderr.contains("in use"), "{output}");
    assert_eq!(switch.show().port_names(), ["p1", "p2"]);
    assert_still_listening(&busy, &listener);
    assert_forwarding(&switch, "after the refused add-port");
    switch.stop();
    assert_still_listening(&busy, &listener);
}

/// p1 is up, listed and forwarding to p2 (after something that must not
/// have touched it).
fn assert_p1_intact(switch: &mut Vswitchd, after: &str) {
    assert!(switch.is_running(), "vswitchd died after {after}");
    let show = switch.show();
    assert_eq!(show.port_names(), ["p1", "p2"], "ports after {after}");
    let p1 = show.port("p1").expect("p1 listed");
    assert!(p1.link_up, "p1's device was taken down by {after}: {p1:?}");
    assert_forwarding(switch, &format!("after {after}"));
}

/// A runtime port whose devargs name the device of an existing port (same
/// devargs, or the same device name with other arguments) must be refused
/// without touching the port that owns the device.
#[test]
fn add_port_on_a_device_already_in_use_is_refused() {
    let dir = TestDir::new("device_in_use_runtime");
    let mut switch = Vswitchd::start(&dir, &forwarding_pair(&dir));
    for devargs in ["net_null0", "net_null0,no-rx=1"] {
        let after = format!("add-port dup devargs={devargs} (p1's device)");
        let output = switch.vsctl(&["add-port", "br0", "dup", "type=dpdk", &format!("devargs={devargs}")]);
        assert_eq!(output.code(), Some(1), "{after}:\n{output}");
        assert_p1_intact(&mut switch, &after);
        assert!(output.stderr.contains("net_null0"), "{after}: the error does not name the device:\n{output}");
    }
    switch.stop();
}

/// Two configured ports on one DPDK device (`net_null0` and
/// `net_null0,no-rx=1`): either the file is refused, or the second port
/// fails to start and the first one keeps its device.
#[test]
fn two_config_ports_on_one_device_do_not_break_the_first() {
    let dir = TestDir::new("device_in_use_config");
    let config = forwarding_pair(&dir).port(PortSpec::dpdk("p3", 3, "net_null0,no-rx=1")).on_port_error("continue");
    let mut switch = Vswitchd::spawn(&dir, &config, "vswitchd");
    match switch.wait_started() {
        Err(status) => {
            assert!(!status.success(), "exit status {status}");
            let stderr = switch.stderr();
            assert!(stderr.contains("bridge[0].port[2]") || stderr.contains("p3"), "p3 not named:\n{stderr}");
        }
        Ok(()) => {
            assert_p1_intact(&mut switch, "the failed start of p3 on p1's device");
            switch.stop();
        }
    }
}

#[test]
fn second_vswitchd_on_the_same_control_socket_is_refused() {
    let dir = TestDir::new("second_daemon");
    let first = Vswitchd::start(&dir, &forwarding_pair(&dir));
    let mut second = SwitchConfig::new(&dir).port(PortSpec::dpdk("q1", 1, "net_null0"));
    second.file_prefix = dir.file_prefix("vs2");
    let path = second.write(&dir, "second.toml");
    let output = run_vswitchd(&["--config"], &path);
    assert!(!output.success() && output.code().is_some(), "second vswitchd:\n{output}");
    assert!(output.elapsed < QUICK, "took {:?} to refuse", output.elapsed);
    assert_no_eal(&output);
    let socket = first.socket().display().to_string();
    assert!(output.stderr.contains(&socket) && output.stderr.contains("in use"), "{output}");
    assert!(first.socket().exists(), "the second vswitchd removed the first one's socket");
    assert_eq!(first.show().port_names(), ["p1", "p2"], "the first vswitchd no longer answers as before");
    assert_forwarding(&first, "in the first vswitchd");
    first.stop();
}

#[test]
fn vsctl_reports_usage_errors_and_refusals() {
    let dir = TestDir::new("vsctl_errors");
    let switch = Vswitchd::start(&dir, &forwarding_pair(&dir));
    let usage_errors: [&[&str]; 5] = [
        &["frobnicate"],
        &["add-port", "br0", "x", "devargs=net_null5"],
        &["add-port", "br0", "x", "type=dpdk", "devargs"],
        &["add-port", "br0", "x", "type=dpdk", "devargs=net_null5", "mtu=abc"],
        &["add-port", "br0"],
    ];
    for args in usage_errors {
        let output = switch.vsctl(args);
        assert_eq!(output.code(), Some(2), "vsctl {args:?}:\n{output}");
        assert!(output.stderr.contains("Usage:"), "vsctl {args:?} printed no usage:\n{output}");
        assert!(output.stdout.is_empty(), "vsctl {args:?}:\n{output}");
    }
    assert_eq!(switch.show().port_names(), ["p1", "p2"], "a rejected command line changed the switch");

    let output = switch.vsctl(&["del-port", "nosuchport"]);
    assert_eq!(output.code(), Some(1), "del-port of a missing port:\n{output}");
    assert!(output.stderr.contains("nosuchport"), "the error does not name the port:\n{output}");
    assert_eq!(switch.show().port_names(), ["p1", "p2"]);
    switch.stop();
}

#[test]
fn vsctl_without_a_daemon_says_so() {
    let dir = TestDir::new("vsctl_no_daemon");
    let missing = dir.join("missing.sock");
    let stale = dir.join("stale.sock");
    drop(UnixListener::bind(&stale).expect("bind"));
    for socket in [&missing, &stale] {
        let output = vsctl_at(socket, &["show"]);
        assert_eq!(output.code(), Some(1), "{output}");
        let text = &output.stderr;
        assert!(text.contains(&socket.display().to_string()), "the socket is not named:\n{output}");
        assert!(text.contains("is vswitchd running?"), "no hint that vswitchd is not running:\n{output}");
        assert!(output.elapsed < QUICK, "took {:?}", output.elapsed);
    }
    // The socket from the environment is used when --socket is not given.
    let mut cmd = Command::new(bins::vsctl());
    cmd.env("VSWITCH_SOCKET", &missing).arg("show");
    let output = command::run(cmd, RUN_LIMIT);
    assert_eq!(output.code(), Some(1), "{output}");
    assert!(output.stderr.contains(&missing.display().to_string()), "$VSWITCH_SOCKET ignored:\n{output}");
}
