#!/usr/bin/env bash
# HTTP query latency and throughput of one node (wals node --http-port): trains the bundled MovieLens data on it
# (defaults: 64 factors, one shard per side), then GET /v1/recommend?user=U&k=10 for random users: 500 one after
# another (median and p99 latency), then 450 from 8 concurrent clients. Needs python3 (standard library only).
# Usage: bash bench/http-queries.sh [AKKA_PORT] [HTTP_PORT]   (defaults 4079 and 8479, on 127.0.0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
akka=${1:-4079}
http=${2:-8479}
dotnet build -c Release src/Host >/dev/null
wals="dotnet src/Host/bin/Release/net10.0/wals.dll"
work=$(mktemp -d)
echo 'wals.cluster { user-shards = 1, item-shards = 1 }' > "$work/one.conf"
# The node leaves when its standard input closes: this script holds the pipe, so the node stops with it.
exec 3> >($wals node --port "$akka" --config "$work/one.conf" --roles trainer,query --http-port "$http" --stop-on-stdin > "$work/node.log" 2>&1)
trap 'exec 3>&-; sleep 3; rm -rf "$work"' EXIT
for _ in $(seq 60); do grep -q "wals node up" "$work/node.log" 2>/dev/null && break; sleep 1; done
grep "wals node up\|wals http up" "$work/node.log"
$wals train --cluster "127.0.0.1:$akka" --input data/movielens-latest-small/ratings.csv --format movielens --model "$work/m.walsmodel" | tail -1
uptime
python3 - "$http" <<'PY'
import json, random, sys, threading, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/v1/recommend?k=10&user="
random.seed(1)
users = [str(random.randint(1, 610)) for _ in range(1000)]
def get(user):
    with urllib.request.urlopen(base + user) as reply:
        body = json.loads(reply.read())
        assert body["failure"] is None and len(body["items"]) == 10, body
for user in users[:50]:
    get(user)  # warm-up
latencies = []
start = time.perf_counter()
for user in users[50:550]:
    t = time.perf_counter(); get(user); latencies.append(time.perf_counter() - t)
elapsed = time.perf_counter() - start
latencies.sort()
print(f"sequential: {len(latencies)} requests in {elapsed:.2f} s ({len(latencies) / elapsed:.0f}/s), "
      f"median {latencies[len(latencies) // 2] * 1000:.2f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms")
pending = users[550:]
lock = threading.Lock()
def worker():
    while True:
        with lock:
            if not pending:
                return
            user = pending.pop()
        get(user)
start = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
print(f"8 concurrent clients: 450 requests in {elapsed:.2f} s ({450 / elapsed:.0f}/s)")
PY
