//! Long-running processes a test owns (vswitchd, testpmd): started with
//! their output in files, stopped by their pid with their own stop signal,
//! a bounded wait and a SIGKILL fallback, also from `Drop` when a test
//! panics. Signals go through `kill(1)` so the suite needs no `unsafe`; the
//! pid is always that of our own unreaped child, so it cannot be reused.
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::command;

/// How often a stopping process is checked for exit.
const POLL: Duration = Duration::from_millis(10);
/// How long `Drop` waits after the stop signal before SIGKILL.
const DROP_GRACE: Duration = Duration::from_secs(5);
/// How long a SIGKILLed process may take to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// A signal the harness sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    /// The name `kill -s` takes (TERM, INT).
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "INT",
            Signal::Term => "TERM",
        }
    }
}

/// How a stop went.
#[derive(Debug)]
pub enum Stopped {
    /// It exited on its own after the stop signal, within the grace time.
    Exited { status: ExitStatus, after: Duration },
    /// It overstayed the grace time and was killed with SIGKILL.
    Killed { grace: Duration },
}

/// A child process that is stopped (by pid) when this is dropped.
pub struct Guarded {
    name: String,
    child: Child,
    stop_signal: Signal,
    /// Set once the child is reaped; its pid must not be signalled after.
    exit: Option<ExitStatus>,
}

impl Guarded {
    /// Starts `command` with stdin from /dev/null, stdout and stderr into the
    /// given files (the same path for both is fine).
    pub fn spawn(name: &str, mut command: Command, stop_signal: Signal, stdout: &Path, stderr: &Path) -> Guarded {
        let out = File::create(stdout).unwrap_or_else(|e| panic!("cannot create {}: {e}", stdout.display()));
        let err = if stderr == stdout {
            out.try_clone().unwrap_or_else(|e| panic!("cannot duplicate {}: {e}", stdout.display()))
        } else {
            File::create(stderr).unwrap_or_else(|e| panic!("cannot create {}: {e}", stderr.display()))
        };
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child =
            command.spawn().unwrap_or_else(|e| panic!("cannot start {name} (`{}`): {e}", command::describe(&command)));
        Guarded { name: name.to_owned(), child, stop_signal, exit: None }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if it has exited (never blocks).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            match self.child.try_wait() {
                Ok(status) => self.exit = status,
                // Also called from Drop: report, and let the caller's bounded
                // wait run out instead of panicking.
                Err(e) => eprintln!("warning: cannot check {} (pid {}): {e}", self.name, self.pid()),
            }
        }
        self.exit
    }

    pub fn is_running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Waits at most `limit` for it to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        let max_polls = limit.as_millis() / POLL.as_millis() + 1;
        for _ in 0..max_polls {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if started.elapsed() >= limit {
                break;
            }
            thread::sleep(POLL);
        }
        self.exit_status()
    }

    /// Sends `signal` to its pid, if it has not exited yet.
    pub fn signal(&mut self, signal: Signal) -> Result<(), String> {
        if !self.is_running() {
            return Ok(());
        }
        let sent = Command::new("kill")
            .args(["-s", signal.name(), "--", &self.pid().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match sent {
            Ok(status) if status.success() => Ok(()),
            // It may have exited between the check and the kill.
            _ if !self.is_running() => Ok(()),
            other => Err(format!("kill -s {} {} ({}) failed: {other:?}", signal.name(), self.pid(), self.name)),
        }
    }

    /// Sends the stop signal and waits at most `grace`; kills it with
    /// SIGKILL when it overstays.
    pub fn stop(&mut self, grace: Duration) -> Stopped {
        self.stop_with(self.stop_signal, grace)
    }

    /// Like `stop`, with another signal than the process's usual one.
    pub fn stop_with(&mut self, signal: Signal, grace: Duration) -> Stopped {
        if let Some(status) = self.exit_status() {
            return Stopped::Exited { status, after: Duration::ZERO };
        }
        let started = Instant::now();
        match self.signal(signal) {
            Ok(()) => {
                if let Some(status) = self.wait_exit(grace) {
                    return Stopped::Exited { status, after: started.elapsed() };
                }
            }
            Err(e) => eprintln!("warning: {e}; killing it"),
        }
        self.kill();
        Stopped::Killed { grace }
    }

    /// SIGKILL and a bounded wait to reap it.
    pub fn kill(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            if self.wait_exit(KILL_WAIT).is_none() {
                eprintln!("warning: {} (pid {}) survived SIGKILL for {KILL_WAIT:?}", self.name, self.pid());
            }
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if self.is_running() {
            if let Stopped::Killed { grace } = self.stop(DROP_GRACE) {
                eprintln!(
                    "{} (pid {}) ignored SIG{} for {grace:?} and was killed",
                    self.name,
                    self.pid(),
                    self.stop_signal.name()
                );
            }
        }
    }
}

/// The last `max_lines` lines of a log file, for failure messages.
pub fn log_tail(path: &Path, max_lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(max_lines);
            let mut tail = String::new();
            if skip > 0 {
                tail.push_str(&format!("[... {skip} earlier lines in {}]\n", path.display()));
            }
            tail.push_str(&lines[skip..].join("\n"));
            tail
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}
