#!/usr/bin/env bash
# pg_eventlog: overhead of quota accounting (issue 12's benchmark).
#
#   sudo PG_CONFIG=/path/to/pg_config bash test/bench/quota.sh [reps]
#
# Starts a throwaway cluster (as the postgres OS user when run as root),
# then alternates, reps times (default 3): no quota / a quota far above
# the rate (1 TB/s produce and fetch for the benchmarking role), measuring
#   A. produce() per row in one statement (200,000 rows; rows/s)
#   B. 1-record transactions, pgbench -M prepared -c 8 -j 2 -T 10 (tps)
# and prints the medians and the ratio quota/none.  Asserts nothing.
set -euo pipefail
reps=${1:-3}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir="$("$PG_CONFIG" --bindir)"
dir="$(mktemp -d /tmp/pg_eventlog_quota_bench.XXXXXX)"
port=${PGPORT:-55491}
as_pg() { if ((EUID == 0)); then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
((EUID == 0)) && chown postgres "$dir"
cleanup() { as_pg "$bindir/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
as_pg "$bindir/initdb -D $dir/data -A trust" >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_eventlog'
port = $port
unix_socket_directories = '$dir'
shared_buffers = 256MB
max_wal_size = 4GB
autovacuum = off
CONF
as_pg "$bindir/pg_ctl -D $dir/data -l $dir/log -w start" >/dev/null
psql() { as_pg "$bindir/psql -h $dir -p $port -X -q -At -v ON_ERROR_STOP=1 -d postgres $(printf ' %q' "$@")"; }
psql -c "CREATE EXTENSION pg_eventlog; CREATE ROLE bench LOGIN;
         SELECT eventlog.create_topic('b', partitions => 4);
         GRANT SELECT, INSERT ON eventlog_topics.b TO bench;"
echo "SELECT eventlog.produce('b', '{\"id\": 1, \"payload\": \"0123456789abcdef0123456789abcdef\"}', key => 'k' || (random() * 1000)::int);" > "$dir/one.sql"
((EUID == 0)) && chown postgres "$dir/one.sql"

declare -A res
for ((r = 1; r <= reps; r++)); do
    for mode in none quota; do
        if [[ $mode == quota ]]; then
            psql -c "SELECT eventlog.set_quota('bench', 1000000000000, 1000000000000)"
        else
            psql -c "SELECT eventlog.set_quota('bench', NULL, NULL)"
        fi
        psql -c "CHECKPOINT"
        a=$(as_pg "$bindir/psql -h $dir -p $port -X -At -U bench -d postgres" <<'SQL' | tail -1
\timing off
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) FROM (SELECT eventlog.produce('b', jsonb_build_object('id', g), key => 'k' || g) FROM generate_series(1, 200000) g) x \g /dev/null
SELECT round(200000 / (extract(epoch FROM clock_timestamp()) - :t0));
SQL
)
        b=$(as_pg "$bindir/pgbench -h $dir -p $port -U bench -n -M prepared -c 8 -j 2 -T 10 -f $dir/one.sql postgres" \
            | awk '/^tps/ {print int($3)}')
        res[$mode,A]+="$a "; res[$mode,B]+="$b "
        echo "rep $r $mode: produce() per row $a rows/s, 1-record xacts $b tps"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
printf '%-40s | %10s | %10s | %6s\n' metric none quota ratio
for m in A B; do
    n=$(echo "${res[none,$m]}" | median); q=$(echo "${res[quota,$m]}" | median)
    name=$([[ $m == A ]] && echo "produce() per row in 1 stmt (rows/s)" || echo "1-record xacts, 8 clients (tps)")
    printf '%-40s | %10s | %10s | %6.3f\n' "$name" "$n" "$q" "$(echo "$q / $n" | bc -l)"
done
