#!/usr/bin/env bash
# Training speed on the shared data sets, 2 threads, CG 3 steps: the figures of docs/benchmarks.md.
# Usage: bash bench/training-speed.sh [ITERATIONS]   (needs ../shared/datasets; prints each run's per-iteration lines)
# The synthetic k 256 lines run twice per setting, alternating (this machine kind's timings drift).
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-5}
dotnet build -c Release bench/WalsCluster.Bench >/dev/null
run() { echo "== $*"; uptime; dotnet bench/WalsCluster.Bench/bin/Release/net10.0/WalsCluster.Bench.dll train --threads 2 "$@"; }
D=../shared/datasets
# implicit's settings for each data set: confidence log1p(count) (beta 0, alpha 1), regularization 0.05, CG 3 steps.
run --input $D/splits/lastfm-implicit-80-20-seed42/train.csv --factors 64 --iterations 15
run --input $D/book-crossing/bx_ratings.csv.gz --format bookcrossing --transform binary --factors 64 --iterations "$iterations"
# float32, bfloat16 and int8 gathers (--gather-precision) side by side, so that their ratios come from one sitting.
for g in bfloat16 int8; do
  run --input $D/book-crossing/bx_ratings.csv.gz --format bookcrossing --transform binary --factors 64 --iterations "$iterations" --gather-precision $g
done
for g in float32 bfloat16 int8; do
  run --input $D/synthetic-9.6m/interactions.csv.gz --factors 64 --iterations "$iterations" --phases --gather-precision $g
done
# factors 256: float32, bfloat16, and bfloat16 / int8 with the user rows started from zero (--cg-zero-start users),
# alternating.
for pass in 1 2; do
  for z in "float32 none" "bfloat16 none" "bfloat16 users" "int8 users"; do
    set -- $z
    run --input $D/synthetic-9.6m/interactions.csv.gz --factors 256 --iterations "$iterations" --phases --gather-precision "$1" --cg-zero-start "$2"
  done
done
