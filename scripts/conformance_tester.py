"""Runs os-ken's OpenFlow Switch Test Tool (os_ken/tests/switch/tester.py) on selected test
files against one target switch and writes one result line per test, for scripts/conformance.sh
(which owns the wiring: the network namespace, the veth pairs, the switches).

tester.py runs every test of every JSON file in a directory and prints, per test,
`    <test description, padded> OK|ERROR` and after an ERROR the reason on the next line. It
has failure modes a harness must not count wrong or hang on: an unexpected reply raises
outside its own error handling and its test thread dies silently (no further output, the
process never ends); a switch that does not join (e.g. does not speak the OpenFlow version)
makes it wait forever; and two files with the same first line (their "description") make it
run only one of them. So this driver:

- copies each selected file's pending tests into a scratch directory of its own, at most one
  file per description in one run, and starts `osken-manager tester.py` on it;
- parses its stderr line by line, matching each result to the test it expects next (tester.py
  runs files sorted by description, tests in file order);
- stops it by pid (SIGTERM, SIGKILL after a bounded wait) when it prints no result for
  `--stall-seconds` or exits before the last result; the test it was in is an ERROR
  ("tester aborted: ...", with the last traceback line if any) and the next run starts with
  the tests after it, so one abort costs one test, not the rest of the suite;
- gives up (every remaining test an ERROR, "not run: ...") when the two switches never both
  joined in a run: the other tests would wait the same way.

With `--retries N` a test that failed is run again, up to N more times, after all the others:
Open vSwitch applies a flow table change to its cached datapath flows asynchronously, so on a
loaded host a packet sent right after the barrier reply may still meet the previous test's
flows.

Output: `--results` is a TSV file, one line per test: file (relative to os-ken's tests/switch
directory), index of the test in the file (from 0), OK or ERROR, the test's description, the
reason (of the last attempt; for a test that passed on a retry, that of its first failure;
empty for a pass at the first attempt), and the number of attempts. Everything tester.py
printed goes to `--log`.
"""

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import os_ken

SUITE_ROOT = os.path.join(os.path.dirname(os_ken.__file__), "tests", "switch")
TESTER = os.path.join(SUITE_ROOT, "tester.py")
# How long tester.py may take to exit after SIGTERM.
STOP_SECONDS = 5
TEST_END = "---  Test end  ---"


class Test:
    """One test of one file, and its result once known."""

    def __init__(self, path, index, body):
        self.path = path
        self.index = index
        self.body = body
        self.description = body.get("description", "")
        self.result = None
        self.reason = ""
        # How many runs it was in; its reason in the first one that failed.
        self.attempts = 0
        self.first_reason = ""

    def record(self, result, reason=""):
        self.result = result
        self.reason = reason
        self.attempts += 1
        if result != "OK" and not self.first_reason:
            self.first_reason = reason or "ERROR"


class TestFile:
    """A JSON test file: its description (first string) and the selected tests of it (all when
    `indices` is None)."""

    def __init__(self, root, path, indices):
        self.path = os.path.relpath(path, root)
        with open(path) as handle:
            content = json.load(handle)
        strings = [item for item in content if isinstance(item, str)]
        self.description = strings[0] if strings else ""
        bodies = [item for item in content if isinstance(item, dict)]
        for index in indices or ():
            if index >= len(bodies):
                sys.exit(f"conformance: {self.path} has no test {index} (it has {len(bodies)})")
        self.tests = [Test(self.path, i, body) for i, body in enumerate(bodies) if indices is None or i in indices]


def select_files(selectors):
    """The JSON files selectors name, sorted: a suite or directory (of13, of13/action), a file
    (of13/match/00_IN_PORT.json), or some tests of a file by index (of13/match/00_IN_PORT.json:1,4)."""
    chosen = {}  # path -> set of indices, or None for every test

    def add(path, indices):
        if indices is None or chosen.get(path, set()) is None:
            chosen[path] = None
        else:
            chosen[path] = chosen.get(path, set()) | indices

    for selector in selectors:
        name, _, wanted = selector.partition(":")
        full = os.path.join(SUITE_ROOT, name)
        if wanted:
            if not os.path.isfile(full):
                sys.exit(f"conformance: no test file {name} under {SUITE_ROOT}")
            add(full, {int(index) for index in wanted.split(",")})
        elif os.path.isfile(full):
            add(full, None)
        elif os.path.isdir(full):
            for directory, _, names in os.walk(full):
                for file_name in names:
                    if file_name.endswith(".json"):
                        add(os.path.join(directory, file_name), None)
        else:
            sys.exit(f"conformance: no test file or directory {selector} under {SUITE_ROOT}")
    return [TestFile(SUITE_ROOT, path, chosen[path]) for path in sorted(chosen)]


def plan_run(files, run_dir):
    """Writes the next run's files (pending tests, one file per description) into run_dir; returns
    the tests in the order tester.py runs them."""
    os.makedirs(run_dir)
    chosen = {}
    for test_file in files:
        pending = [test for test in test_file.tests if test.result is None]
        if pending and test_file.description not in chosen:
            chosen[test_file.description] = (test_file, pending)
    order = []
    for number, description in enumerate(sorted(chosen)):
        test_file, pending = chosen[description]
        with open(os.path.join(run_dir, f"{number:04}.json"), "w") as handle:
            json.dump([description] + [test.body for test in pending], handle)
        order.extend(pending)
    return order


def read_lines(stream, lines):
    """Feeds the lines of stream into the queue lines, then None at its end."""
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    lines.put(None)


def stop(process):
    """SIGTERM, a bounded wait, then SIGKILL: tester.py is stopped by its pid."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)


def run_once(args, order, run_dir, log):
    """Runs tester.py on run_dir and records the results into order's tests."""
    command = [
        os.path.join(sys.prefix, "bin", "osken-manager"),
        "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", str(args.port),
        "--test-switch-target", args.target_dpid, "--test-switch-tester", args.tester_dpid,
        "--test-switch-target-version", args.version, "--test-switch-tester-version", args.version,
        "--test-switch-dir", run_dir, TESTER,
    ]
    log.write(f"### {' '.join(command)}\n")
    log.flush()
    # tester.py prints its progress dots (meter tests) on stdout, its log on stderr.
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.PIPE)
    lines = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stderr, lines), daemon=True).start()
    position, awaiting_reason, last_error, ended = 0, None, "", False
    why, joined_target, joined_tester = "", False, False
    # A switch that cannot join makes tester.py print a line per connection attempt, so progress
    # is a result, not just output.
    deadline = time.monotonic() + args.stall_seconds
    try:
        while position < len(order):
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                why = f"no result for {args.stall_seconds} s"
                break
            if line is None:
                why = f"tester.py exited with {process.wait()}"
                break
            log.write(line + "\n")
            if awaiting_reason is not None and line.startswith("        "):
                awaiting_reason.record("ERROR", line.strip())
                awaiting_reason = None
                continue
            awaiting_reason = None
            joined_target = joined_target or line.endswith(": Join target SW.")
            joined_tester = joined_tester or line.endswith(": Join tester SW.")
            if line.startswith("Traceback") or re.match(r"^\w*(Error|Exception)\b", line):
                last_error = line.strip()
            test = order[position]
            prefix = "    " + test.description
            if line.startswith(prefix) and line[len(prefix):].strip() in ("OK", "ERROR"):
                result = line[len(prefix):].strip()
                position += 1
                deadline = time.monotonic() + args.stall_seconds
                last_error = ""
                if result == "OK":
                    test.record("OK")
                else:
                    # Its reason is on the next line.
                    awaiting_reason = test
        else:
            # Every expected result is in; its reason line (after an ERROR) and the end follow.
            while not ended:
                try:
                    line = lines.get(timeout=args.stall_seconds)
                except queue.Empty:
                    break
                if line is None:
                    break
                log.write(line + "\n")
                if awaiting_reason is not None and line.startswith("        "):
                    awaiting_reason.record("ERROR", line.strip())
                awaiting_reason = None
                ended = line.strip() == TEST_END
    finally:
        stop(process)
        log.flush()
    if awaiting_reason is not None:
        awaiting_reason.record("ERROR", "(tester.py printed no reason)")
    joined = joined_target and joined_tester
    if position < len(order):
        detail = f": {last_error}" if last_error else ""
        if joined:
            # The test it was in broke tester.py; the next run starts after it.
            order[position].record("ERROR", f"tester aborted ({why}){detail}")
        else:
            # The switches never both joined (e.g. one does not speak the version): every test
            # left would wait the same way.
            for test in order[position:]:
                test.record("ERROR", f"not run: the switches did not both join the controller ({why}){detail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=6653, help="TCP port of 127.0.0.1 the controller listens on")
    parser.add_argument("--target-dpid", required=True, help="datapath id of the switch under test (hex)")
    parser.add_argument("--tester-dpid", required=True, help="datapath id of the tester switch (hex)")
    parser.add_argument("--version", required=True, help="openflow10, openflow13 or openflow14")
    parser.add_argument("--scratch", required=True, help="directory for the runs' test files")
    parser.add_argument("--results", required=True, help="TSV file of per-test results")
    parser.add_argument("--log", required=True, help="file for everything tester.py prints")
    parser.add_argument("--stall-seconds", type=int, default=120, help="time without a result after which a run is aborted")
    parser.add_argument("--retries", type=int, default=0, help="runs again of each test that failed")
    parser.add_argument("selectors", nargs="+", help="of13, of13/action, of13/match/00_IN_PORT.json, ...")
    args = parser.parse_args()
    # Stopped by the script: the finally of run_once stops tester.py too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    files = select_files(args.selectors)
    tests = [test for test_file in files for test in test_file.tests]
    if not tests:
        sys.exit("conformance: the selection holds no tests")
    runs = 0
    # Line-buffered: its lines and tester.py's progress dots (written to the same file) stay in order.
    with open(args.log, "a", buffering=1) as log:
        for attempt in range(1 + args.retries):
            if attempt > 0:
                # A test that failed runs again, in runs of its own after every other test.
                retry = [test for test in tests if test.result != "OK" and not test.reason.startswith("not run")]
                if not retry:
                    break
                log.write(f"### attempt {attempt + 1} of the {len(retry)} tests that failed\n")
                for test in retry:
                    test.result = None
            # Each run records at least one result, or every test left.
            for _ in range(len(tests)):
                run_dir = os.path.join(args.scratch, f"run{runs}")
                runs += 1
                order = plan_run(files, run_dir)
                if not order:
                    break
                run_once(args, order, run_dir, log)
    with open(args.results, "w") as out:
        for test in tests:
            reason = test.first_reason if test.result == "OK" else test.reason
            fields = [test.path, str(test.index), test.result or "ERROR", test.description, reason, str(test.attempts)]
            out.write("\t".join(field.replace("\t", " ").replace("\n", " ") for field in fields) + "\n")


if __name__ == "__main__":
    main()
