//! Network namespaces a test creates to make hosts of the switch's kernel interfaces: the TAP
//! device of a DPDK `net_tap` port is moved into a namespace of its own, gets an IPv4 address
//! and pings the other hosts through the switch. Traffic stays between the test's namespaces.
//!
//! A namespace is named `<role>-<test>-<pid>` (unique to the test and its process) and is
//! deleted when dropped, also when the test panics; an interface inside goes with it. Drop a
//! namespace after the vswitchd whose TAP device it holds (declare it before the switch), so
//! the switch closes its port before the device disappears. Every `ip` and `ping` run is
//! bounded in time.
use std::process::Command;
use std::time::Duration;

use crate::command::{self, run, CmdOutput};
use crate::scratch::TestDir;

/// Longest kernel interface name (IFNAMSIZ - 1).
pub const MAX_INTERFACE_NAME: usize = 15;
/// Longest namespace name the harness makes (a file name under /run/netns).
const MAX_NAMESPACE_NAME: usize = 64;
/// How long one `ip` command may take.
const IP_LIMIT: Duration = Duration::from_secs(10);

/// A network namespace of one test.
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// Creates the namespace `<role>-<test>-<pid>`, first deleting one of that name left by a
    /// killed earlier run of this test.
    pub fn create(dir: &TestDir, role: &str) -> Namespace {
        let name = dir.unique_name(role, MAX_NAMESPACE_NAME);
        let _ = command::try_run(ip(&["netns", "del", &name]), IP_LIMIT);
        ip_ok(&["netns", "add", &name]);
        let namespace = Namespace { name };
        namespace.ip_inside_ok(&["link", "set", "lo", "up"]);
        namespace
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves `interface` from the test's namespace into this one, gives it `address` (CIDR,
    /// e.g. `10.0.0.1/24`) and brings it up.
    pub fn adopt(&self, interface: &str, address: &str) {
        ip_ok(&["link", "set", interface, "netns", &self.name]);
        self.ip_inside_ok(&["addr", "add", address, "dev", interface]);
        self.ip_inside_ok(&["link", "set", interface, "up"]);
    }

    /// The MAC address of `interface` inside, as `ip` prints it (`aa:bb:cc:dd:ee:ff`).
    pub fn mac(&self, interface: &str) -> String {
        let json = self.ip_inside_ok(&["-j", "link", "show", "dev", interface]);
        let links: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("cannot decode `ip -j link show`: {e}\n{json}"));
        links[0]["address"].as_str().unwrap_or_else(|| panic!("no address in `ip -j link show`: {json}")).to_owned()
    }

    /// Runs `ping -c <count>` from inside to `address`, 0.2 s apart, each reply awaited at
    /// most 1 s.
    pub fn ping(&self, address: &str, count: u32) -> CmdOutput {
        let count = count.to_string();
        let ping = ["ping", "-n", "-c", &count, "-i", "0.2", "-W", "1", address];
        let mut command = ip(&["netns", "exec", &self.name]);
        command.args(ping);
        run(command, IP_LIMIT)
    }

    /// Pings `address` with `count` echo requests up to `attempts` times until one run gets
    /// every reply (the first may go to ARP or to a controller learning the hosts). Ok with the
    /// answered run, else Err with every run's output.
    pub fn ping_until_answered(&self, address: &str, count: u32, attempts: u32) -> Result<CmdOutput, String> {
        let mut failures = String::new();
        for _ in 0..attempts {
            let output = self.ping(address, count);
            if output.success() && output.stdout.contains(" 0% packet loss") {
                return Ok(output);
            }
            failures.push_str(&format!("{output}\n"));
        }
        Err(failures)
    }

    /// `ip -n <name> <args>`, which must succeed; its stdout.
    fn ip_inside_ok(&self, args: &[&str]) -> String {
        let full: Vec<&str> = ["-n", self.name.as_str()].into_iter().chain(args.iter().copied()).collect();
        ip_ok(&full)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        match command::try_run(ip(&["netns", "del", &self.name]), IP_LIMIT) {
            Ok(output) if output.success() => {}
            Ok(output) => eprintln!("warning: cannot delete network namespace {}:\n{output}", self.name),
            Err(e) => eprintln!("warning: cannot delete network namespace {}: {e}", self.name),
        }
    }
}

fn ip(args: &[&str]) -> Command {
    let mut command = Command::new("ip");
    command.args(args);
    command
}

/// Runs `ip <args>`, which must succeed; its stdout.
fn ip_ok(args: &[&str]) -> String {
    let output = run(ip(args), IP_LIMIT);
    assert!(output.success(), "{output}");
    output.stdout
}
