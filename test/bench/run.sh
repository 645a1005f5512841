#!/usr/bin/env bash
# pg_eventlog benchmark: eventlog (E) vs a heap outbox table (O) vs PgQ (Q),
# side by side, in one throwaway cluster.
#
#   bash test/bench/run.sh            # full run (~10-15 min on 2 cores)
#   bash test/bench/run.sh --smoke    # tiny sizes, 1 repetition, < 1 min
#   EVENTLOG_BENCH_SMOKE=1 bash test/bench/run.sh   # same as --smoke
#   bash test/bench/run.sh --wal      # only section 10 (WAL bytes per record
#                                     # with wal_level replica and logical), ~1 min
#   bash test/bench/run.sh --retention  # only retention.pl: on-disk bytes of a
#                                     # topic with retention vs outbox DELETE +
#                                     # autovacuum vs PgQ rotation over 10x the
#                                     # retention, produce rate with/without
#                                     # retention (~4 min; BENCH_RET_SECS,
#                                     # BENCH_RET_RATE, BENCH_RET_TPS_T, BENCH_RET_REPS)
#   bash test/bench/run.sh --views    # only views.pl: records applied per second
#                                     # by materialized views vs a heap outbox
#                                     # with row triggers, and commit-to-view
#                                     # freshness under load (~5 min; knobs
#                                     # BENCH_VIEW_N, _REPS, _TPS, _FRESH_SECS)
#   bash test/bench/run.sh --compaction  # only compaction.pl: records/s of a
#                                     # compacting maintenance pass (~1 min;
#                                     # BENCH_CMP_N, BENCH_CMP_KEYS, BENCH_CMP_REPS)
#   bash test/bench/run.sh --idle-views  # only idle_views.pl: CPU of the
#                                     # maintenance workers with 1,000 views of
#                                     # a topic without commits, while another
#                                     # topic gets 10 commits/s (~2 min; knobs
#                                     # BENCH_IDLE_VIEWS, _SECS, _RATE, _REPS)
#   bash test/bench/run.sh --decode   # only sections 10 (wal_level = logical)
#                                     # and 11 (logical decoding: test_decoding
#                                     # and subscription throughput, apply lag;
#                                     # knobs in decode.sh), ~5 min
#
# Knobs (environment): BENCH_N (bulk records, default 1000000), BENCH_N2
# (per-row produce() records, 100000), BENCH_REPEAT (repetitions of the cheap
# metrics, 3), BENCH_BULK_REPEAT (repetitions of the bulk load, 3),
# BENCH_T (pgbench seconds, 15), BENCH_CLIENTS (8), BENCH_JOBS (2),
# BENCH_PARTITIONS (partitions of the eventlog topics, 4), BENCH_LAT_N
# (latency samples, 1000), BENCH_LAT_INTERVAL_MS (10), BENCH_PGQ_TICK_MS
# (ticker period for the PgQ latency run, 1000), BENCH_N3 (records consumed
# by consumer groups, rows 8, 400000), BENCH_LAT2_SECS / BENCH_LAT2_RATE
# (produce-to-consume latency run, rows 9: 5 s at 1000 records/s),
# BENCH_WAL_N / BENCH_WAL_N2 / BENCH_WAL_XACTS (section 10: records of the
# INSERT..SELECT, of the per-row produce() statement, and single-record
# transactions: 100000 / 20000 / 2000).  Section 10 restarts the cluster with
# wal_level = logical after measuring with replica.
#
# Needs: an installed pg_eventlog (make install), postgresql-15-pgq3,
# libdbd-pg-perl (Perl DBI + DBD::Pg), pgbench.  Run as root (the cluster
# runs as the `postgres` OS user) or as any user that may run initdb.
# The measurements are informational: the exit status is 0 unless something
# fails (setup, SQL error, missing tool); PASS/MISS never changes it.
set -euo pipefail
# The rest is one { ... } group: bash parses it whole before running it, so
# editing this file while a run is in progress cannot derail that run.
{

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "test/bench/run.sh: $*" >&2; exit 1; }

smoke=${EVENTLOG_BENCH_SMOKE:-0}
walonly=0
retonly=0
viewsonly=0
cmponly=0
idleonly=0
decode=0
for arg in "$@"; do
    case $arg in
        --smoke) smoke=1 ;;
        --wal) walonly=1 ;;
        --retention) retonly=1 ;;
        --views) viewsonly=1 ;;
        --compaction) cmponly=1 ;;
        --idle-views) idleonly=1 ;;
        --decode) walonly=1; decode=1 ;;
        -h|--help) sed -n '2,52p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done
[[ $smoke == 0 || $smoke == "" ]] && smoke=0 || smoke=1
if ((smoke)); then
    : "${BENCH_N:=20000}" "${BENCH_N2:=2000}" "${BENCH_REPEAT:=1}" "${BENCH_BULK_REPEAT:=1}"
    : "${BENCH_T:=2}" "${BENCH_LAT_N:=60}" "${BENCH_PGQ_TICK_MS:=200}"
    : "${BENCH_N3:=20000}" "${BENCH_LAT2_SECS:=1}"
    : "${BENCH_WAL_N:=5000}" "${BENCH_WAL_N2:=1000}" "${BENCH_WAL_XACTS:=200}"
fi
export BENCH_WAL_N=${BENCH_WAL_N:-100000} BENCH_WAL_N2=${BENCH_WAL_N2:-20000}
export BENCH_WAL_XACTS=${BENCH_WAL_XACTS:-2000}
export BENCH_SMOKE=$smoke
export BENCH_N=${BENCH_N:-1000000} BENCH_N2=${BENCH_N2:-100000}
export BENCH_REPEAT=${BENCH_REPEAT:-3} BENCH_BULK_REPEAT=${BENCH_BULK_REPEAT:-3}
export BENCH_T=${BENCH_T:-15} BENCH_CLIENTS=${BENCH_CLIENTS:-8} BENCH_JOBS=${BENCH_JOBS:-2}
export BENCH_PARTITIONS=${BENCH_PARTITIONS:-4}
export BENCH_LAT_N=${BENCH_LAT_N:-1000} BENCH_LAT_INTERVAL_MS=${BENCH_LAT_INTERVAL_MS:-10}
export BENCH_PGQ_TICK_MS=${BENCH_PGQ_TICK_MS:-1000}
export BENCH_N3=${BENCH_N3:-400000} BENCH_LAT2_SECS=${BENCH_LAT2_SECS:-5} BENCH_LAT2_RATE=${BENCH_LAT2_RATE:-1000}

# --- tools ------------------------------------------------------------------
if [[ -z ${PG_CONFIG:-} ]]; then
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
    [[ -x $PG_CONFIG ]] || PG_CONFIG=$(command -v pg_config || true)
fi
[[ -n $PG_CONFIG && -x $PG_CONFIG ]] || die "no pg_config (apt-get install postgresql-server-dev-15)"
bindir="$("$PG_CONFIG" --bindir)"
pkglibdir="$("$PG_CONFIG" --pkglibdir)"
sharedir="$("$PG_CONFIG" --sharedir)"
for t in initdb pg_ctl pgbench psql; do
    [[ -x $bindir/$t ]] || die "missing $bindir/$t"
done
[[ -f $pkglibdir/pg_eventlog.so && -f $sharedir/extension/pg_eventlog.control ]] ||
    die "pg_eventlog is not installed in $pkglibdir (run: make && make install)"

apt_install() {
    if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
        echo "=== installing $*"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
            die "apt-get install $* failed"
    else
        die "missing $* (apt-get install -y $*)"
    fi
}
[[ -f $sharedir/extension/pgq.control ]] || apt_install postgresql-15-pgq3
perl -MDBI -MDBD::Pg -e1 2>/dev/null || apt_install libdbd-pg-perl
perl -MDBI -MDBD::Pg -MTime::HiRes -e1 || die "Perl DBI/DBD::Pg not usable"

# --- throwaway cluster ------------------------------------------------------
if ((EUID == 0)); then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

benchpid=
subrunning=
work="$(mktemp -d /tmp/pg_eventlog_bench.XXXXXX)"
chmod 755 "$work"
datadir="$work/data"
sockdir="$work"
port=$((50000 + RANDOM % 10000))
((EUID == 0)) && chown postgres: "$work"

cleanup() {
    local rc=$?
    trap '' PIPE INT TERM HUP    # finish the cleanup even if our output is gone
    [[ -n ${benchpid:-} ]] && kill "$benchpid" 2>/dev/null
    if [[ -n ${subrunning:-} && -f $work/sub/postmaster.pid ]]; then
        as_pg "$bindir/pg_ctl" -D "$work/sub" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [[ -f $datadir/postmaster.pid ]]; then
        as_pg "$bindir/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if ((rc != 0)) && [[ -f $work/server.log ]]; then
        echo "--- tail of server log:" >&2 2>/dev/null || true
        tail -n 40 "$work/server.log" >&2 2>/dev/null || true
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

echo "=== initdb in $datadir"
as_pg "$bindir/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 --locale=C >"$work/initdb.log" 2>&1 ||
    { cat "$work/initdb.log" >&2; die "initdb failed"; }

# Settings stated in the report (bench.pl prints them from the server).
cat >>"$datadir/postgresql.conf" <<EOF
# --- pg_eventlog benchmark ---
shared_preload_libraries = 'pg_eventlog'
listen_addresses = ''
unix_socket_directories = '$sockdir'
port = $port
max_connections = 40
shared_buffers = 256MB
synchronous_commit = on
fsync = on
wal_level = replica
max_wal_size = 4GB
checkpoint_timeout = 30min
autovacuum = off
jit = off
log_min_messages = warning
log_checkpoints = on
EOF

as_pg "$bindir/pg_ctl" -D "$datadir" -l "$work/server.log" -w -t 60 start >/dev/null ||
    { tail -n 30 "$work/server.log" >&2; die "server did not start"; }

"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE bench" >/dev/null
"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d bench \
    -c "CREATE EXTENSION pg_eventlog" -c "CREATE EXTENSION pgq" >/dev/null

export BENCH_HOST=$sockdir BENCH_PORT=$port BENCH_DB=bench BENCH_DIR=$here
export BENCH_PGBENCH=$bindir/pgbench BENCH_WORK=$work
repo="$(cd "$here/../.." && pwd)"
rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
[[ -n "$(git -C "$repo" status --porcelain --untracked-files=no -- src 2>/dev/null)" ]] && rev="$rev (src/ has uncommitted changes)"
echo "=== pg_eventlog library: $pkglibdir/pg_eventlog.so md5 $(md5sum <"$pkglibdir/pg_eventlog.so" | cut -c1-12)," \
     "installed $(date -u -r "$pkglibdir/pg_eventlog.so" '+%F %T UTC'); repo HEAD $rev"
# In the background, so that INT/TERM (e.g. from timeout) run the cleanup at once.
run_perl() {
    perl "$@" &
    benchpid=$!
    wait "$benchpid"
    benchpid=
}
if ((retonly)); then
    echo "=== running the retention benchmark (smoke=$smoke)"
    run_perl "$here/retention.pl"
    exit 0
fi
if ((viewsonly)); then
    echo "=== running the views benchmark (smoke=$smoke)"
    run_perl "$here/views.pl"
    exit 0
fi
if ((idleonly)); then
    echo "=== running the idle views benchmark (smoke=$smoke)"
    run_perl "$here/idle_views.pl"
    exit 0
fi
if ((cmponly)); then
    echo "=== running the compaction benchmark (smoke=$smoke)"
    run_perl "$here/compaction.pl"
    exit 0
fi
if ((!walonly)); then
    echo "=== running benchmark (smoke=$smoke)"
    run_perl "$here/bench.pl"
fi

# --decode: section 10 with wal_level = logical only, then section 11.
if ((decode)); then
    "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d bench \
        -c "ALTER SYSTEM SET wal_level = logical" >/dev/null
    as_pg "$bindir/pg_ctl" -D "$datadir" -l "$work/server.log" -w -t 60 restart >/dev/null ||
        { tail -n 30 "$work/server.log" >&2; die "server did not restart"; }
    echo
    echo "=== 10. WAL bytes per record, wal_level = logical"
    walres="$work/walbytes.txt"
    : >"$walres"
    run_perl "$here/walbytes.pl" measure "$walres"
    run_perl "$here/walbytes.pl" report "$walres"
    # shellcheck source=decode.sh
    source "$here/decode.sh"
    exit 0
fi

# Section 10: WAL bytes per record with wal_level replica, then logical.
echo
echo "=== 10. WAL bytes per record: wal_level replica, then logical (restart)"
walres="$work/walbytes.txt"
: >"$walres"
run_perl "$here/walbytes.pl" measure "$walres"
"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d bench \
    -c "ALTER SYSTEM SET wal_level = logical" >/dev/null
as_pg "$bindir/pg_ctl" -D "$datadir" -l "$work/server.log" -w -t 60 restart >/dev/null ||
    { tail -n 30 "$work/server.log" >&2; die "server did not restart"; }
run_perl "$here/walbytes.pl" measure "$walres"
run_perl "$here/walbytes.pl" report "$walres"
exit 0
}
