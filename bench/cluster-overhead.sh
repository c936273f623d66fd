#!/usr/bin/env bash
# Cluster overhead: seconds per iteration of the single-process engine, a 1-node cluster and 3 `wals node` processes on
# this machine, side by side in one run, with the factor-block bytes per half-step beside the out-block formula.
# Usage: bash bench/cluster-overhead.sh [ITERATIONS] [extra options, e.g. --rows 2000000 for a prefix]
# Needs ../shared/datasets/synthetic-9.6m (the figures of docs/benchmarks.md, "Cluster overhead").
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-3}
shift || true
dotnet build -c Release bench/WalsCluster.Cluster.Bench >/dev/null
echo "uptime: $(uptime)"
dotnet bench/WalsCluster.Cluster.Bench/bin/Release/net10.0/WalsCluster.Cluster.Bench.dll overhead \
  --input ../shared/datasets/synthetic-9.6m/interactions.csv.gz --iterations "$iterations" --factors 64 --nodes 1,3 "$@"
echo "uptime: $(uptime)"
