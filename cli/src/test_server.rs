//! Test-only stand-in for vswitchd: a unix socket in a fresh temporary
//! directory, served by one thread that takes one connection, records the
//! request line and answers as told. Every wait in it is bounded.
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest the server waits for the client at any step.
const SERVER_WAIT: Duration = Duration::from_secs(5);

/// How the stand-in answers the one request it reads.
pub enum Answer {
    /// Writes these bytes back (include the newline to be well-formed).
    Raw(String),
    /// Never answers; waits until the client hangs up.
    Silence,
}

/// A running stand-in; `request_line` stops it and tells what it received.
pub struct CannedServer {
    dir: PathBuf,
    socket: PathBuf,
    thread: Option<JoinHandle<Option<String>>>,
}

/// A fresh, empty directory for `test_name` (unique per test and process).
pub fn scratch_dir(test_name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vsctl-{}-{test_name}", process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create test directory");
    dir
}

impl CannedServer {
    /// Listens in a directory of its own and answers the first connection with `answer`.
    pub fn start(test_name: &str, answer: Answer) -> CannedServer {
        let dir = scratch_dir(test_name);
        let socket = dir.join("vswitchd.sock");
        let listener = UnixListener::bind(&socket).expect("bind test socket");
        let thread = thread::spawn(move || serve_one(&listener, answer));
        CannedServer { dir, socket, thread: Some(thread) }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Waits (bounded) for the server thread and returns the request line it
    /// read, without the newline; None when no request arrived.
    pub fn request_line(mut self) -> Option<String> {
        self.thread.take().and_then(|thread| thread.join().ok()).flatten()
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn serve_one(listener: &UnixListener, answer: Answer) -> Option<String> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + SERVER_WAIT;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(error) if error.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return None,
        }
    };
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(SERVER_WAIT)).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut stream = reader.into_inner();
    match answer {
        Answer::Raw(reply) => stream.write_all(reply.as_bytes()).ok()?,
        Answer::Silence => {
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
    }
    Some(line.trim_end_matches('\n').to_string())
}
