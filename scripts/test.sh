#!/usr/bin/env bash
# Sets the host up (scripts/setup.sh) and runs the whole test suite: unit
# tests of every crate and the end-to-end tests in tests/ that start
# vswitchd and dpdk-testpmd on real DPDK vdevs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Fail fast, before the long tests: formatting, lints (a warning is an error), and a short run
# of every fuzz target (FUZZ_SECONDS each, default 10: scripts/fuzz.sh).
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
./scripts/fuzz.sh
# The container image's runtime: its packages, in a chroot (scripts/check-image.sh).
./scripts/check-image.sh
# End-to-end tests each start DPDK processes pinned to the two cores:
# run them one at a time. --no-fail-fast: a failing test binary does not
# hide the results of the ones after it.
cargo test --release --workspace --no-fail-fast -- --test-threads=1
