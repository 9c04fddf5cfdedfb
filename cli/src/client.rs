//! One request/reply exchange with vswitchd over its unix control socket: connect,
//! write the `Request` as one JSON line, read one line back as the `Reply`, all
//! within a single deadline, and say clearly what went wrong when it fails.
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::proto::{Reply, Request, SOCKET_ENV};

/// The longest a caller may ask vsctl to wait; longer requests are cut to it.
pub const LONGEST_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// A reply longer than this is not read to the end (no command needs more).
const MAX_REPLY_BYTES: usize = 64 << 20;

/// Why no usable reply came back.
#[derive(Debug)]
pub enum ClientError {
    /// Nothing listens at the socket path (missing file or a stale one).
    NotRunning { socket: PathBuf, source: io::Error },
    /// The socket exists but connecting failed otherwise (e.g. permissions).
    Connect { socket: PathBuf, source: io::Error },
    /// The deadline passed before the whole reply arrived.
    TimedOut { socket: PathBuf, timeout: Duration },
    /// Sending the request or reading the reply failed.
    Io { socket: PathBuf, source: io::Error },
    /// vswitchd closed the connection without answering.
    NoReply { socket: PathBuf },
    /// The reply was too long or not a `Reply` JSON object.
    MalformedReply { socket: PathBuf, detail: String },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NotRunning { socket, source } => write!(
                f,
                "cannot connect to {}: {source}; is vswitchd running? \
                 (choose the socket with --socket or ${SOCKET_ENV})",
                socket.display()
            ),
            ClientError::Connect { socket, source } => {
                write!(f, "cannot connect to {}: {source}", socket.display())
            }
            ClientError::TimedOut { socket, timeout } => write!(
                f,
                "no reply from vswitchd at {} within {}s (see --timeout)",
                socket.display(),
                timeout.as_secs_f64()
            ),
            ClientError::Io { socket, source } => {
                write!(f, "talking to vswitchd at {}: {source}", socket.display())
            }
            ClientError::NoReply { socket } => {
                write!(f, "vswitchd at {} closed the connection without replying", socket.display())
            }
            ClientError::MalformedReply { socket, detail } => {
                write!(f, "malformed reply from vswitchd at {}: {detail}", socket.display())
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// Sends `request` to the vswitchd listening at `socket` and returns its reply,
/// giving up when the whole exchange takes longer than `timeout` (at most
/// `LONGEST_TIMEOUT`).
pub fn exchange(socket: &Path, timeout: Duration, request: &Request) -> Result<Reply, ClientError> {
    let timeout = timeout.min(LONGEST_TIMEOUT);
    let deadline = Instant::now() + timeout;
    let timed_out = || ClientError::TimedOut { socket: socket.to_path_buf(), timeout };
    let io_error = |source| ClientError::Io { socket: socket.to_path_buf(), source };

    let mut stream = match connect(socket, deadline) {
        Some(connected) => connected?,
        None => return Err(timed_out()),
    };

    let mut line =
        serde_json::to_string(request).map_err(|error| io_error(io::Error::new(io::ErrorKind::InvalidInput, error)))?;
    line.push('\n');
    let remaining = time_left(deadline).ok_or_else(timed_out)?;
    stream.set_write_timeout(Some(remaining)).map_err(io_error)?;
    stream.write_all(line.as_bytes()).map_err(|source| match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
        _ => io_error(source),
    })?;

    let reply_line = read_line(&mut stream, deadline).map_err(|failure| match failure {
        ReadFailure::TimedOut => timed_out(),
        ReadFailure::Closed => ClientError::NoReply { socket: socket.to_path_buf() },
        ReadFailure::TooLong => ClientError::MalformedReply {
            socket: socket.to_path_buf(),
            detail: format!("longer than {MAX_REPLY_BYTES} bytes"),
        },
        ReadFailure::Io(source) => io_error(source),
    })?;
    serde_json::from_slice(&reply_line)
        .map_err(|error| ClientError::MalformedReply { socket: socket.to_path_buf(), detail: error.to_string() })
}

/// Time until `deadline`, or None once it has passed.
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())
}

/// Connects, but waits no longer than `deadline` (a daemon that stopped
/// accepting can leave `connect` blocked on a full backlog). None = timed out.
fn connect(socket: &Path, deadline: Instant) -> Option<Result<UnixStream, ClientError>> {
    let (sender, receiver) = mpsc::channel();
    let path = socket.to_path_buf();
    let spawned = thread::Builder::new().name("vsctl-connect".to_string()).spawn(move || {
        // The receiver is gone when we gave up waiting; nothing left to tell.
        let _ = sender.send(UnixStream::connect(path));
    });
    if let Err(source) = spawned {
        return Some(Err(ClientError::Io { socket: socket.to_path_buf(), source }));
    }
    let connected = receiver.recv_timeout(time_left(deadline)?).ok()?;
    Some(connected.map_err(|source| {
        let socket = socket.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ClientError::NotRunning { socket, source },
            _ => ClientError::Connect { socket, source },
        }
    }))
}

/// Why `read_line` returned no line.
enum ReadFailure {
    TimedOut,
    Closed,
    TooLong,
    Io(io::Error),
}

/// Reads up to the first newline (excluded). A final line without newline is
/// accepted when the peer closes after it; an empty one is `Closed`.
fn read_line(stream: &mut UnixStream, deadline: Instant) -> Result<Vec<u8>, ReadFailure> {
    let mut line = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let remaining = time_left(deadline).ok_or(ReadFailure::TimedOut)?;
        stream.set_read_timeout(Some(remaining)).map_err(ReadFailure::Io)?;
        match stream.read(&mut chunk) {
            Ok(0) if line.is_empty() => return Err(ReadFailure::Closed),
            Ok(0) => return Ok(line),
            Ok(read) => {
                let received = &chunk[..read];
                if let Some(newline) = received.iter().position(|&byte| byte == b'\n') {
                    line.extend_from_slice(&received[..newline]);
                    return Ok(line);
                }
                line.extend_from_slice(received);
                if line.len() > MAX_REPLY_BYTES {
                    return Err(ReadFailure::TooLong);
                }
            }
            Err(error) => match error.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Err(ReadFailure::TimedOut),
                _ => return Err(ReadFailure::Io(error)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::net::UnixListener;

    use super::*;
    use crate::proto::{PortConfig, PortKind};
    use crate::test_server::{scratch_dir, Answer, CannedServer};

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn add_port_request() -> Request {
        Request::AddPort {
            bridge: "br0".to_string(),
            port: PortConfig {
                name: "vm1".to_string(),
                ofport: Some(5),
                kind: PortKind::VhostUser { path: PathBuf::from("/run/vswitch/vm1.sock") },
                rx_queues: 2,
                rxq_size: 1024,
                txq_size: 1024,
                mtu: Some(9000),
                tag: None,
                trunks: Vec::new(),
            },
        }
    }

    #[test]
    fn request_goes_out_as_one_json_line_and_the_reply_comes_back() {
        let server =
            CannedServer::start("round-trip", Answer::Raw("{\"ok\":true,\"result\":{\"ofport\":5}}\n".to_string()));
        let request = add_port_request();
        let reply = exchange(server.socket(), TIMEOUT, &request).unwrap();
        assert_eq!(reply, Reply { ok: true, error: None, result: serde_json::json!({"ofport": 5}) });
        let line = server.request_line().unwrap();
        assert_eq!(line, serde_json::to_string(&request).unwrap());
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), request);
    }

    #[test]
    fn commands_use_the_protocol_names() {
        let cases = [
            (Request::Show, r#"{"cmd":"show"}"#),
            (Request::PortStats { port: Some("p1".to_string()) }, r#"{"cmd":"port-stats","port":"p1"}"#),
            (Request::PmdStatsClear, r#"{"cmd":"pmd-stats-clear"}"#),
            (Request::RxqShow, r#"{"cmd":"rxq-show"}"#),
            (Request::DelPort { port: "p1".to_string() }, r#"{"cmd":"del-port","port":"p1"}"#),
            (
                Request::DumpFlows { bridge: "br0".to_string(), selector: Some("in_port=1".to_string()) },
                r#"{"cmd":"dump-flows","bridge":"br0","selector":"in_port=1"}"#,
            ),
            (
                Request::AddFlows { bridge: "br0".to_string(), flows: vec!["actions=drop".to_string()] },
                r#"{"cmd":"add-flows","bridge":"br0","flows":["actions=drop"]}"#,
            ),
            (
                Request::ModFlows { bridge: "br0".to_string(), flow: "actions=drop".to_string(), strict: false },
                r#"{"cmd":"mod-flows","bridge":"br0","flow":"actions=drop","strict":false}"#,
            ),
            (
                Request::DelFlows { bridge: "br0".to_string(), selector: None, strict: true },
                r#"{"cmd":"del-flows","bridge":"br0","selector":null,"strict":true}"#,
            ),
            (
                Request::Trace { bridge: "br0".to_string(), flow: "in_port=1".to_string(), packet: None },
                r#"{"cmd":"trace","bridge":"br0","flow":"in_port=1"}"#,
            ),
            (
                Request::FdbAdd {
                    bridge: "br0".to_string(),
                    port: "p1".to_string(),
                    vlan: 10,
                    mac: "02:00:00:00:00:01".to_string(),
                },
                r#"{"cmd":"fdb-add","bridge":"br0","port":"p1","vlan":10,"mac":"02:00:00:00:00:01"}"#,
            ),
        ];
        for (index, (request, expected)) in cases.into_iter().enumerate() {
            let server = CannedServer::start(&format!("names-{index}"), Answer::Raw("{\"ok\":true}\n".to_string()));
            exchange(server.socket(), TIMEOUT, &request).unwrap();
            assert_eq!(server.request_line().unwrap(), expected);
        }
    }

    #[test]
    fn last_line_without_newline_is_accepted_at_close() {
        let server =
            CannedServer::start("no-newline", Answer::Raw("{\"ok\":false,\"error\":\"no such port: p9\"}".to_string()));
        let reply = exchange(server.socket(), TIMEOUT, &Request::Show).unwrap();
        assert_eq!(reply, Reply::failure("no such port: p9"));
    }

    #[test]
    fn missing_socket_means_not_running() {
        let dir = scratch_dir("missing-socket");
        let socket = dir.join("vswitchd.sock");
        let error = exchange(&socket, TIMEOUT, &Request::Show).unwrap_err();
        assert!(matches!(error, ClientError::NotRunning { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.starts_with(&format!("cannot connect to {}: ", socket.display())), "{text}");
        assert!(text.contains("is vswitchd running?"), "{text}");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn stale_socket_file_means_not_running() {
        let dir = scratch_dir("stale-socket");
        let socket = dir.join("vswitchd.sock");
        drop(UnixListener::bind(&socket).unwrap());
        let error = exchange(&socket, TIMEOUT, &Request::Show).unwrap_err();
        assert!(matches!(error, ClientError::NotRunning { .. }), "{error:?}");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn other_connect_failures_are_reported_as_such() {
        let dir = scratch_dir("not-a-directory");
        let file = dir.join("plain-file");
        fs::write(&file, "").unwrap();
        let socket = file.join("vswitchd.sock");
        let error = exchange(&socket, TIMEOUT, &Request::Show).unwrap_err();
        assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
        assert!(error.to_string().starts_with(&format!("cannot connect to {}: ", socket.display())));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn silent_daemon_times_out() {
        let server = CannedServer::start("silent", Answer::Silence);
        let started = Instant::now();
        let error = exchange(server.socket(), Duration::from_millis(200), &Request::Show).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        assert!(matches!(error, ClientError::TimedOut { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("no reply from vswitchd at {} within 0.2s (see --timeout)", server.socket().display())
        );
        assert_eq!(server.request_line().unwrap(), r#"{"cmd":"show"}"#);
    }

    #[test]
    fn hang_up_without_reply() {
        let server = CannedServer::start("hang-up", Answer::Raw(String::new()));
        let error = exchange(server.socket(), TIMEOUT, &Request::Show).unwrap_err();
        assert!(matches!(error, ClientError::NoReply { .. }), "{error:?}");
        assert!(error.to_string().ends_with("closed the connection without replying"));
    }

    #[test]
    fn garbage_reply_is_malformed() {
        for (index, garbage) in ["not json\n", "{\"result\":1}\n", "[1,2]\n"].into_iter().enumerate() {
            let server = CannedServer::start(&format!("garbage-{index}"), Answer::Raw(garbage.to_string()));
            let error = exchange(server.socket(), TIMEOUT, &Request::Show).unwrap_err();
            assert!(matches!(error, ClientError::MalformedReply { .. }), "{garbage}: {error:?}");
            assert!(error.to_string().starts_with("malformed reply from vswitchd at "));
        }
    }
}
