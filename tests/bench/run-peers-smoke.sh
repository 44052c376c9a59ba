#!/usr/bin/env bash
# Smoke test of the peer-benchmark harness, so it cannot rot: runs
#   bench/run-peers --case idle --quick --idle-connections 50 --hold 1s
# against every server (Switchboard, nchan, Node ws, Socket.IO) and checks
# that it produced a table with a row of figures per server, a results.json
# that parses with one idle RESULT per server, the RSS plot, the RESULTS.md
# block between its markers, and that no server was left running.
# Every tool it needs is installed by scripts/install-deps, so a missing one
# is a failure, not a skip. Ends with "N passed, N failed" (tests/run-all).
# BUILD (default build/) selects the build directory, as for bench/run-peers.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
CONNS=50
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

# ---- prerequisites: all installed by scripts/install-deps + make build
missing=()
[ -x "$BUILD/switchboard" ] || missing+=("$BUILD/switchboard (make build)")
[ -x "$BUILD/switchboard-bench" ] || missing+=("$BUILD/switchboard-bench (make build)")
for tool in node nginx gnuplot taskset; do command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("$tool"); done
[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || missing+=("libnginx-mod-nchan")
for pkg in ws socket.io socket.io-client; do
  node -e "require.resolve('$pkg', {paths: ['$ROOT']})" 2>/dev/null || missing+=("npm package $pkg")
done
for f in ws-broadcast.js socketio-server.js socketio-load.js nchan.conf.in; do
  [ -f "bench/peers/$f" ] || missing+=("bench/peers/$f")
done
if [ ${#missing[@]} -gt 0 ]; then
  not_ok "prerequisites present (missing: ${missing[*]}; run scripts/install-deps and make build)"
  finish
fi
ok "prerequisites present (switchboard, switchboard-bench, node, nginx+nchan, gnuplot, taskset, ws, socket.io)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/run-peers-smoke.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/logs"
start=$(date +%s)
TMPDIR="$TMP/logs" BUILD="$BUILD" timeout 120 bench/run-peers --case idle --quick --idle-connections "$CONNS" \
  --hold 1s --out "$TMP/out" --no-results-md >"$TMP/stdout" 2>"$TMP/stderr"
rc=$?
elapsed=$(( $(date +%s) - start ))
if [ "$rc" = 0 ]; then ok "bench/run-peers exited 0 (${elapsed} s)"; else
  not_ok "bench/run-peers exited $rc (${elapsed} s); its stderr ends:"; tail -25 "$TMP/stderr" | sed 's/^/#   /'
fi

# ---- the table: one row per server, with CONNS connections held (not n/a)
check "the idle table is printed" grep -q '^### idle: ' "$TMP/stdout"
for label in 'Switchboard' 'nchan' 'Node ws' 'Socket.IO'; do
  row=$(grep -E "^\| $label \|" "$TMP/stdout" | head -1)
  held=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')
  per_conn=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $4); print $4 }')
  if [ "$held" = "$CONNS" ] && [[ "$per_conn" =~ ^-?[0-9,]+ ]]; then
    ok "table row for $label: $CONNS connections held, RSS per connection $per_conn bytes"
  else
    not_ok "table row for $label has figures (row: ${row:-none})"
  fi
done

# ---- results.json parses and holds one idle RESULT per server
json_check=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const want = ["switchboard", "nchan", "ws", "socketio"];
  const bad = [];
  for (const s of want) {
    const run = r.runs.find((x) => x.case === "idle" && x.server === s);
    const line = run && run.result_lines.find((l) => l.startsWith("RESULT idle "));
    const m = line && /(?:^| )connected=(\d+)/.exec(line);
    if (!m || Number(m[1]) !== Number(process.argv[2])) bad.push(s + ": " + (line || "no RESULT idle line"));
  }
  if (!r.machine || !r.machine.cpus || !r.commit || !r.parameters || r.parameters.idle.connections !== Number(process.argv[2])) bad.push("machine/commit/parameters missing");
  if (!r.summary || !r.summary.idle) bad.push("no idle summary");
  console.log(bad.length ? bad.join("; ") : "ok");
' "$TMP/out/results.json" "$CONNS" 2>&1)
if [ "$json_check" = ok ]; then ok "results.json parses: machine, commit, parameters, a RESULT idle line with connected=$CONNS per server"; else
  not_ok "results.json: $json_check"; fi

# ---- plot and RESULTS.md block
check "idle RSS plot is a PNG" sh -c "head -c 8 '$TMP/out/idle-rss.png' 2>/dev/null | od -An -c | grep -q 'P   N   G'"
check "peers block is wrapped in its markers" sh -c "head -1 '$TMP/out/peers-block.md' | grep -qx '<!-- peers:begin -->' && tail -1 '$TMP/out/peers-block.md' | grep -qx '<!-- peers:end -->'"

# ---- nothing left behind: no process under our temporary prefix, no port still open
left=$(pgrep -f "$TMP" || true)
ports=$(grep -oE '(--port |127\.0\.0\.1:)[0-9]+' "$TMP/out/commands.txt" 2>/dev/null | grep -oE '[0-9]+$' | sort -u)
open=""
for p in $ports; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && open="$open $p"; done
if [ -z "$left" ] && [ -z "$open" ] && [ -n "$ports" ]; then ok "every server stopped ($(echo $ports | wc -w) ports closed)"; else
  not_ok "servers left running (pids: ${left:-none}; ports still open:${open:- none})"; fi


# ---- the cluster fan-out case (bench/run-cluster-fanout --quick): memory-1,
# redis-1 and redis-3 each print a row of figures (deliveries/s, latency,
# and for Redis its CPU per 100k deliveries and publishes per publication).
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  TMPDIR="$TMP/logs" BUILD="$BUILD" timeout 180 bench/run-cluster-fanout --quick >"$TMP/cluster.stdout" 2>"$TMP/cluster.stderr"
  rc=$?
  if [ "$rc" = 0 ]; then ok "bench/run-cluster-fanout --quick exited 0"; else
    not_ok "bench/run-cluster-fanout --quick exited $rc; its stderr ends:"; tail -15 "$TMP/cluster.stderr" | sed 's/^/#   /'; fi
  for setup in memory-1 redis-1 redis-3; do
    row=$(grep -E "^\| $setup \|" "$TMP/cluster.stdout" | head -1)
    dps=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $4); print $4 }')
    p99=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $7); print $7 }')
    if [[ "$dps" =~ ^[0-9]+$ ]] && [ "$dps" -gt 0 ] && [[ "$p99" =~ ^[0-9.]+$ ]]; then
      ok "cluster-fanout row $setup: $dps deliveries/s, p99 $p99 ms"
    else
      not_ok "cluster-fanout row $setup has no figures: '$row'"
    fi
  done
  # --quick is one round: its figures are printed per round too.
  round=$(grep -E '^\| 1 \| [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ \|$' "$TMP/cluster.stdout" | head -1)
  if [ -n "$round" ]; then ok "cluster-fanout prints round 1: $round"; else
    not_ok "cluster-fanout has no per-round row for round 1"; fi
  for setup in redis-1 redis-3; do
    row=$(grep -E "^\| $setup \|" "$TMP/cluster.stdout" | head -1)
    cpu=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $11); print $11 }')
    perpub=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $12); print $12 }')
    if [[ "$cpu" =~ ^[0-9.]+$ ]] && [ "$perpub" = "1.00" ]; then
      ok "cluster-fanout $setup: Redis CPU $cpu ms per 100k deliveries, 1.00 publish per publication"
    else
      not_ok "cluster-fanout $setup: Redis CPU '$cpu', publishes per publication '$perpub' (want 1.00)"
    fi
  done
else
  not_ok "redis-server/redis-cli missing for the cluster fan-out smoke run (scripts/install-deps)"
fi

finish
