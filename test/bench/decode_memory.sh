#!/usr/bin/env bash
# pg_eventlog: memory of a walsender decoding one large transaction of
# TOASTed values (issue 17, item 10), a topic (E) beside a heap table with
# the same rows (O).
#
#   sudo PG_CONFIG=/path/to/pg_config bash test/bench/decode_memory.sh [MB...]
#
# Starts a throwaway cluster (wal_level = logical, logical_decoding_work_mem
# 64MB, its default; as the postgres OS user when run as root).  For each
# size (default 100 400: megabytes of values), one transaction inserts
# size * 10 records of ~100 kB (random hex in a jsonb value, which pglz
# barely shrinks) into a topic of 4 partitions, or into a heap table
# (key text, value jsonb); pg_recvlogical (test_decoding) streams a slot
# created just before until the slot has confirmed the transaction's end,
# and the walsender's peak RSS (VmHWM in /proc/<pid>/status) is read
# before pg_recvlogical is stopped.  The sizes of a walsender that decoded
# a 5-record transaction are the baseline.  Prints figures, asserts nothing
# (about 3 minutes with the default sizes on 2 cores).
set -euo pipefail
sizes=("$@")
((${#sizes[@]})) || sizes=(100 400)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir="$("$PG_CONFIG" --bindir)"
dir="$(mktemp -d /tmp/pg_eventlog_decmem_bench.XXXXXX)"
port=${PGPORT:-55493}
as_pg() { if ((EUID == 0)); then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
((EUID == 0)) && chown postgres "$dir"
recv_pid=
cleanup() {
    as_pg "$bindir/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
as_pg "$bindir/initdb -D $dir/data -A trust" >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_eventlog'
port = $port
unix_socket_directories = '$dir'
wal_level = logical
max_wal_senders = 4
max_replication_slots = 4
shared_buffers = 256MB
max_wal_size = 8GB
autovacuum = off
CONF
as_pg "$bindir/pg_ctl -D $dir/data -l $dir/log -w start" >/dev/null
psql() { as_pg "$bindir/psql -h $dir -p $port -X -q -At -v ON_ERROR_STOP=1 -d postgres $(printf ' %q' "$@")"; }
psql -c "CREATE EXTENSION pg_eventlog;
         SELECT eventlog.create_topic('dm', partitions => 4);
         CREATE TABLE dm_o (key text, value jsonb);
         CREATE FUNCTION big_value(kb int) RETURNS jsonb LANGUAGE sql VOLATILE
         AS \$\$ SELECT jsonb_build_object('pad', (SELECT string_agg(md5(random()::text), '')
                                                    FROM generate_series(1, kb * 32))) \$\$;"

# one transaction of n records into rel; prints "peak_kB wal_kB seconds"
run_case() {
    local rel=$1 n=$2 slot lsn0 lsn kb wal t0 t1
    slot="s_$RANDOM"
    psql -c "SELECT pg_create_logical_replication_slot('$slot', 'test_decoding')" >/dev/null
    lsn0=$(psql -c "SELECT pg_current_wal_insert_lsn()")
    psql -c "INSERT INTO $rel (key, value) SELECT 'k' || g, big_value(100) FROM generate_series(1, $n) g"
    lsn=$(psql -c "SELECT pg_current_wal_insert_lsn()")
    wal=$(psql -c "SELECT (('$lsn'::pg_lsn - '$lsn0'::pg_lsn) / 1024)::bigint")
    t0=$(date +%s.%N)
    as_pg "$bindir/pg_recvlogical -h $dir -p $port -d postgres --slot $slot --start --no-loop -f /dev/stdout --fsync-interval=0 --status-interval=1 > /dev/null 2>&1" &
    recv_pid=$!
    until [[ $(psql -c "SELECT coalesce(confirmed_flush_lsn >= '$lsn', false) FROM pg_replication_slots WHERE slot_name = '$slot'") == t ]]; do
        sleep 0.2
    done
    t1=$(date +%s.%N)
    kb=$(psql -c "SELECT (regexp_match(pg_read_file('/proc/' || active_pid || '/status'), 'VmHWM:\s+(\d+) kB'))[1]
                  FROM pg_replication_slots WHERE slot_name = '$slot'")
    # ends the walsender; pg_recvlogical (--no-loop) exits with it
    psql -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '$slot'" >/dev/null
    wait "$recv_pid" 2>/dev/null || true
    recv_pid=
    until [[ $(psql -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'") == f ]]; do
        sleep 0.1
    done
    psql -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
    psql -c "TRUNCATE dm_o; CHECKPOINT" >/dev/null
    echo "$kb $wal $(echo "$t1 - $t0" | bc -l)"
}

read -r base_e _ _ <<<"$(run_case eventlog_topics.dm 5)"
read -r base_o _ _ <<<"$(run_case dm_o 5)"
printf '%-40s | %12s | %12s | %6s\n' "transaction (values)" "E peak RSS" "O peak RSS" "E/O"
printf '%-40s | %9s kB | %9s kB | %6.2f\n' "5 records (baseline)" "$base_e" "$base_o" "$(echo "$base_e / $base_o" | bc -l)"
for mb in "${sizes[@]}"; do
    n=$((mb * 10))
    read -r pe we se <<<"$(run_case eventlog_topics.dm "$n")"
    read -r po wo so <<<"$(run_case dm_o "$n")"
    printf '%-40s | %9s kB | %9s kB | %6.2f\n' "$n x 100 kB (WAL E $((we / 1024)) MB, O $((wo / 1024)) MB)" "$pe" "$po" "$(echo "$pe / $po" | bc -l)"
    printf '    decoding time: E %.1f s, O %.1f s\n' "$se" "$so"
done
