#!/usr/bin/env bash
# Prepares a Debian 12 host (as root) to build, run and test the switch:
# apt packages, hugepages, then a release build. Idempotent, non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."

# openvswitch-switch: the OVS oracle of the end-to-end tests (ovsdb-server,
# ovs-vswitchd with its dummy datapath, ovs-vsctl; it brings openvswitch-common:
# ovs-ofctl, ovs-appctl, ovsdb-tool, and ovs-pki, with which the OpenFlow TLS
# test makes its CAs and certificates; openssl: what ovs-pki runs).
# openvswitch-switch-dpdk: the benchmarks' OVS-DPDK (it depends on
# openvswitch-switch too).
PACKAGES=(dpdk dpdk-dev libdpdk-dev pkg-config clang libclang-dev libpcap-dev
          iproute2 iputils-ping python3 openssl openvswitch-switch openvswitch-switch-dpdk)
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

if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { log "cargo not found: install a Rust toolchain (rustup)"; exit 1; }
log "building (release)"
cargo build --release --workspace --bins >&2
log "ready: target/release/vswitchd, target/release/vsctl"
