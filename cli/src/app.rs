//! One run of vsctl from start to exit code: read the command line, ask
//! vswitchd, print the answer. Exit codes: 0 done, 1 vswitchd unreachable or
//! refused the request, 2 bad command line (nothing sent).
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
    let invocation = match parse_invocation(env::args_os(), env::var_os(SOCKET_ENV)) {
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
        return Err(Failure::Refused(error));
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
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::proto::{BridgeInfo, PortConfig, PortInfo, PortKind, Reply, Request, ShowReply};
    use crate::test_server::{Answer, CannedServer};

    fn reply_line(reply: &Reply) -> Answer {
        Answer::Raw(format!("{}\n", serde_json::to_string(reply).unwrap()))
    }

    fn invocation(server: &CannedServer, args: &str) -> Invocation {
        let mut words = vec!["vsctl", "--socket"];
        let socket = server.socket().to_str().unwrap().to_string();
        words.push(&socket);
        words.extend(args.split_whitespace());
        parse_invocation(words, None).unwrap()
    }

    fn show_reply() -> ShowReply {
        ShowReply {
            bridges: vec![BridgeInfo {
                name: "br0".to_string(),
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
                }],
                n_flows: 0,
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
bridge br0: 1 port, 0 flows
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
        assert_eq!(server.request_line().unwrap(), r#"{"cmd":"dump-flows","bridge":"br9"}"#);
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
