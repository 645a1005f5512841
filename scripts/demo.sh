#!/usr/bin/env bash
# pg_eventlog demo on a fresh Debian 12 machine:
#
#   bash scripts/demo.sh              # as root; port 54329
#   PGPORT=5499 bash scripts/demo.sh  # another port
#   sudo bash scripts/demo.sh         # as another user with sudo
#
# Installs PostgreSQL 15 and the build dependencies (apt, skipped when all are
# present), builds pg_eventlog with -Werror and installs it, replaces any
# previous demo cluster with a fresh one (<repo>/.demo, or /tmp/pg_eventlog_demo
# when the postgres OS user cannot reach the repo), starts it with pg_eventlog
# preloaded, runs scripts/demo.sql, and prints how to connect and stop it.
set -euo pipefail

die() { echo "scripts/demo.sh: $*" >&2; exit 1; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "must run as root (or with sudo installed): bash scripts/demo.sh"
    exec sudo PGPORT="${PGPORT:-54329}" bash "$repo/scripts/demo.sh" "$@"
fi

port="${PGPORT:-54329}"
if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port == 0 || 10#$port > 65535)); then
    die "bad PGPORT '$port'"
fi
bindir=/usr/lib/postgresql/15/bin

# --- packages --------------------------------------------------------------
packages=(postgresql-15 postgresql-server-dev-15 libipc-run-perl build-essential
          rsync postgresql-15-pgq3 libdbd-pg-perl postgresql-15-wal2json)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
if ((${#missing[@]})); then
    echo "=== apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "=== packages already installed; skipping apt"
fi

# --- build and install -----------------------------------------------------
# Build as the invoking user when they own the clone, so `sudo` leaves no
# root-owned build products behind; install as root.
build=()
if [[ -n ${SUDO_USER:-} && $SUDO_USER != root && $(stat -c %U "$repo") == "$SUDO_USER" ]]; then
    build=(runuser -u "$SUDO_USER" --)
fi
echo "=== build: make WERROR=1"
"${build[@]}" make -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$bindir/pg_config" WERROR=1
echo "=== install: make install"
make install PG_CONFIG="$bindir/pg_config"

# --- throwaway cluster ------------------------------------------------------
as_pg() { (cd / && runuser -u postgres -- "$@"); }

# postgres must be able to traverse to the repo, and the socket path
# ("$demo/.s.PGSQL.$port") must fit in the 107-byte Unix socket limit.
demo="$repo/.demo"
if ! as_pg test -x "$repo" || ((${#demo} > 80)); then
    demo=/tmp/pg_eventlog_demo
fi

for old in "$repo/.demo" /tmp/pg_eventlog_demo; do
    if [[ -f $old/data/postmaster.pid ]]; then
        echo "=== stopping previous demo cluster in $old"
        as_pg "$bindir/pg_ctl" -D "$old/data" -m fast -w stop || true
    fi
done
rm -rf "$demo"
mkdir -p "$demo"
chown postgres:postgres "$demo"
chmod 700 "$demo"

echo "=== initdb $demo/data"
if ! as_pg "$bindir/initdb" -D "$demo/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 --no-instructions >"$demo/initdb.log" 2>&1; then
    cat "$demo/initdb.log" >&2
    die "initdb failed"
fi
cat >>"$demo/data/postgresql.conf" <<EOF

# pg_eventlog demo (scripts/demo.sh)
port = $port
listen_addresses = ''
unix_socket_directories = '${demo//\'/\'\'}'
shared_preload_libraries = 'pg_eventlog'
# so that the logical decoding guide runs as pasted (docs/logical-decoding.md)
wal_level = logical
EOF
# PostgreSQL 15.20 loads only the output plugins listed here; older minors
# have no such setting and would refuse to start with it.
if as_pg "$bindir/postgres" --describe-config 2>/dev/null | grep -q '^output_plugin_libraries'; then
    echo "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'" >>"$demo/data/postgresql.conf"
fi

echo "=== starting server on port $port (log: $demo/server.log)"
if ! as_pg "$bindir/pg_ctl" -D "$demo/data" -l "$demo/server.log" -w start >/dev/null; then
    tail -n 30 "$demo/server.log" >&2 || true
    die "server did not start (port $port busy? set PGPORT)"
fi

# --- how to use it ----------------------------------------------------------
if command -v sudo >/dev/null 2>&1; then
    pg=(sudo -u postgres)
else
    pg=(runuser -u postgres --)
fi
psql_cmd="${pg[*]} $bindir/psql -h $demo -p $port -d postgres"
tour_cmd="${pg[*]} $bindir/psql -h $demo -p $port -d tour"
stop_cmd="cd / && ${pg[*]} $bindir/pg_ctl -D $demo/data stop"
instructions() {
    echo
    echo "Demo cluster is running (data: $demo/data, log: $demo/server.log)."
    echo "Connect:  $psql_cmd"
    echo "Tour:     $tour_cmd"
    echo "          (an empty database for the README's quick tour)"
    echo "Guides:   export PGHOST=$demo PGPORT=$port PGUSER=postgres"
    echo "          then createdb a database per guide and CREATE EXTENSION pg_eventlog there"
    echo "Stop:     $stop_cmd"
    echo "Rerun:    bash scripts/demo.sh as root   (wipes and recreates the demo cluster)"
}

echo "=== running scripts/demo.sql"
cp "$repo/scripts/demo.sql" "$demo/demo.sql"
chown postgres:postgres "$demo/demo.sql"
if ! as_pg "$bindir/psql" -X -v ON_ERROR_STOP=1 -h "$demo" -p "$port" -d postgres \
        -f "$demo/demo.sql"; then
    instructions
    die "scripts/demo.sql failed (server log: $demo/server.log)"
fi
as_pg "$bindir/psql" -X -q -h "$demo" -p "$port" -d postgres -c 'CREATE DATABASE tour'
instructions
