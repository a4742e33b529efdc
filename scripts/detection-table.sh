#!/usr/bin/env bash
# The detection and false-positive figures of docs/performance.md ("Detection and false
# positives"): crash_detect and lossy_network at seeds 1-30, slow_members at seeds 1-20, two
# runs at a time, with the release simulator of the working tree (built first).
#
#   scripts/detection-table.sh                 # the default protocol
#   SETS="protocol.member_pull=false" scripts/detection-table.sh
#                                              # any --set overrides (space-separated)
#   SIM=/path/to/sim scripts/detection-table.sh
#                                              # another build (another revision's figures)
#
# Prints one line per scenario: the median over the seeds of each run's median first Suspect
# and Confirmed-everywhere time (summary.json's detection.first_suspect.median_s and
# detection.all_confirmed.median_s), and false_suspected / false_confirmed summed over the
# seeds (with the median per seed of false_confirmed). Runs go to target/detection-table/.
set -euo pipefail
cd "$(dirname "$0")/.."
sim=${SIM:-target/release/sim}
[ -n "${SIM:-}" ] || cargo build --release -q -p sim
sets=()
for kv in ${SETS:-}; do sets+=(--set "$kv"); done
out=target/detection-table
rm -rf "$out"
mkdir -p "$out"
jobs=()
for spec in crash_detect:30 lossy_network:30 slow_members:20; do
  name=${spec%%:*}
  for seed in $(seq 1 "${spec##*:}"); do
    jobs+=("$name $seed")
  done
done
extra="${sets[*]:-}"
export sim out extra
# $extra is unquoted on purpose: "--set K=V" pairs, split on spaces.
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 sh -c \
  '"$sim" run "scenarios/$0.toml" --seed "$1" --quiet --out "$out/$0-$1" $extra >/dev/null 2>&1 || true'
python3 - "$out" <<'EOF'
import json, os, statistics, sys
out = sys.argv[1]
for name in ["crash_detect", "lossy_network", "slow_members"]:
    runs = [json.load(open(os.path.join(out, d, "summary.json")))
            for d in sorted(os.listdir(out)) if d.rsplit("-", 1)[0] == name]
    def med(key):
        xs = [r["detection"][key]["median_s"] for r in runs
              if r["detection"].get(key) and r["detection"][key].get("median_s") is not None]
        return f"{statistics.median(xs):.2f}" if xs else "-"
    fc = [r["false_confirmed"] for r in runs]
    print(f"{name} ({len(runs)} seeds): first Suspect / Confirmed everywhere, median "
          f"{med('first_suspect')} / {med('all_confirmed')} s; false Suspect / false Confirmed "
          f"{sum(r['false_suspected'] for r in runs):,} / {sum(fc):,} "
          f"(median per seed {statistics.median(fc)})")
EOF
