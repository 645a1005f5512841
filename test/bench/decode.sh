#!/usr/bin/env bash
# shellcheck shell=bash disable=SC2154,SC2034  # sourced by run.sh, which sets the variables
# pg_eventlog benchmark, section 11: logical decoding of a topic (E) vs a heap
# outbox table published the ordinary way (O).  Sourced by test/bench/run.sh
# --decode after the publisher (wal_level = logical) is up; starts a second
# throwaway cluster as the subscriber.  Prints figures, asserts nothing.
#
#   11a    decoding throughput through pg_recvlogical + test_decoding: a slot
#          created before N records (committed in transactions of
#          BENCH_DEC_BATCH records) is drained to an --endpos taken after
#          them; records / wall time of pg_recvlogical.
#   11b    through a subscription (pgoutput): the subscription is created
#          (copy_data = false) and disabled, the N records are committed,
#          then it is enabled; records / time from the first applied
#          transaction (the apply worker takes seconds to start) until the
#          subscriber's table has N rows.
#   11c/d  subscriber apply lag at BENCH_DEC_RATE records/s (pgbench -R,
#          one record per transaction, BENCH_DEC_LAG_SECS seconds): the
#          subscriber's rows get clock_timestamp() as a column default when
#          applied; lag = that minus the record's ts (E: append time) or
#          created_at (O: transaction start), p50 and p99.
# Knobs: BENCH_DEC_N (200000), BENCH_DEC_BATCH (1000), BENCH_DEC_RATE
# (1000), BENCH_DEC_LAG_SECS (10), BENCH_DEC_REPEAT (3: medians).

dec_n=${BENCH_DEC_N:-200000}
dec_batch=${BENCH_DEC_BATCH:-1000}
dec_rate=${BENCH_DEC_RATE:-1000}
dec_lag_secs=${BENCH_DEC_LAG_SECS:-10}
dec_repeat=${BENCH_DEC_REPEAT:-3}
if ((smoke)); then
    dec_n=20000; dec_lag_secs=2; dec_repeat=1
fi

subdir="$work/sub"
subport=$((port + 1))
as_pg "$bindir/initdb" -D "$subdir" -U postgres --auth=trust -E UTF8 --locale=C >"$work/initdb_sub.log" 2>&1 ||
    { cat "$work/initdb_sub.log" >&2; die "initdb (subscriber) failed"; }
cat >>"$subdir/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$sockdir'
port = $subport
shared_buffers = 256MB
synchronous_commit = on
max_wal_size = 4GB
autovacuum = off
max_logical_replication_workers = 4
log_min_messages = warning
EOF
as_pg "$bindir/pg_ctl" -D "$subdir" -l "$work/server_sub.log" -w -t 60 start >/dev/null ||
    { tail -n 30 "$work/server_sub.log" >&2; die "subscriber did not start"; }
subrunning=1

P() { "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d bench "$@"; }
S() { "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$sockdir" -p "$subport" -U postgres -d postgres "$@"; }
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

key="'key-' || lpad((i % 100000)::text, 12, '0')"
val="format('{\"id\": %s, \"user\": \"user-%s\", \"amount\": %s, \"note\": \"%s\"}', i, i % 1000, i % 10000, md5(i::text))::jsonb"
parts=${BENCH_PARTITIONS:-4}

P -c "SELECT eventlog.drop_topic('dec', true)" -c "DROP TABLE IF EXISTS dec_o" \
  -c "SELECT eventlog.create_topic('dec', $parts)" \
  -c "CREATE TABLE dec_o (id bigserial PRIMARY KEY, key text, value jsonb, created_at timestamptz DEFAULT now())" \
  -c "CREATE PUBLICATION dec_pub_e FOR TABLE eventlog_topics.dec" \
  -c "CREATE PUBLICATION dec_pub_o FOR TABLE dec_o" >/dev/null
S -c "CREATE SCHEMA eventlog_topics" \
  -c "CREATE TABLE eventlog_topics.dec (\"partition\" int, \"offset\" bigint, ts timestamptz, key text, value jsonb, headers jsonb, applied timestamptz DEFAULT clock_timestamp())" \
  -c "CREATE TABLE public.dec_o (id bigint, key text, value jsonb, created_at timestamptz, applied timestamptz DEFAULT clock_timestamp())" >/dev/null

# N records in transactions of dec_batch records, into E or O
fill() {
    local side=$1 sql b
    for ((b = 0; b < dec_n; b += dec_batch)); do
        if [[ $side == E ]]; then
            sql+="INSERT INTO eventlog_topics.dec (key, value) SELECT $key, $val FROM generate_series($b + 1, $b + $dec_batch) i;"$'\n'
        else
            sql+="INSERT INTO dec_o (key, value) SELECT $key, $val FROM generate_series($b + 1, $b + $dec_batch) i;"$'\n'
        fi
    done
    P <<<"$sql" >/dev/null
}

# 11a: pg_recvlogical + test_decoding, drain a slot to an endpos
recv_once() {
    local side=$1 slot="dec_td_${1,,}" endpos t0 t1 lines
    P -c "CHECKPOINT" -c "SELECT pg_create_logical_replication_slot('$slot', 'test_decoding')" >/dev/null
    fill "$side"
    endpos=$(P -c "SELECT pg_current_wal_insert_lsn()")
    t0=$(now)
    lines=$("$bindir/pg_recvlogical" -h "$sockdir" -p "$port" -U postgres -d bench --slot "$slot" \
        --start --endpos "$endpos" --no-loop -f - |
        grep -Ec '^table (eventlog_topics\."dec"|public\.dec_o): INSERT' || true)
    t1=$(now)
    P -c "SELECT pg_drop_replication_slot('$slot')" -c "TRUNCATE dec_o" >/dev/null
    [[ $lines == "$dec_n" ]] || echo "    (warning: $side drained $lines changes, expected $dec_n)" >&2
    awk -v n="$dec_n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", n / (b - a)}'
}

# 11b: subscription (pgoutput), time until the subscriber has N rows
sub_once() {
    local side=$1 pub tbl t0 t1 cnt c0
    if [[ $side == E ]]; then pub=dec_pub_e; tbl=eventlog_topics.dec; else pub=dec_pub_o; tbl=public.dec_o; fi
    S -c "TRUNCATE $tbl" >/dev/null
    P -c "CHECKPOINT" >/dev/null
    S -c "CREATE SUBSCRIPTION dec_sub CONNECTION 'host=$sockdir port=$port user=postgres dbname=bench' PUBLICATION $pub WITH (copy_data = false)" \
      -c "ALTER SUBSCRIPTION dec_sub DISABLE" >/dev/null
    fill "$side"
    S -c "ALTER SUBSCRIPTION dec_sub ENABLE" >/dev/null
    # from the first applied transaction on (the apply worker takes a few
    # seconds to start), until the last
    while :; do
        c0=$(S -c "SELECT count(*) FROM $tbl")
        ((c0 > 0)) && break
        sleep 0.01
    done
    t0=$(now)
    while :; do
        cnt=$(S -c "SELECT count(*) FROM $tbl")
        ((cnt >= dec_n)) && break
        sleep 0.02
    done
    t1=$(now)
    S -c "DROP SUBSCRIPTION dec_sub" >/dev/null
    P -c "TRUNCATE dec_o" >/dev/null
    awk -v n="$((dec_n - c0))" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", n / (b - a)}'
}

# 11c/d: apply lag at dec_rate records/s
lag_once() {
    local side=$1 pub tbl script="$work/dec_lag_$1.sql"
    if [[ $side == E ]]; then
        pub=dec_pub_e; tbl=eventlog_topics.dec
        echo "\\set i random(1, 100000000)
INSERT INTO eventlog_topics.dec (key, value) SELECT $key, $val FROM (SELECT :i AS i) s;" >"$script"
    else
        pub=dec_pub_o; tbl=public.dec_o
        echo "\\set i random(1, 100000000)
INSERT INTO dec_o (key, value) SELECT $key, $val FROM (SELECT :i AS i) s;" >"$script"
    fi
    chmod 644 "$script"
    S -c "TRUNCATE $tbl" -c "CREATE SUBSCRIPTION dec_sub CONNECTION 'host=$sockdir port=$port user=postgres dbname=bench' PUBLICATION $pub WITH (copy_data = false)" >/dev/null
    # wait until the apply worker runs: a first record arrives
    if [[ $side == E ]]; then
        P -c "INSERT INTO eventlog_topics.dec (key, value) VALUES ('warmup', '{}')" >/dev/null
    else
        P -c "INSERT INTO dec_o (key, value) VALUES ('warmup', '{}')" >/dev/null
    fi
    while (( $(S -c "SELECT count(*) FROM $tbl") < 1 )); do sleep 0.05; done
    S -c "TRUNCATE $tbl" >/dev/null
    local c0 c1 total
    c0=$(P -c "SELECT count(*) FROM ${tbl/public./}")
    "$bindir/pgbench" -n -h "$sockdir" -p "$port" -U postgres -c 2 -j 2 -R "$dec_rate" -T "$dec_lag_secs" \
        -f "$script" bench >/dev/null 2>&1 || die "pgbench (lag, $side) failed"
    c1=$(P -c "SELECT count(*) FROM ${tbl/public./}")
    total=$((c1 - c0))
    while (( $(S -c "SELECT count(*) FROM $tbl") < total )); do sleep 0.1; done
    if [[ $side == E ]]; then
        S -c "SELECT round(1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY applied - ts))::numeric, 2) || ' ' ||
                     round(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY applied - ts))::numeric, 2) || ' ' || count(*) FROM $tbl"
    else
        S -c "SELECT round(1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY applied - created_at))::numeric, 2) || ' ' ||
                     round(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY applied - created_at))::numeric, 2) || ' ' || count(*) FROM $tbl"
    fi
    S -c "DROP SUBSCRIPTION dec_sub" >/dev/null
    P -c "TRUNCATE dec_o" >/dev/null
}

echo
echo "=== 11. logical decoding, wal_level = logical (N = $dec_n records in transactions of $dec_batch, $parts partitions, medians of $dec_repeat)"
declare -a rE rO sE sO
for ((r = 0; r < dec_repeat; r++)); do
    rE+=("$(recv_once E)"); rO+=("$(recv_once O)")
    sE+=("$(sub_once E)"); sO+=("$(sub_once O)")
    echo "    repetition $((r + 1)): test_decoding E ${rE[-1]} O ${rO[-1]}; pgoutput subscription E ${sE[-1]} O ${sO[-1]} records/s"
done
mrE=$(printf '%s\n' "${rE[@]}" | median); mrO=$(printf '%s\n' "${rO[@]}" | median)
msE=$(printf '%s\n' "${sE[@]}" | median); msO=$(printf '%s\n' "${sO[@]}" | median)
read -r lE50 lE99 lEn <<<"$(lag_once E)"
read -r lO50 lO99 lOn <<<"$(lag_once O)"

row() { printf "%-52s | %12s | %12s | %6s | %-12s\n" "$@"; }
row metric eventlog outbox E/O goal
printf -- '-%.0s' {1..106}; echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
row "11a. pg_recvlogical + test_decoding (records/s)" "$mrE" "$mrO" "$(ratio "$mrE" "$mrO")" "E/O >= 1"
row "11b. subscription, pgoutput: apply (records/s)" "$msE" "$msO" "$(ratio "$msE" "$msO")" "E/O >= 1"
row "11c. apply lag p50 @ $dec_rate/s (ms, $lEn/$lOn rows)" "$lE50" "$lO50" "$(ratio "$lE50" "$lO50")" ""
row "11d. apply lag p99 @ $dec_rate/s (ms)" "$lE99" "$lO99" "$(ratio "$lE99" "$lO99")" ""
printf -- '-%.0s' {1..106}; echo
