//! One run of vsctl from start to exit code: read the command line, ask
//! vswitchd, print the answer. Exit codes: 0 done, 1 vswitchd unreachable or
//! refused the request (`vsctl: <why>` on stderr), 2 bad command line or
//! unreadable `add-flows` FILE (nothing sent).
use std::env;
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::{parse_invocation, Invocation};
use crate::client::{exchange, ClientError};
use crate::proto::SOCKET_ENV;
use crate::render::{render_json, render_result};

/// Exit code for a command line clap rejected (clap's own convention).
const USAGE_EXIT_CODE: u8 = 2;

/// Why a well-formed command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// No usable reply (not running, timeout, broken reply ...).
    Client(ClientError),
    /// vswitchd answered `ok: false`; its error text.
    Refused(String),
    /// vswitchd answered `ok: true` with a result this vsctl cannot read.
    UnexpectedResult { socket: PathBuf, error: serde_json::Error },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Client(error) => error.fmt(f),
            Failure::Refused(error) => f.write_str(error),
            Failure::UnexpectedResult { socket, error } => write!(
                f,
                "unexpected result from vswitchd at {} (is it a different version?): {error}",
                socket.display()
            ),
        }
    }
}

/// The process entry point: everything `main` does, returning the exit code.
pub fn main() -> ExitCode {
    let invocation = match parse_invocation(env::args_os(), env::var_os(SOCKET_ENV), io::stdin().lock()) {
        Ok(invocation) => invocation,
        Err(error) => {
            // Help and version are "errors" with exit code 0; printing them may fail
            // on a closed stdout, which changes nothing about the outcome.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(USAGE_EXIT_CODE));
        }
    };
    match execute(&invocation) {
        Ok(text) => print_output(&text),
        Err(failure) => {
            let _ = writeln!(io::stderr(), "vsctl: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// Sends the invocation's request and returns the text to print on success.
pub fn execute(invocation: &Invocation) -> Result<String, Failure> {
    let reply = exchange(&invocation.socket, invocation.timeout, &invocation.request).map_err(Failure::Client)?;
    if !reply.ok {
        let error = reply.error.unwrap_or_else(|| "vswitchd refused the request without saying why".to_string());
        return Err(Failure::Refused(match &invocation.flows_origin {
            Some(origin) => origin.locate(error),
            None => error,
        }));
    }
    if invocation.json {
        return Ok(render_json(&reply.result));
    }
    render_result(&invocation.request, reply.result)
        .map_err(|error| Failure::UnexpectedResult { socket: invocation.socket.clone(), error })
}

/// Prints to stdout; a reader that went away early (`vsctl show | head -1`) is
/// not an error, any other write failure is.
fn print_output(text: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(io::stderr(), "vsctl: cannot write output: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::proto::{
        BridgeInfo, DumpFlowsReply, FlowModReply, PortConfig, PortInfo, PortKind, Reply, Request, ShowReply, TraceReply,
    };
    use crate::test_server::{scratch_dir, Answer, CannedServer};

    fn reply_line(reply: &Reply) -> Answer {
        Answer::Raw(format!("{}\n", serde_json::to_string(reply).unwrap()))
    }

    fn invocation(server: &CannedServer, args: &str) -> Invocation {
        invocation_of_words(server, &args.split_whitespace().collect::<Vec<_>>())
    }

    /// For arguments with spaces in them (quoted on a shell command line).
    fn invocation_of_words(server: &CannedServer, args: &[&str]) -> Invocation {
        let socket = server.socket().to_str().unwrap().to_string();
        let mut words = vec!["vsctl", "--socket", &socket];
        words.extend(args);
        parse_invocation(words, None, std::io::empty()).unwrap()
    }

    fn flow_mod_reply(added: usize, removed: usize) -> Answer {
        reply_line(&Reply::success(&FlowModReply { added, removed, ..FlowModReply::default() }))
    }

    fn sent(server: CannedServer) -> Request {
        serde_json::from_str(&server.request_line().unwrap()).unwrap()
    }

    fn show_reply() -> ShowReply {
        ShowReply {
            bridges: vec![BridgeInfo {
                name: "br0".to_string(),
                datapath_id: "0000000000000001".to_string(),
                ports: vec![PortInfo {
                    name: "p1".to_string(),
                    ofport: 1,
                    kind: "dpdk".to_string(),
                    target: "net_null0".to_string(),
                    dpdk_port_id: 0,
                    link_up: true,
                    speed_mbps: 10_000,
                    mac: "02:00:00:00:00:01".to_string(),
                    mtu: 1500,
                    rx_queues: 1,
                    tx_queues: 1,
                    options: Default::default(),
                }],
                n_flows: 0,
                mac: None,
                addresses: vec![],
            }],
        }
    }

    #[test]
    fn show_end_to_end() {
        let server = CannedServer::start("app-show", reply_line(&Reply::success(&show_reply())));
        let output = execute(&invocation(&server, "show")).unwrap();
        assert_eq!(
            output,
            "\
bridge br0 (dpid 0000000000000001): 1 port, 0 flows
  PORT  OFPORT  TYPE  LINK  SPEED  MAC                 MTU  RXQ  TXQ  TARGET
  p1         1  dpdk  up      10G  02:00:00:00:00:01  1500    1    1  net_null0
"
        );
        assert_eq!(server.request_line().unwrap(), r#"{"cmd":"show"}"#);
    }

    #[test]
    fn json_prints_the_result_as_sent() {
        let server = CannedServer::start("app-json", reply_line(&Reply::success(&show_reply())));
        let output = execute(&invocation(&server, "--json show")).unwrap();
        let printed: serde_json::Value = serde_json::from_str(&output).unwrap();
        assert_eq!(printed, serde_json::to_value(show_reply()).unwrap());
        assert!(output.starts_with("{\n  \"bridges\": ["), "{output}");
    }

    #[test]
    fn add_port_from_command_line_to_daemon() {
        let server = CannedServer::start("app-add-port", reply_line(&Reply::success(&json!(null))));
        let output =
            execute(&invocation(&server, "add-port br0 p2 type=dpdk devargs=net_tap0,iface=tap0 mtu=9000")).unwrap();
        assert_eq!(output, "");
        let sent: Request = serde_json::from_str(&server.request_line().unwrap()).unwrap();
        assert_eq!(
            sent,
            Request::AddPort {
                bridge: "br0".to_string(),
                port: PortConfig {
                    name: "p2".to_string(),
                    ofport: None,
                    kind: PortKind::Dpdk { devargs: "net_tap0,iface=tap0".to_string() },
                    rx_queues: 1,
                    rxq_size: 1024,
                    txq_size: 1024,
                    mtu: Some(9000),
                    tag: None,
                    trunks: Vec::new(),
                },
            }
        );
    }

    #[test]
    fn daemon_error_is_passed_on() {
        let server = CannedServer::start("app-refused", reply_line(&Reply::failure("no such bridge: br9")));
        let failure = execute(&invocation(&server, "dump-flows br9")).unwrap_err();
        assert!(matches!(failure, Failure::Refused(_)), "{failure:?}");
        assert_eq!(failure.to_string(), "no such bridge: br9");
        assert_eq!(server.request_line().unwrap(), r#"{"cmd":"dump-flows","bridge":"br9","selector":null}"#);
    }

    #[test]
    fn dump_flows_prints_the_lines_as_received() {
        let lines = vec![
            " cookie=0x0, duration=5.2s, table=0, n_packets=10, n_bytes=640, priority=10,in_port=1 actions=output:2"
                .to_string(),
            " cookie=0x0, duration=5.2s, table=0, n_packets=0, n_bytes=0, in_port=2 actions=output:1".to_string(),
        ];
        let server =
            CannedServer::start("app-dump-flows", reply_line(&Reply::success(&DumpFlowsReply { flows: lines })));
        let output = execute(&invocation(&server, "dump-flows br0 in_port=1")).unwrap();
        assert_eq!(
            output,
            " cookie=0x0, duration=5.2s, table=0, n_packets=10, n_bytes=640, priority=10,in_port=1 actions=output:2\n \
             cookie=0x0, duration=5.2s, table=0, n_packets=0, n_bytes=0, in_port=2 actions=output:1\n"
        );
        assert_eq!(server.request_line().unwrap(), r#"{"cmd":"dump-flows","bridge":"br0","selector":"in_port=1"}"#);
    }

    #[test]
    fn add_flow_sends_one_rule_and_prints_nothing() {
        let server = CannedServer::start("app-add-flow", flow_mod_reply(1, 0));
        let output = execute(&invocation_of_words(&server, &["add-flow", "br0", "priority=10 in_port=1 actions=2"]));
        assert_eq!(output.unwrap(), "");
        assert_eq!(
            server.request_line().unwrap(),
            r#"{"cmd":"add-flows","bridge":"br0","flows":["priority=10 in_port=1 actions=2"]}"#
        );
    }

    #[test]
    fn add_flows_sends_the_file_in_one_request() {
        let dir = scratch_dir("app-add-flows-file");
        let file = dir.join("br0.flows");
        fs::write(&file, "# br0\n\npriority=10,in_port=1,actions=output:2\nin_port=2,actions=output:1  # back\n")
            .unwrap();
        let server = CannedServer::start("app-add-flows", flow_mod_reply(2, 0));
        let output = execute(&invocation_of_words(&server, &["add-flows", "br0", file.to_str().unwrap()])).unwrap();
        assert_eq!(output, "");
        assert_eq!(
            sent(server),
            Request::AddFlows {
                bridge: "br0".to_string(),
                flows: vec![
                    "priority=10,in_port=1,actions=output:2".to_string(),
                    "in_port=2,actions=output:1".to_string()
                ],
            }
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn add_flows_refusal_names_the_line_in_the_file() {
        let dir = scratch_dir("app-add-flows-refused-file");
        let file = dir.join("br0.flows");
        fs::write(&file, "# br0\nactions=drop\n\nin_port=7,actions=drop\n").unwrap();
        let refusal = "flow 2: in_port=7: bridge \"br0\" has no port with ofport 7";
        let server = CannedServer::start("app-add-flows-refused", reply_line(&Reply::failure(refusal)));
        let failure =
            execute(&invocation_of_words(&server, &["add-flows", "br0", file.to_str().unwrap()])).unwrap_err();
        assert!(matches!(failure, Failure::Refused(_)), "{failure:?}");
        assert_eq!(
            failure.to_string(),
            format!("{}:4: in_port=7: bridge \"br0\" has no port with ofport 7", file.display())
        );
        assert_eq!(
            server.request_line().unwrap(),
            r#"{"cmd":"add-flows","bridge":"br0","flows":["actions=drop","in_port=7,actions=drop"]}"#
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn other_refusals_are_passed_on_as_they_are() {
        let server =
            CannedServer::start("app-add-flows-no-bridge", reply_line(&Reply::failure("no bridge named \"br9\"")));
        let socket = server.socket().to_str().unwrap().to_string();
        let words = ["vsctl", "--socket", &socket, "add-flows", "br9", "-"];
        let from_stdin = parse_invocation(words, None, "actions=drop\n".as_bytes()).unwrap();
        assert_eq!(execute(&from_stdin).unwrap_err().to_string(), "no bridge named \"br9\"");

        let refusal = "in_port=abc: not a port number";
        let server = CannedServer::start("app-mod-flows-refused", reply_line(&Reply::failure(refusal)));
        let failure = execute(&invocation(&server, "mod-flows br0 in_port=abc,actions=drop")).unwrap_err();
        assert_eq!(failure.to_string(), refusal);
    }

    #[test]
    fn add_flow_refusal_is_the_reason_alone() {
        let server = CannedServer::start(
            "app-add-flow-refused",
            reply_line(&Reply::failure("flow 1: in_port=abc: not a port number")),
        );
        let failure = execute(&invocation(&server, "add-flow br0 in_port=abc,actions=drop")).unwrap_err();
        assert_eq!(failure.to_string(), "in_port=abc: not a port number");
    }

    #[test]
    fn mod_and_del_flows_print_nothing_and_json_shows_the_counts() {
        let server = CannedServer::start("app-mod-flows", flow_mod_reply(0, 0));
        assert_eq!(
            execute(&invocation(&server, "mod-flows --strict br0 priority=5,in_port=1,actions=drop")).unwrap(),
            ""
        );
        assert_eq!(
            server.request_line().unwrap(),
            r#"{"cmd":"mod-flows","bridge":"br0","flow":"priority=5,in_port=1,actions=drop","strict":true}"#
        );

        let server = CannedServer::start("app-del-flows", flow_mod_reply(0, 3));
        assert_eq!(execute(&invocation(&server, "del-flows br0")).unwrap(), "");
        assert_eq!(
            server.request_line().unwrap(),
            r#"{"cmd":"del-flows","bridge":"br0","selector":null,"strict":false}"#
        );

        let server = CannedServer::start("app-del-flows-json", flow_mod_reply(0, 3));
        let output = execute(&invocation(&server, "--json del-flows br0 in_port=1")).unwrap();
        let printed: serde_json::Value = serde_json::from_str(&output).unwrap();
        assert_eq!(printed, json!({"added": 0, "replaced": 0, "modified": 0, "removed": 3}));
        assert_eq!(
            sent(server),
            Request::DelFlows { bridge: "br0".to_string(), selector: Some("in_port=1".to_string()), strict: false }
        );
    }

    #[test]
    fn trace_end_to_end() {
        let reply = TraceReply {
            steps: vec![
                " 0. in_port=1, priority 32768".to_string(),
                "    resubmit(,1)".to_string(),
                " 1. tcp,tp_dst=80, priority 100".to_string(),
                "    output:2".to_string(),
            ],
            datapath_actions: "2".to_string(),
            megaflow: "tcp,in_port=1,tp_dst=80".to_string(),
        };
        let server = CannedServer::start("app-trace", reply_line(&Reply::success(&reply)));
        let output = execute(&invocation_of_words(&server, &["trace", "br0", "in_port=1, tcp, tp_dst=80"])).unwrap();
        let expected = [
            " 0. in_port=1, priority 32768",
            "    resubmit(,1)",
            " 1. tcp,tp_dst=80, priority 100",
            "    output:2",
            "",
            "Megaflow: tcp,in_port=1,tp_dst=80",
            "Datapath actions: 2",
        ];
        assert_eq!(output, format!("{}\n", expected.join("\n")));
        assert_eq!(
            server.request_line().unwrap(),
            r#"{"cmd":"trace","bridge":"br0","flow":"in_port=1, tcp, tp_dst=80"}"#
        );
    }

    #[test]
    fn fdb_add_end_to_end() {
        let server = CannedServer::start("app-fdb-add", reply_line(&Reply::success(&json!(null))));
        assert_eq!(execute(&invocation(&server, "fdb-add br0 vm1 100 02:AA:0:0:0:1")).unwrap(), "");
        assert_eq!(
            server.request_line().unwrap(),
            r#"{"cmd":"fdb-add","bridge":"br0","port":"vm1","vlan":100,"mac":"02:aa:00:00:00:01"}"#
        );
    }

    #[test]
    fn refusal_without_message() {
        let server = CannedServer::start("app-refused-silently", Answer::Raw("{\"ok\":false}\n".into()));
        let failure = execute(&invocation(&server, "del-port p1")).unwrap_err();
        assert_eq!(failure.to_string(), "vswitchd refused the request without saying why");
    }

    #[test]
    fn result_of_another_shape_is_reported() {
        let server = CannedServer::start("app-wrong-shape", reply_line(&Reply::success(&json!({"pmds": 3}))));
        let failure = execute(&invocation(&server, "pmd-stats")).unwrap_err();
        assert!(matches!(failure, Failure::UnexpectedResult { .. }), "{failure:?}");
        assert!(failure.to_string().starts_with("unexpected result from vswitchd at "));
    }

    #[test]
    fn client_failures_keep_their_message() {
        let server = CannedServer::start("app-timeout", Answer::Silence);
        let mut slow = invocation(&server, "mempool");
        slow.timeout = Duration::from_millis(100);
        let failure = execute(&slow).unwrap_err();
        assert!(matches!(failure, Failure::Client(_)), "{failure:?}");
        assert!(failure.to_string().starts_with("no reply from vswitchd at "), "{failure}");
    }
}
