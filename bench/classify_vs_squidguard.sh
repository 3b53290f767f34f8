#!/usr/bin/env bash
# monitord's batch classification against squidGuard 1.6 on the same UT1 lists and the same
# URLs: rates, ratio, and how far they agree on which URLs are listed.
#
#   bash bench/classify_vs_squidguard.sh [N_URLS]      (default 1000000; needs root for apt)
#
# Installs Debian's squidguard if it is missing, builds its Berkeley DB files from the UT1
# copy in ../shared/data/ut1 with squidGuard -C in a temporary folder (the shared copy stays
# untouched), imports the same lists into a fresh monitord, then feeds both the same URLs:
# squidGuard as a Squid redirector ("URL ip/fqdn ident method" lines in, one answer line out),
# monitord as `monitord classify -` (one URL a line in, one JSON line out). Each is timed as
# one process from start to exit, list loading included.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
UT1=${UT1:-$(cd .. && pwd)/shared/data/ut1/blacklists}
PY=${PYTHON:-.venv/bin/python}
MONITORD=${MONITORD:-.venv/bin/monitord}
if ! command -v squidGuard >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq squidguard >/dev/null
fi
WORK=$(mktemp -d /tmp/classify-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { "$PY" -c "print(round($2 - $1, 3))"; }

echo "squidGuard: $(squidGuard -v 2>&1 | head -1); lists from $UT1"
"$PY" bench/classify_vs_squidguard.py conf "$UT1" "$WORK"
t0=$(now)
squidGuard -c "$WORK/squidGuard.conf" -C all >/dev/null 2>&1
t1=$(now)
echo "squidGuard -C all (Berkeley DB files): $(elapsed "$t0" "$t1") s"

"$MONITORD" init "$WORK/site" >/dev/null
t0=$(now)
"$MONITORD" --config "$WORK/site/monitord.toml" lists import "$UT1" --format ut1 \
    | tail -1
t1=$(now)
echo "monitord lists import --format ut1 (store and compile): $(elapsed "$t0" "$t1") s"

"$PY" bench/classify_vs_squidguard.py urls "$UT1" "$WORK" "$N"
echo "URLs: $N (bench/classify_vs_squidguard.py: mostly ordinary traffic, see its docstring)"

# Warm the page cache for both (their lists and the inputs), then time each run: wall clock
# and CPU (user + system), the CPU figures being the ones a busy machine disturbs least.
cat "$WORK"/db/*/*.db "$WORK"/site/var/lists/* "$WORK/urls.txt" "$WORK/squid.txt" >/dev/null
TIMEFORMAT='%R %U %S'
{ time squidGuard -c "$WORK/squidGuard.conf" <"$WORK/squid.txt" >"$WORK/squid.out" 2>/dev/null; } \
    2>"$WORK/squid.time"
{ time "$MONITORD" --config "$WORK/site/monitord.toml" classify - <"$WORK/urls.txt" \
    >"$WORK/monitord.out" 2>/dev/null; } 2>"$WORK/monitord.time"
"$PY" bench/classify_vs_squidguard.py compare "$UT1" "$WORK" \
    "$(cat "$WORK/squid.time")" "$(cat "$WORK/monitord.time")"
