#!/usr/bin/env bash
# Serving side by side (BENCHMARKS.md, "Serving"): the PyTorch tutorial model
# (../shared/fixtures/tutorial_seq2seq) behind `attend serve` and behind the
# reference FastAPI + uvicorn server (../shared/bench/serve_torch.py), both
# greedy, driven by the same load generator (wrk, with bench/serve.lua) with
# 1, 8 and 64 concurrent clients sending the 300 French sentences of
# tutorial_decodes.json.gz for DURATION seconds each; then attend alone under
# 1,000 clients against a queue of 64 (only 200s and 503s, peak memory), and
# a check that the served translations are `translate run --greedy`'s.
# Wall-clock timings: run it on a quiet machine.
#
#   PYTHON=/path/to/venv/bin/python bench/serve.sh     # venv: torch fastapi uvicorn safetensors
#   REF=0 DURATION=10 bench/serve.sh                    # attend only, shorter
#
# Needs wrk (Debian: apt-get install wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DURATION=${DURATION:-30}
THREADS=${THREADS:-2}
CLIENTS=${CLIENTS:-"1 8 64"}
OUT=${OUT:-$(mktemp -d /tmp/attend-serve-XXXXXX)}
mkdir -p "$OUT"
echo "results in $OUT" >&2
FX=$(cd ../shared/fixtures/tutorial_seq2seq && pwd)
ulimit -n 8192 2>/dev/null || true
command -v wrk > /dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }

cargo build --release --quiet
BIN=target/release/attend
rm -rf "$OUT/tut"
"$BIN" translate import-pytorch --weights "$FX/tutorial_model.safetensors" \
  --vocab "$FX/tutorial_vocab.json" --out "$OUT/tut" 2> /dev/null
python3 -c '
import gzip, json, sys
d = json.load(gzip.open(sys.argv[1]))
print("\n".join(x["source"] for x in d["decodes"]))' "$FX/tutorial_decodes.json.gz" > "$OUT/sentences.txt"
export SENTENCES="$OUT/sentences.txt"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done; }
trap cleanup EXIT

# Starts `attend serve` with extra flags; sets URL and SERVER_PID.
start_attend() {
  "$BIN" --threads "$THREADS" serve --model fr-en="$OUT/tut" --port 0 "$@" 2> "$OUT/attend.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on //p' "$OUT/attend.log")
    [[ -n "$URL" ]] && return 0
    sleep 0.1
  done
  echo "attend serve did not start: $(cat "$OUT/attend.log")" >&2
  exit 1
}

# load NAME URL PATH EXTRA: wrk at each client count, one JSON line each.
load() {
  local name=$1 url=$2
  export SERVE_PATH=$3 SERVE_EXTRA=$4
  for c in $CLIENTS; do
    local t=$((c < THREADS ? c : THREADS))
    wrk -t "$t" -c "$c" -d "${DURATION}s" --timeout 30s -s bench/serve.lua "$url" \
      | tail -n 1 > "$OUT/$name-c$c.json"
    echo "$name, $c clients: $(cat "$OUT/$name-c$c.json")" >&2
  done
}

start_attend
# The served translations are `translate run --greedy`'s, sentence by sentence.
"$BIN" --threads "$THREADS" translate run --model "$OUT/tut" --greedy < "$SENTENCES" > "$OUT/cli.txt"
while IFS= read -r s; do
  body=$(python3 -c 'import json, sys; print(json.dumps({"text": sys.argv[1], "greedy": True}))' "$s")
  curl -s "$URL/v1/translate" -H 'Content-Type: application/json' -d "$body" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["translations"][0]["text"])'
done < "$SENTENCES" > "$OUT/served.txt"
if cmp -s "$OUT/cli.txt" "$OUT/served.txt"; then
  echo "served translations = translate run --greedy on all $(wc -l < "$SENTENCES") sentences" >&2
  SAME=true
else
  echo "served translations differ from translate run --greedy:" >&2
  diff "$OUT/cli.txt" "$OUT/served.txt" | head >&2 || true
  SAME=false
fi
load attend "$URL" /v1/translate ', "greedy": true'
kill "$SERVER_PID"; wait "$SERVER_PID" 2> /dev/null || true

# Overload: 1,000 clients against a queue of 64.
start_attend --queue 64
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
SERVE_PATH=/v1/translate SERVE_EXTRA=', "greedy": true' \
  wrk -t "$THREADS" -c 1000 -d "${DURATION}s" --timeout 30s -s bench/serve.lua "$URL" \
  | tail -n 1 > "$OUT/overload.json"
peak=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
alive=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
echo "{\"rss_before_kb\": $rss_before, \"peak_rss_kb\": $peak, \"rss_after_kb\": $rss_after, \"health_after\": $alive}" > "$OUT/overload_memory.json"
echo "overload: $(cat "$OUT/overload.json"); RSS ${rss_before} kB before, peak ${peak} kB, ${rss_after} kB after; /health $alive" >&2
kill "$SERVER_PID"; wait "$SERVER_PID" 2> /dev/null || true

if [[ "${REF:-1}" != 0 ]]; then
  PORT=${REF_PORT:-18181}
  ATTEND_FIXTURES=$(cd ../shared/fixtures && pwd) "$PY" ../shared/bench/serve_torch.py --port "$PORT" \
    --workers "$THREADS" --threads 1 2> "$OUT/reference.log" &
  PIDS+=("$!")
  for _ in $(seq 300); do
    curl -s "http://127.0.0.1:$PORT/health" > /dev/null && break
    sleep 0.2
  done
  load reference "http://127.0.0.1:$PORT" /translate ''
fi

python3 - "$OUT" "$CLIENTS" "$SAME" <<'PYEOF'
import json, os, sys
out, clients, same = sys.argv[1], sys.argv[2].split(), sys.argv[3]
def read(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else None
print("| clients | attend req/s | p50 ms | p99 ms | errors | reference req/s | p50 ms | p99 ms | errors | throughput ratio | p99 ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for c in clients:
    a, r = read(f"attend-c{c}.json"), read(f"reference-c{c}.json")
    row = [c, f"{a['rps']:.1f}", f"{a['p50_ms']:.2f}", f"{a['p99_ms']:.2f}", str(a['socket_errors'] + a['non_2xx'])]
    if r:
        row += [f"{r['rps']:.1f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", str(r['socket_errors'] + r['non_2xx']),
                f"{a['rps'] / r['rps']:.1f}x", f"{r['p99_ms'] / a['p99_ms']:.1f}x lower"]
    else:
        row += ["-"] * 6
    print("| " + " | ".join(map(str, row)) + " |")
o = read("overload.json")
m = read("overload_memory.json")
print(f"overload (1,000 clients, queue 64): statuses {o['statuses']}, socket errors {o['socket_errors']}; "
      f"RSS {m['rss_before_kb']} kB before, peak {m['peak_rss_kb']} kB, /health afterwards {m['health_after']}")
print(f"served = translate run --greedy: {same}")
PYEOF
