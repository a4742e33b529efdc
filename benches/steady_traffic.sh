#!/usr/bin/env bash
# Steady datagram traffic of a small engine-node ring at rest, on loopback: N members with the
# habitat preset (optionally with a ring key), SETTLE seconds to join and relax, then the bytes
# and datagrams sent over STEADY seconds, per member and second, read from /metrics.
#
#   benches/steady_traffic.sh                 # 5 members, no key
#   RING_KEY=path/to/x.sym.key benches/steady_traffic.sh
#   N=5 SETTLE_SECS=90 STEADY_SECS=60 ENGINE_NODE=target/release/engine-node benches/steady_traffic.sh
#
# Wire bytes add 28 bytes of IPv4 and UDP headers per datagram to what /metrics counts.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${ENGINE_NODE:-${CARGO_TARGET_DIR:-$here/target}/release/engine-node}
[ -x "$bin" ] || (cd "$here" && cargo build --release -p node --bin engine-node)
n=${N:-5}; settle=${SETTLE_SECS:-90}; steady=${STEADY_SECS:-60}; base_port=${BASE_PORT:-23600}
dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for ((i = 0; i < n; i++)); do
  args=(run --listen "127.0.0.1:$((base_port + i * 10))" --http "127.0.0.1:$((base_port + 1 + i * 10))"
        --preset habitat --data-dir "$dir/m$i")
  [ "$i" -gt 0 ] && args+=(--peer "127.0.0.1:$base_port")
  [ -n "${RING_KEY:-}" ] && args+=(--ring-key "$RING_KEY")
  "$bin" "${args[@]}" >"$dir/log$i" 2>&1 &
  pids+=($!)
done
sleep "$settle"
total() { # total of one datagram counter over the ring
  local sum=0 v
  for ((i = 0; i < n; i++)); do
    v=$(curl -s "127.0.0.1:$((base_port + 1 + i * 10))/metrics" \
      | awk -v m="$1" '$1 == m "{channel=\"datagram\",direction=\"sent\"}" {print $2}')
    sum=$((sum + ${v%.*}))
  done
  echo "$sum"
}
keyed=no; [ -n "${RING_KEY:-}" ] && keyed=yes
b0=$(total swallowtail_bytes_total); d0=$(total swallowtail_messages_total)
sleep "$steady"
b1=$(total swallowtail_bytes_total); d1=$(total swallowtail_messages_total)
python3 -c "
b = ($b1 - $b0) / $steady / $n; d = ($d1 - $d0) / $steady / $n
print(f'{$n} members, ring key: $keyed: payload {b:.1f} B/s, {d:.2f} datagrams/s, on the wire {b + 28 * d:.1f} B/s per member')"
