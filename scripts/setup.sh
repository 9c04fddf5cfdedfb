#!/usr/bin/env bash
# Prepares a Debian 12 host (as root) to build, run and test the switch:
# apt packages, hugepages, the OpenFlow controllers' Python venv, then a
# release build. Idempotent, non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."

# openvswitch-switch: the OVS oracle of the end-to-end tests (ovsdb-server,
# ovs-vswitchd with its dummy datapath, ovs-vsctl; it brings openvswitch-common:
# ovs-ofctl, ovs-appctl, ovsdb-tool, and ovs-pki, with which the OpenFlow TLS
# test makes its CAs and certificates; openssl: what ovs-pki runs).
# openvswitch-switch-dpdk: the benchmarks' OVS-DPDK (it depends on
# openvswitch-switch too). python3-venv, python3-dev, gcc: the controllers' venv
# below (Faucet's pytricia is built from source). mmdebstrap: scripts/check-image.sh
# builds the container image's runtime root filesystem with it. g++: libFuzzer, which
# cargo fuzz builds. ethtool: scripts/conformance.sh turns the transmit checksum offload of its
# veth pairs off with it. tshark: the overlay tests' captures inside their namespaces
# (tests/src/overlay.rs, Capture).
PACKAGES=(dpdk dpdk-dev libdpdk-dev pkg-config clang libclang-dev libpcap-dev
          iproute2 iputils-ping python3 python3-venv python3-dev gcc g++ openssl
          openvswitch-switch openvswitch-switch-dpdk mmdebstrap ethtool tshark)
HUGEPAGES="${HUGEPAGES:-1024}"

log() { echo "setup: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root (DPDK needs hugepages and devices)"; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if ! mountpoint -q /dev/hugepages; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages
fi
have=$(cat /proc/sys/vm/nr_hugepages)
if [ "$have" -lt "$HUGEPAGES" ]; then
    echo "$HUGEPAGES" > /proc/sys/vm/nr_hugepages
    have=$(cat /proc/sys/vm/nr_hugepages)
    [ "$have" -ge "$HUGEPAGES" ] || log "warning: only $have of $HUGEPAGES hugepages could be reserved"
fi

# The controllers of the OpenFlow application tests (tests/e2e/openflow_apps.rs): os-ken and
# Faucet from PyPI, pinned in scripts/openflow-apps-requirements.txt, in a venv of their own
# (VSWITCH_OPENFLOW_APPS, default /opt/vswitch-openflow-apps: outside the clone, so it
# survives cargo clean and serves every worktree). os-ken stopped shipping its sample
# applications with 2.0.0, so simple_switch_13.py is taken from the os-ken 1.4.1 wheel (hash
# checked) into <venv>/apps/; it runs unchanged on os-ken 3.1.0. A stamp with the
# requirements and the app's hash makes a re-run a no-op until either changes.
APPS_VENV="${VSWITCH_OPENFLOW_APPS:-/opt/vswitch-openflow-apps}"
APPS_REQUIREMENTS=scripts/openflow-apps-requirements.txt
SAMPLE_APPS_WHEEL="os-ken==1.4.1 --hash=sha256:31011eb23d38be356e0175274ab492dbe26fa25f41a31f8e738cf61df63b40a6"
SIMPLE_SWITCH_13_SHA256=8a52d7f10181b6f8f752a9a8ddac085230e3c4d701ac445611b684a16695acfe
apps_stamp() { cat "$APPS_REQUIREMENTS"; echo "simple_switch_13 $SIMPLE_SWITCH_13_SHA256"; }
if ! apps_stamp | cmp -s - "$APPS_VENV/.installed"; then
    log "installing os-ken and Faucet into $APPS_VENV"
    if [ -e "$APPS_VENV" ] && [ ! -e "$APPS_VENV/pyvenv.cfg" ]; then
        log "$APPS_VENV exists and is not a venv: not replacing it (set VSWITCH_OPENFLOW_APPS)"
        exit 1
    fi
    rm -rf "$APPS_VENV"
    /usr/bin/python3 -m venv "$APPS_VENV"
    "$APPS_VENV/bin/pip" install -q --disable-pip-version-check -r "$APPS_REQUIREMENTS" >&2
    wheels=$(mktemp -d)
    echo "$SAMPLE_APPS_WHEEL" > "$wheels/requirements.txt"
    "$APPS_VENV/bin/pip" download -q --disable-pip-version-check --no-deps --require-hashes \
        -r "$wheels/requirements.txt" -d "$wheels" >&2
    mkdir -p "$APPS_VENV/apps"
    "$APPS_VENV/bin/python" - "$wheels"/os_ken-1.4.1-*.whl "$APPS_VENV/apps/simple_switch_13.py" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as app:
    app.write(wheel.read("os_ken/app/simple_switch_13.py"))
PY
    rm -rf "$wheels"
    echo "$SIMPLE_SWITCH_13_SHA256  $APPS_VENV/apps/simple_switch_13.py" | sha256sum -c --quiet -
    apps_stamp > "$APPS_VENV/.installed"
fi

if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { log "cargo not found: install a Rust toolchain (rustup)"; exit 1; }
# cargo-fuzz, for the fuzz targets' short runs in scripts/test.sh (scripts/fuzz.sh); pinned.
CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" >&2
fi
log "building (release)"
cargo build --release --workspace --bins >&2
log "ready: target/release/vswitchd, target/release/vsctl"
