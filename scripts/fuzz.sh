#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (the [[bin]] targets of fuzz/Cargo.toml, as `cargo fuzz list`
# reads them) for FUZZ_SECONDS each (default 10; 0 skips them all). scripts/test.sh runs it
# before the long tests. A target that crashes, times out or runs out of memory fails the
# script, which names the input libFuzzer kept (fuzz/artifacts/TARGET/...); replay it with
# `cargo fuzz run TARGET fuzz/artifacts/TARGET/FILE` (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
[ "$FUZZ_SECONDS" -gt 0 ] || { echo "fuzz: skipped (FUZZ_SECONDS=0)" >&2; exit 0; }
command -v cargo-fuzz >/dev/null || { echo "fuzz: cargo-fuzz not found (scripts/setup.sh installs it)" >&2; exit 1; }

# cargo fuzz needs unstable compiler flags (RUSTC_BOOTSTRAP lets the stable toolchain take them)
# and replaces the flags of .cargo/config.toml with its own plus RUSTFLAGS: SSE4.2, as DPDK needs.
# -D warnings: the fuzz crate (and the switch, as fuzzed) must compile without warnings; cargo
# caps the lints of registry crates, so it applies to ours only.
export RUSTC_BOOTSTRAP=1 RUSTFLAGS="-C target-feature=+sse4.2 -D warnings"
# No AddressSanitizer: every fuzzed module forbids unsafe code, so what ASan could catch cannot
# happen there, and without it the build takes about half the time and the runs go further.
# Panics (debug assertions and overflow checks stay on) and hangs are what the runs look for.
SANITIZER=(--sanitizer none)
targets=$(cargo fuzz list)
[ -n "$targets" ] || { echo "fuzz: cargo fuzz list found no target" >&2; exit 1; }
cargo fuzz build "${SANITIZER[@]}"
mkdir -p target/logs
for target in $targets; do
    log="target/logs/$target.log"
    if cargo fuzz run "${SANITIZER[@]}" "$target" -- -max_total_time="$FUZZ_SECONDS" >"$log" 2>&1; then
        echo "fuzz: $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" || echo done)" >&2
    else
        tail -n 30 "$log" >&2
        artifact=$(sed -n 's/.*Test unit written to \(\S*\).*/\1/p' "$log" | tail -n 1)
        echo "fuzz: $target FAILED, input: ${artifact:-none written}, log: fuzz/$log" >&2
        exit 1
    fi
done
