#!/usr/bin/env bash
# Behaviour check for refactors: runs every scenario at a fixed seed with the simulator built
# from BASE (default: HEAD~1, the previous commit) and from the working tree, and compares each
# run's events.csv (with timeseries.csv and members.csv) byte for byte. Exit 0 when all are identical, 1 when any differs, 2 on a
# usage or build error.
#
#   scripts/events-identical.sh            # working tree against HEAD~1
#   scripts/events-identical.sh main~5     # against any revision
#   SEED=7 scripts/events-identical.sh     # another fixed seed (default 1)
#   SETS="protocol.dissemination=habitat" scripts/events-identical.sh main
#                                          # every run with these --set overrides (space-separated)
#   NEW_SETS="protocol.fresh_push=false" scripts/events-identical.sh main
#                                          # overrides for the working tree's runs only: a new
#                                          # setting that restores the base's behaviour
#
# Every top-level scenario runs as written, except scale_10k and scale_10k_lean, which run at SCALE_MEMBERS
# (default 500: the 10,000-member run takes an hour and its rules are the same at 500), plus the
# single-run files under scenarios/fidelity and scenarios/lifeguard. The base revision's outputs
# are kept under target/events-identical/<commit>/ and reused by later calls.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

base_rev=${1:-HEAD~1}
seed=${SEED:-1}
scale_members=${SCALE_MEMBERS:-500}
sets=()
for kv in ${SETS:-}; do sets+=(--set "$kv"); done
new_sets=()
for kv in ${NEW_SETS:-}; do new_sets+=(--set "$kv"); done
base=$(git rev-parse --verify -q "$base_rev^{commit}") || { echo "no such revision: $base_rev" >&2; exit 2; }
# Kept beside the main checkout's target/ (shared by its git worktrees, so a base is built once).
common=$(cd "$(git rev-parse --git-common-dir)" && pwd)
work="${EVENTS_IDENTICAL_DIR:-$(dirname "$common")/target/events-identical}"
mkdir -p "$work"

# A scenario file the base revision lacks may use settings its simulator does not know: it is
# left out of the comparison, and said so.
scenarios=()
for f in scenarios/*.toml scenarios/fidelity/kill_one.toml scenarios/lifeguard/*.toml; do
  if git cat-file -e "$base:$f" 2>/dev/null; then
    scenarios+=("$f")
  else
    echo "== $f is new since $(git rev-parse --short "$base"): not compared"
  fi
done

# run_all BIN OUTDIR [--set K=V ...]: every scenario into OUTDIR/<file stem>/, with SETS and
# any further overrides given.
run_all() {
  local bin=$1 out=$2 f name extra
  shift 2
  mkdir -p "$out"
  for f in "${scenarios[@]}"; do
    name=$(basename "$f" .toml)
    extra=("${sets[@]}" "$@")
    case $name in scale_10k|scale_10k_lean) extra+=(--set "members=$scale_members") ;; esac
    # The exit status says whether expectations held; both sides must say the same, which the
    # recorded status below checks. A run that fails to start leaves no events.csv.
    local status=0
    "$bin" run "$f" --seed "$seed" --quiet --out "$out/$name" "${extra[@]}" >/dev/null 2>"$out/$name.stderr" || status=$?
    echo "$status" >"$out/$name.status"
  done
}

stamp="seed$seed-scale$scale_members"
[ -n "${SETS:-}" ] && stamp="$stamp-$(printf %s "$SETS" | cksum | cut -d' ' -f1)"
base_out="$work/$base/$stamp"
if [ ! -f "$base_out/.done" ]; then
  echo "== building sim at $(git log -1 --format='%h %s' "$base" | cut -c1-80)"
  tree="$work/tree-$base"
  rm -rf "$tree"
  git worktree add -q --detach "$tree" "$base"
  (cd "$tree" && CARGO_TARGET_DIR="$work/target-base" cargo build --release -q -p sim) \
    || { git worktree remove --force "$tree"; echo "build of $base failed" >&2; exit 2; }
  # Scenario files come from the working tree's revision so that both sides run the same input
  # when a change only moves code; a change that edits a scenario shows up as a difference.
  echo "== running ${#scenarios[@]} scenarios at $base (seed $seed)"
  run_all "$work/target-base/release/sim" "$base_out"
  git worktree remove --force "$tree"
  touch "$base_out/.done"
fi

echo "== building sim from the working tree"
cargo build --release -q -p sim || exit 2
new_stamp=$stamp
[ -n "${NEW_SETS:-}" ] && new_stamp="$new_stamp-new$(printf %s "$NEW_SETS" | cksum | cut -d' ' -f1)"
new_out="$work/worktree-$(printf %s "$root" | cksum | cut -d' ' -f1)/$new_stamp"
rm -rf "$new_out"
echo "== running ${#scenarios[@]} scenarios from the working tree (seed $seed)"
run_all "${CARGO_TARGET_DIR:-$root/target}/release/sim" "$new_out" "${new_sets[@]}"

# events.csv is the contract; timeseries.csv and members.csv are deterministic too (summary.json
# carries wall-clock figures and is left out), so they are compared as well.
differ=0
for f in "${scenarios[@]}"; do
  name=$(basename "$f" .toml)
  sa=$(cat "$base_out/$name.status") sb=$(cat "$new_out/$name.status")
  verdict="identical"
  for file in events.csv timeseries.csv members.csv; do
    a="$base_out/$name/$file" b="$new_out/$name/$file"
    if [ ! -f "$a" ] || [ ! -f "$b" ]; then
      verdict="MISSING   $file (base status $sa, new status $sb)"
    elif ! cmp -s "$a" "$b"; then
      # cmp exits 1 on a difference: under `set -e -o pipefail` that must not end the script.
      where=$(cmp "$a" "$b" 2>&1 | head -1 | sed 's/.* differ: //' || true)
      verdict="DIFFERENT $file ($(wc -l <"$a") vs $(wc -l <"$b") lines; $where)"
    else
      continue
    fi
    break
  done
  if [ "$verdict" = identical ] && [ "$sa" != "$sb" ]; then
    verdict="STATUS    exit $sa before, $sb now"
  fi
  if [ "$verdict" = identical ]; then
    echo "identical $name ($(($(wc -l <"$new_out/$name/events.csv") - 1)) events, exit $sb)"
  else
    echo "$name: $verdict"; differ=1
  fi
done
[ "$differ" = 0 ] && echo "all ${#scenarios[@]} scenarios identical (events.csv, timeseries.csv, members.csv)"
exit "$differ"
