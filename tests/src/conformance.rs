//! os-ken's OpenFlow Switch Test Tool (`os_ken/tests/switch/tester.py`) against this build's
//! vswitchd, through `scripts/conformance.sh`: the script is the one description of the wiring
//! (a network namespace of its own, three veth pairs, an Open vSwitch tester bridge, the switch
//! on `net_af_packet` ports, the controller) and writes one result per test. [`run_on_ours`]
//! runs it on some tests, bounded, with its output in the test's scratch directory, and reads
//! the results back.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::bins;
use crate::openflow_apps;
use crate::process::{log_tail, Guarded, Signal};
use crate::scratch::TestDir;

/// What the script needs besides the tester's run: the namespace, Open vSwitch, vswitchd.
const SETUP_LIMIT: Duration = Duration::from_secs(60);
/// How long the script may take to stop everything after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// Silence after which the tester counts the test it is in as aborted (the script's
/// STALL_SECONDS): a passing test prints its result within a second.
const STALL_SECONDS: &str = "20";
/// Lines of each log printed when the run fails.
const LOG_TAIL_LINES: usize = 60;

/// One test's result: a line of the script's `ours.tsv`.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The JSON file, relative to os-ken's tests/switch directory (`of13/match/00_IN_PORT.json`).
    pub file: String,
    /// The test's index in the file's "tests" list.
    pub index: usize,
    pub passed: bool,
    pub description: String,
    /// tester.py's reason for an ERROR.
    pub reason: String,
}

/// The results of one run of the script on our switch.
pub struct Run {
    pub results: Vec<TestResult>,
    /// Where the script left everything tester.py and vswitchd printed.
    pub out: PathBuf,
}

impl Run {
    /// The tails of tester.py's and vswitchd's output, for failure messages.
    pub fn logs(&self) -> String {
        ["ours.log", "vswitchd.log"]
            .iter()
            .map(|file| {
                let path = self.out.join(file);
                format!("---- {} ----\n{}\n", path.display(), log_tail(&path, LOG_TAIL_LINES))
            })
            .collect()
    }
}

/// Runs `scripts/conformance.sh --target ours` on `selectors` (`of13/match/00_IN_PORT.json:1,4`
/// and the like) with this build's vswitchd and the controllers' venv; tester.py may take at
/// most `limit`. Panics, with the script's output, when the script fails or overstays.
pub fn run_on_ours(dir: &TestDir, selectors: &[&str], limit: Duration) -> Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/conformance.sh");
    let out = dir.join("results");
    let mut command = Command::new(&script);
    command
        .arg("--target")
        .arg("ours")
        .arg("--out")
        .arg(&out)
        .arg("--vswitchd")
        .arg(bins::vswitchd())
        .args(selectors)
        .env(openflow_apps::VENV_ENV, openflow_apps::venv())
        .env("STALL_SECONDS", STALL_SECONDS)
        .env("RUN_LIMIT", limit.as_secs().max(1).to_string())
        .env("RETRIES", "0");
    let output = dir.join("conformance.out");
    let mut process = Guarded::spawn("conformance.sh", command, Signal::Term, &output, &output);
    let Some(status) = process.wait_exit(SETUP_LIMIT + limit) else {
        let stopped = process.stop(STOP_LIMIT);
        panic!(
            "scripts/conformance.sh did not finish within {:?} ({stopped:?}):\n{}",
            SETUP_LIMIT + limit,
            log_tail(&output, LOG_TAIL_LINES)
        );
    };
    assert!(status.success(), "scripts/conformance.sh failed with {status}:\n{}", log_tail(&output, LOG_TAIL_LINES));
    let tsv = out.join("ours.tsv");
    let text = std::fs::read_to_string(&tsv).unwrap_or_else(|e| panic!("cannot read {}: {e}", tsv.display()));
    let results = text.lines().map(|line| parse_line(line, &tsv)).collect();
    Run { results, out }
}

/// A line of the results: file, index, OK or ERROR, description, reason, attempts.
fn parse_line(line: &str, tsv: &Path) -> TestResult {
    let fields: Vec<&str> = line.split('\t').collect();
    let [file, index, result, description, reason, _attempts] = fields[..] else {
        panic!("{}: not 6 tab-separated fields: {line:?}", tsv.display());
    };
    TestResult {
        file: file.to_owned(),
        index: index.parse().unwrap_or_else(|e| panic!("{}: bad index in {line:?}: {e}", tsv.display())),
        passed: result == "OK",
        description: description.to_owned(),
        reason: reason.to_owned(),
    }
}

impl std::fmt::Display for TestResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let result = if self.passed { "OK" } else { "ERROR" };
        write!(f, "{}:{} {} {result}", self.file, self.index, self.description)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}
