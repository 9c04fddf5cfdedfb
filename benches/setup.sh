#!/bin/bash
# Installs what benches/throughput.sh needs (Debian 12, as root); idempotent
# and non-interactive: DPDK (dpdk-testpmd, the vdev drivers), OVS with DPDK
# (/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk), python3, and at least
# HUGEPAGES (default 1024) 2 MiB hugepages with hugetlbfs on /dev/hugepages.
#
# The ovs-vswitchd alternative is left alone (the harness calls the DPDK
# binary by path). Building vswitchd/vsctl is separate: cargo build --release.
set -eu
HUGEPAGES="${HUGEPAGES:-1024}"
PACKAGES=(dpdk dpdk-dev openvswitch-switch-dpdk python3)

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get install -y "${missing[@]}" ||
        { apt-get update && apt-get install -y "${missing[@]}"; }
else
    echo "packages present: ${PACKAGES[*]}"
fi

have=$(cat /proc/sys/vm/nr_hugepages)
if [ "$have" -lt "$HUGEPAGES" ]; then
    echo "$HUGEPAGES" > /proc/sys/vm/nr_hugepages
    have=$(cat /proc/sys/vm/nr_hugepages)
    [ "$have" -ge "$HUGEPAGES" ] ||
        echo "WARNING: only $have of $HUGEPAGES hugepages could be reserved (fragmented memory?)" >&2
fi
echo "hugepages: $have x $(awk '/Hugepagesize/ {print $2 $3}' /proc/meminfo) reserved, $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) free"

mkdir -p /dev/hugepages
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
    mount -t hugetlbfs nodev /dev/hugepages
fi
echo "hugetlbfs mounted on /dev/hugepages"
