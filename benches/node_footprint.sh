#!/usr/bin/env bash
# Footprint of engine-node rings, to compare with Habitat's Butterfly (per member at 40
# members on loopback: 10 MB resident, 0.08 % CPU, ~93 B/s steady, ~12 KB/s in the 30 s after
# a join, 15.4–16.5 s median from kill to Confirmed everywhere).
#
# For each N (default: 10 and 40) it starts N-1 `engine-node run --preset habitat` processes,
# lets them converge, measures a steady window, starts the N-th member (the join) and measures
# the window after it, then SIGKILLs KILLS members one after another and times, for each, how
# long until every survivor holds it Confirmed (fastest, median, slowest). Traffic is read from the loopback counters of a network namespace the script
# creates (as root), so nothing else on the machine is counted; without root it falls back to
# the host's loopback and the nodes' own /metrics byte counters.
#
# Usage: benches/node_footprint.sh [N ...]
# Env:   ENGINE_NODE (binary; default target/release/engine-node, built if missing),
#        SETTLE_SECS (20), STEADY_SECS (30), JOIN_SECS (30), DETECT_LIMIT_SECS (120),
#        KILLS (5), BETWEEN_KILLS_SECS (5),
#        BASE_PORT (20000), PRESET (habitat).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${1:-}" != "--inside" ]]; then
    bin=${ENGINE_NODE:-${CARGO_TARGET_DIR:-$here/target}/release/engine-node}
    if [[ ! -x "$bin" ]]; then
        (cd "$here" && cargo build --release -p node --bin engine-node)
    fi
    export ENGINE_NODE=$bin
    for tool in curl jq; do
        command -v $tool >/dev/null || { echo "node_footprint: needs $tool" >&2; exit 1; }
    done
    if [[ $(id -u) == 0 ]] && command -v ip >/dev/null; then
        ns="stfp$$"
        ip netns add "$ns"
        trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
        ip -n "$ns" link set lo up
        export FOOTPRINT_WHERE="network namespace $ns (its own loopback)"
        ip netns exec "$ns" bash "$0" --inside "$@"
        exit $?
    fi
    export FOOTPRINT_WHERE="host loopback (shared counters: other traffic is counted too)"
    exec bash "$0" --inside "$@"
fi
shift

bin=$ENGINE_NODE
settle=${SETTLE_SECS:-20}
steady=${STEADY_SECS:-30}
join=${JOIN_SECS:-30}
detect_limit=${DETECT_LIMIT_SECS:-120}
kills=${KILLS:-5}
between=${BETWEEN_KILLS_SECS:-5}
base=${BASE_PORT:-20000}
preset=${PRESET:-habitat}
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(10 40)
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

clk=$(getconf CLK_TCK)
lo_bytes() { cat /sys/class/net/lo/statistics/tx_bytes; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
app_bytes() { # bytes sent by one node, both channels, from its /metrics
    curl -s -m 2 "http://127.0.0.1:$1/metrics" |
        awk '/^swallowtail_bytes_total\{.*direction="sent"/ {s += $2} END {print s + 0}'
}
start_node() { # index peer_port
    local i=$1 g=$((base + 2 * $1)) h=$((base + 2 * $1 + 1))
    local peer=()
    [[ $i -gt 0 ]] && peer=(--peer "127.0.0.1:$base")
    "$bin" run --listen "127.0.0.1:$g" --http "127.0.0.1:$h" --data-dir "$work/n$i" \
        --preset "$preset" --log-level warn "${peer[@]}" 2>>"$work/n$i.log" &
    pids[$i]=$!
}
alive_count() { # as seen by node $1
    curl -s -m 2 "http://127.0.0.1:$((base + 2 * $1 + 1))/butterfly" |
        jq '[.membership[] | select(.health == "Alive")] | length' 2>/dev/null || echo 0
}
sum() { awk '{s += $1} END {print s + 0}'; }

echo "engine-node footprint, preset $preset, on the $FOOTPRINT_WHERE"
echo "binary: $bin"
printf '\n%4s %9s %9s %12s %12s %12s %12s %12s %12s %12s\n' N "RSS_MB" "CPU_%" "steady_B/s" \
    "steady_app" "join_B/s" "join_app" "confirm_min" "confirm_med" "confirm_max"
results=()
for n in "${sizes[@]}"; do
    pids=()
    rm -rf "$work"/n*
    for ((i = 0; i < n - 1; i++)); do start_node "$i"; done
    # Converge: node 0 sees everyone Alive.
    deadline=$((SECONDS + 120))
    while [[ $(alive_count 0) -lt $((n - 1)) && $SECONDS -lt $deadline ]]; do sleep 1; done
    sleep "$settle"

    # Steady window.
    m=$((n - 1))
    # The /metrics polls go over the same loopback: read them outside the counted window
    # (each poll is kilobytes, more than the ring itself sends in the window).
    a0=$(for ((i = 0; i < m; i++)); do app_bytes $((base + 2 * i + 1)); done | sum)
    b0=$(lo_bytes)
    c0=$(for ((i = 0; i < m; i++)); do cpu_ticks "${pids[$i]}"; done | sum)
    sleep "$steady"
    b1=$(lo_bytes)
    c1=$(for ((i = 0; i < m; i++)); do cpu_ticks "${pids[$i]}"; done | sum)
    a1=$(for ((i = 0; i < m; i++)); do app_bytes $((base + 2 * i + 1)); done | sum)
    steady_bps=$(awk -v d=$((b1 - b0)) -v s="$steady" -v m=$m 'BEGIN {printf "%.0f", d / s / m}')
    steady_app=$(awk -v d=$((a1 - a0)) -v s="$steady" -v m=$m 'BEGIN {printf "%.0f", d / s / m}')
    cpu=$(awk -v t=$((c1 - c0)) -v k="$clk" -v s="$steady" -v m=$m 'BEGIN {printf "%.3f", 100 * t / k / s / m}')

    # The join: member n-1 starts; the window after it.
    a0=$(for ((i = 0; i < m; i++)); do app_bytes $((base + 2 * i + 1)); done | sum)
    b0=$(lo_bytes)
    start_node $((n - 1))
    sleep "$join"
    b1=$(lo_bytes)
    a1=$(for ((i = 0; i < n; i++)); do app_bytes $((base + 2 * i + 1)); done | sum)
    join_bps=$(awk -v d=$((b1 - b0)) -v s="$join" -v m=$n 'BEGIN {printf "%.0f", d / s / m}')
    join_app=$(awk -v d=$((a1 - a0)) -v s="$join" -v m=$n 'BEGIN {printf "%.0f", d / s / m}')
    rss=$(for ((i = 0; i < n; i++)); do rss_kb "${pids[$i]}"; done | awk -v m=$n '{s += $1} END {printf "%.1f", s / m / 1024}')

    # Kill members one after another (never the seed) and time, for each,
    # how long until every survivor holds it Confirmed; the figure is the median over kills
    # (Butterfly's 15.4-16.5 s is a median over kills too). Survivors are polled in parallel
    # every 0.25 s, so the resolution is well under a second.
    dead=()
    everywhere=()
    for ((k = 0; k < kills; k++)); do
        victim=$((n / 2 + k))
        vid=$(curl -s -m 2 "http://127.0.0.1:$((base + 2 * victim + 1))/butterfly" | jq -r .member_id)
        kill -9 "${pids[$victim]}"
        dead+=("$victim")
        t0=$(date +%s.%N)
        survivors=()
        for ((i = 0; i < n; i++)); do
            [[ " ${dead[*]} " == *" $i "* ]] || survivors+=("$i")
        done
        while true; do
            now=$(date +%s.%N)
            confirmed=$(for i in "${survivors[@]}"; do
                (curl -s -m 2 "http://127.0.0.1:$((base + 2 * i + 1))/butterfly" |
                    jq -r --arg id "$vid" '.membership[$id].health // "unknown"' 2>/dev/null) &
            done | grep -cE '^(Confirmed|Departed)$' || true)
            if [[ $confirmed -ge ${#survivors[@]} ]]; then
                everywhere+=("$(awk -v a="$t0" -v b="$now" 'BEGIN {printf "%.1f", b - a}')")
                break
            fi
            if awk -v a="$t0" -v b="$now" -v l="$detect_limit" 'BEGIN {exit !(b - a > l)}'; then
                echo "N=$n: only $confirmed of ${#survivors[@]} survivors confirmed kill $k in ${detect_limit}s" >&2
                everywhere+=("$detect_limit")
                break
            fi
            sleep 0.25
        done
        sleep "$between"
    done
    sorted=$(printf '%s\n' "${everywhere[@]}" | sort -n)
    cmax=$(echo "$sorted" | tail -1)
    cmed=$(echo "$sorted" | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
    cmin=$(echo "$sorted" | head -1)
    line=$(printf '%4d %9s %9s %12s %12s %12s %12s %11ss %11ss %11ss' "$n" "$rss" "$cpu" \
        "$steady_bps" "$steady_app" "$join_bps" "$join_app" "$cmin" "$cmed" "$cmax")
    echo "$line"
    results+=("$line")
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
done
cat <<'NOTE'

Columns (per member): resident memory (MB); CPU over the steady window (% of one core);
bytes/s on loopback (IP headers included) in the steady window and in the window after the
join, and the same from the nodes' own /metrics (payload bytes sent); for each of KILLS
members killed one after another, seconds from SIGKILL until every survivor held it
Confirmed: the fastest, median and slowest kill.
Butterfly at 40 members: 10 MB, 0.08 %, ~93 B/s steady, ~12 KB/s after a join, 15.4–16.5 s.
NOTE
