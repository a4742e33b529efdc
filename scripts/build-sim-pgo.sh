#!/usr/bin/env bash
# Builds the simulator with profile-guided optimisation: an instrumented build runs a few
# scenarios (the training), LLVM merges what they did into a profile, and a second build lays
# the code out by it (hot paths straight, cold ones out of the way). The result is
# target/pgo/sim, the same program as target/release/sim: the same seed gives the same bytes
# (outputs do not depend on how the code was optimised). 5-12 % faster on scale_1k_lean.toml
# and scale_1k_lan.toml here, which is what keeps the latter over 100x real time on this VM
# (docs/performance.md).
#
#   scripts/build-sim-pgo.sh && target/pgo/sim run scenarios/scale_1k_lan.toml
#
# Needs rustup's llvm-tools component (for llvm-profdata matching rustc's LLVM), which the
# script adds. Takes two release builds and the training runs: about five minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add llvm-tools >/dev/null 2>&1 || true
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  echo "build-sim-pgo: $profdata not found (rustup component add llvm-tools)" >&2
  exit 2
fi

dir="$PWD/target/pgo"
rm -rf "$dir/profiles" "$dir/train"
mkdir -p "$dir/profiles" "$dir/train"

# --target keeps the flags off build scripts and proc macros.
echo "== instrumented build" >&2
RUSTFLAGS="-Cprofile-generate=$dir/profiles" \
  cargo build --release -p sim --target "$host" --target-dir "$dir/generate"

# The training: a mass change at 1,000 members (crashes, a cut, the heal, with and without
# the lean settings), a join storm, and rumors and elections.
echo "== training runs" >&2
train() {
  local name=$1
  shift
  # Exit code 1 is a failed expectation: the profile is still good. 2 is an error.
  "$dir/generate/$host/release/sim" run "$@" --quiet --out "$dir/train/$name" || [ $? -eq 1 ]
}
train scale_1k_lean scenarios/scale_1k_lean.toml
train scale_1k scenarios/scale_10k.toml --set members=1000
train join_storm scenarios/join_storm.toml
train partition_heal scenarios/partition_heal.toml
train elections scenarios/election_basic.toml
train config_rollout scenarios/config_rollout.toml

"$profdata" merge -o "$dir/sim.profdata" "$dir/profiles"

echo "== optimised build" >&2
RUSTFLAGS="-Cprofile-use=$dir/sim.profdata" \
  cargo build --release -p sim --target "$host" --target-dir "$dir/use"
cp "$dir/use/$host/release/sim" "$dir/sim"
echo "build-sim-pgo: built target/pgo/sim" >&2
