#!/usr/bin/env bash
# Sets the host up (scripts/setup.sh), starts vswitchd on the shipped default
# configuration (conf/default.toml), puts its two tap ports into network
# namespaces vsw-ns0 (10.99.0.1) and vsw-ns1 (10.99.0.2), pings across the
# switch, shows the switch's view, then keeps running until Ctrl-C.
# vhost-user sockets for two VMs wait at /run/vswitch/vm1.sock and vm2.sock.
# DEMO_SECONDS=N stops it after N seconds instead (for scripted runs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

CONF="${CONF:-conf/default.toml}"
VSWITCHD=target/release/vswitchd
VSCTL=target/release/vsctl
SOCKET=$(sed -n 's/^socket *= *"\(.*\)"/\1/p' "$CONF" | head -1)
LOG=$(mktemp /tmp/vswitchd-demo.XXXXXX.log)
PID=

cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
    fi
    ip netns del vsw-ns0 2>/dev/null || true
    ip netns del vsw-ns1 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$VSWITCHD" --config "$CONF" 2> >(tee "$LOG" >&2) &
PID=$!
for _ in $(seq 1 100); do
    "$VSCTL" --socket "$SOCKET" show >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || { echo "vswitchd exited; log: $LOG" >&2; exit 1; }
    sleep 0.2
done

for i in 0 1; do
    ip netns del "vsw-ns$i" 2>/dev/null || true
    ip netns add "vsw-ns$i"
    ip link set "vsw-tap$i" netns "vsw-ns$i"
    ip -n "vsw-ns$i" addr add "10.99.0.$((i + 1))/24" dev "vsw-tap$i"
    ip -n "vsw-ns$i" link set "vsw-tap$i" up
    ip -n "vsw-ns$i" link set lo up
done

echo "== ping 10.99.0.1 (vsw-ns0) -> 10.99.0.2 (vsw-ns1) through br0"
ip netns exec vsw-ns0 ping -c 5 -i 0.2 -W 2 10.99.0.2
echo "== vsctl show"
"$VSCTL" --socket "$SOCKET" show
echo "== vsctl port-stats"
"$VSCTL" --socket "$SOCKET" port-stats
echo "== vsctl pmd-stats"
"$VSCTL" --socket "$SOCKET" pmd-stats
# Every bridge has an OpenFlow management socket next to the control socket.
MGMT="$(dirname "$SOCKET")/br0.mgmt"
echo "== ovs-ofctl -O OpenFlow13 dump-flows unix:$MGMT"
ovs-ofctl -O OpenFlow13 dump-flows "unix:$MGMT"

if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS"
else
    echo "== vswitchd running (pid $PID); vhost-user sockets: /run/vswitch/vm1.sock /run/vswitch/vm2.sock"
    echo "   try: $VSCTL show | $VSCTL port-stats | $VSCTL pmd-rxq-show ; Ctrl-C stops it"
    wait "$PID"
fi
