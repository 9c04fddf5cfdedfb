//! Short-lived commands (vsctl, a vswitchd that should refuse to start, the
//! Open vSwitch tools of the OVS oracle): run to completion within a time
//! limit, output captured. A command that overstays is killed by its pid and
//! reported.
use std::fmt;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How often a running command is checked for exit.
const POLL: Duration = Duration::from_millis(10);

/// What a finished command left: its exit status and its output.
#[derive(Debug)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl CmdOutput {
    /// The exit code; None when a signal ended it.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` ended with {} after {:.2}s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.status,
            self.elapsed.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `command` (stdin from /dev/null) and waits at most `limit` for it;
/// panics when it cannot start or does not end in time (it is killed first).
pub fn run(command: Command, limit: Duration) -> CmdOutput {
    try_run(command, limit).unwrap_or_else(|e| panic!("{e}"))
}

/// Like `run`, but says why instead of panicking (for `Drop`, where a second
/// panic would abort the test binary).
pub fn try_run(mut command: Command, limit: Duration) -> Result<CmdOutput, String> {
    let text = describe(&command);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start `{text}`: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let max_polls = limit.as_millis() / POLL.as_millis() + 1;
    let mut status = None;
    for _ in 0..max_polls {
        match child.try_wait() {
            Ok(Some(exited)) => {
                status = Some(exited);
                break;
            }
            Ok(None) if started.elapsed() < limit => thread::sleep(POLL),
            Ok(None) => break,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot wait for `{text}`: {e}"));
            }
        }
    }
    let status = match status.or_else(|| child.try_wait().ok().flatten()) {
        Some(status) => status,
        None => {
            // Not reaped yet, so the pid is still this child's.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{text}` did not finish within {limit:?}; killed it (pid {})", child.id()));
        }
    };
    let elapsed = started.elapsed();
    Ok(CmdOutput { command: text, status, stdout: join(stdout), stderr: join(stderr), elapsed })
}

/// The command line as one string, for messages.
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a pipe to its end on a thread of its own (so a full pipe never
/// blocks the child while we wait for it).
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join(reader: thread::JoinHandle<String>) -> String {
    reader.join().unwrap_or_else(|_| "<output reader panicked>".to_owned())
}
