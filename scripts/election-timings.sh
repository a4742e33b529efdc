#!/usr/bin/env bash
# Election timings over many seeds (docs/performance.md, "Elections"): runs election_basic,
# leader_crash, election_partition and election_growth at seeds 1..SEEDS (default 50) with 5 %
# loss and a 1 ms + Exp(10 ms) one-way delay, as sim/tests/elections.rs does, and prints
#   - how long the first election of each run took to finish at every member
#     (summary.json `elections[0].duration_s`): median, 90th percentile, worst;
#   - in leader_crash, how long after the crash (30 s) every survivor held the new leader
#     (the earliest `finished_all_s` of an election started after it): median, worst.
#
#   scripts/election-timings.sh                # the release sim of this checkout
#   SIM=/path/to/sim SEEDS=20 scripts/election-timings.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-50}
if [ -z "${SIM:-}" ]; then
  cargo build --release -q -p sim
  SIM=${CARGO_TARGET_DIR:-target}/release/sim
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for sc in election_basic leader_crash election_partition election_growth; do
  for s in $(seq 1 "$seeds"); do
    "$SIM" run "scenarios/$sc.toml" --quiet --seed "$s" \
      --set network.loss_probability=0.05 --set network.one_way_delay_min=1ms \
      --set network.one_way_delay_mean=11ms --out "$out/$sc-$s" >/dev/null 2>&1 || true
  done
done
python3 - "$out" "$seeds" <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], int(sys.argv[2])
first, after = [], []
for sc in ["election_basic", "leader_crash", "election_partition", "election_growth"]:
    for s in range(1, seeds + 1):
        try:
            with open(f"{out}/{sc}-{s}/summary.json") as f:
                elections = sorted(json.load(f).get("elections", []), key=lambda e: e["started_s"])
        except (OSError, ValueError):
            print(f"{sc} seed {s}: no summary", file=sys.stderr)
            continue
        if elections and elections[0].get("duration_s") is not None:
            first.append(elections[0]["duration_s"])
        if sc == "leader_crash":
            done = [e["finished_all_s"] for e in elections
                    if e["started_s"] >= 30 and e.get("finished_all_s") is not None]
            if done:
                after.append(min(done) - 30)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]
if first:
    print(f"first election, finished everywhere ({len(first)} runs): median {statistics.median(first):.1f} s,"
          f" 90th percentile {pct(first, 0.9):.1f} s, worst {max(first):.1f} s")
if after:
    print(f"leader_crash, new leader everywhere after the crash ({len(after)} runs):"
          f" median {statistics.median(after):.1f} s, worst {max(after):.1f} s")
PY
