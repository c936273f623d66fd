#!/usr/bin/env bash
# Embedding throughput on a CUDA machine: texts/s of a roberta-base-sized encoder (random weights built by
# SyntheticRoberta with RobertaShape.Base: 12 layers, hidden 768, FFN 3072) on cuda:0 and on the CPU, on the
# 10,000 goodbooks titles, batch 32, max length 128; and MiniLM on both for comparison.
#
# NOT RUN ON A GPU YET: the development machines have none (on them, `LIMIT=64 bash bench/gpu/run.sh` checks that the
# script runs: about 80 s, the cuda:0 runs falling back to the CPU). Run it where `nvidia-smi` works and the CUDA 13 + cuDNN
# libraries are on the library path (Microsoft.ML.OnnxRuntime.Gpu 1.32.0 needs them; without them the encoder
# falls back to the CPU and prints one warning, and the "cuda:0" line then reports device cpu).
#
# Usage: bench/gpu/run.sh [TEXTS_CSV] [CPU_THREADS]
#   TEXTS_CSV    a CSV with a 'title' column (default ../shared/datasets/goodbooks-10k/books.csv)
#   CPU_THREADS  intra-op threads of the CPU runs (default: all cores)
#   LIMIT=N      (environment) only the first N texts, for a quick check that the script runs (default: all)
#   OUT=DIR      (environment) where the JSON lines go (default out/bench-gpu)
set -euo pipefail
cd "$(dirname "$0")/../.."
texts="${1:-../shared/datasets/goodbooks-10k/books.csv}"
threads="${2:-$(nproc)}"
out="${OUT:-out/bench-gpu}"
limit="${LIMIT:-0}"
mkdir -p "$out"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi not available: the cuda:0 runs will fall back to cpu"
dotnet build -c Release -p:WalsGpu=true bench/WalsCluster.Bench.Embedding
bin=bench/WalsCluster.Bench.Embedding/bin/Release/net10.0/WalsCluster.Bench.Embedding

run() { # name model device threads
  echo "== $1: model $2 on $3 ($4 intra-op threads)"
  "$bin" --texts "$texts" --model "$2" --device "$3" --threads "$4" --batch 32 --max-length 128 --limit "$limit" --json | tee "$out/$1.json"
}

run roberta-base-cuda synthetic-base cuda:0 0
run roberta-base-cpu  synthetic-base cpu "$threads"
run minilm-cuda       minilm         cuda:0 0
run minilm-cpu        minilm         cpu "$threads"

python3 - "$out" <<'PY' || true
import json, sys, pathlib
runs = [(p.stem, json.loads(p.read_text().strip().splitlines()[-1])) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))]
# "ran on" differs from "asked" when CUDA was unavailable and the encoder fell back to the CPU (see its warning above).
print(f"{'run':18} {'model':16} {'asked':7} {'ran on':7} {'texts':>6} {'texts/s':>9} {'GFLOP/text':>11} {'GFLOP/s':>9}")
for name, r in runs:
    print(f"{name:18} {r['model']:16} {r['requested_device']:7} {r['device']:7} {r['texts']:6} {r['texts_per_second']:9.1f} {r['gflop_per_text_padded']:11.3f} {r['achieved_gflops']:9.1f}")
PY
