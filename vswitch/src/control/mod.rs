//! The control socket: a unix socket on which vsctl (or any client) sends
//! JSON requests. Connections are served on their own threads, but every
//! request is executed by the management thread, in order, through a channel.
#![forbid(unsafe_code)]
pub mod protocol;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam::channel::{self, Receiver, Sender};

use protocol::{Reply, Request};

/// Longest request line accepted (a flows file of 100k rules is ~7 MB);
/// anything longer is answered with an error
/// and the connection closed.
const MAX_REQUEST_BYTES: u64 = 64 << 20;
/// How long a connection waits for the management thread to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// A client that sends nothing for this long is disconnected.
const IDLE_CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

/// A request waiting for the management thread, with where to send the answer.
pub struct PendingRequest {
    pub request: Request,
    pub reply_to: Sender<Reply>,
}

/// The listening socket; the socket file is removed on drop.
pub struct ControlServer {
    path: PathBuf,
}

impl ControlServer {
    /// Binds `path` and starts accepting. Refuses to take over the socket of
    /// a running daemon; removes a stale one.
    pub fn start(path: &Path) -> Result<(ControlServer, Receiver<PendingRequest>), String> {
        let listener = crate::unix_socket::bind(path, "control socket")?;
        let (requests, received) = channel::unbounded();
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || accept_loop(listener, requests))
            .map_err(|e| format!("cannot start control thread: {e}"))?;
        Ok((ControlServer { path: path.to_owned() }, received))
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(listener: UnixListener, requests: Sender<PendingRequest>) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let requests = requests.clone();
                let spawned = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || serve_connection(stream, requests));
                if let Err(e) = spawned {
                    tracing::warn!("control connection dropped: cannot spawn thread: {e}");
                }
            }
            Err(e) => tracing::warn!("control socket accept failed: {e}"),
        }
    }
}

fn serve_connection(stream: UnixStream, requests: Sender<PendingRequest>) {
    let _ = stream.set_read_timeout(Some(IDLE_CLIENT_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match (&mut reader).take(MAX_REQUEST_BYTES).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !line.ends_with('\n') {
            let reply =
                Reply::failure(format!("request longer than {MAX_REQUEST_BYTES} bytes or not newline-terminated"));
            let _ = write_reply(&mut writer, &reply);
            return;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => execute(request, &requests),
            Err(e) => Reply::failure(format!("bad request: {e}")),
        };
        if write_reply(&mut writer, &reply).is_err() {
            return;
        }
    }
}

fn execute(request: Request, requests: &Sender<PendingRequest>) -> Reply {
    let (reply_to, reply) = channel::bounded(1);
    if requests.send(PendingRequest { request, reply_to }).is_err() {
        return Reply::failure("vswitchd is shutting down");
    }
    reply.recv_timeout(REPLY_TIMEOUT).unwrap_or_else(|_| Reply::failure("vswitchd did not answer in time"))
}

fn write_reply(writer: &mut UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut text = serde_json::to_string(reply).unwrap_or_else(|e| format!(r#"{{"ok":false,"error":"{e}"}}"#));
    text.push('\n');
    writer.write_all(text.as_bytes())
}
