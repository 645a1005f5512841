#!/usr/bin/env bash
# pg_eventlog: build (-Werror), install, and run the test suites.
#
#   bash test/run.sh                  # all suites: codec regress isolation tap
#   bash test/run.sh regress          # only some: any of codec|regress|isolation|tap
#   bash test/run.sh codec            # the Kafka codec: a bounded fuzz run
#                                     # (KC_FUZZ_SECONDS, default 60; skipped without
#                                     # clang), real clients against its responses
#                                     # (skipped without kcat and python3-confluent-kafka)
#                                     # and its unit tests; needs no PostgreSQL build
#   bash test/run.sh isolation tap
#   PROVE_TESTS='test/t/027_*.pl' bash test/run.sh tap   # some TAP files only
#   REGRESS='setup views' bash test/run.sh regress       # some regress tests only
#   ISOLATION='roll_race' bash test/run.sh isolation     # some specs only
#
# Installing needs root (or sudo).  initdb refuses to run as root, so when run
# as root the suites run as the `postgres` OS user on a copy of the work tree
# in a fresh /tmp directory (kept on failure, removed on success).  Each suite
# is a separate `make installcheck` with the other suites blanked out on the
# command line, so a failing suite does not hide the others.  On failure the
# regression.diffs and the tails of the server/TAP logs are printed.
# A suite passes if and only if its `make installcheck` exits with status 0,
# and the exit status is 0 only if every suite passed.  The counts on the
# last line, "tests: N passed, M failed", are read from the runners'
# summaries for information only.
set -euo pipefail

die() { echo "test/run.sh: $*" >&2; exit 1; }
usage() { echo "usage: bash test/run.sh [codec|regress|isolation|tap|all]..."; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

suites=()
for arg in "${@:-all}"; do
    case $arg in
        codec|regress|isolation|tap) suites+=("$arg") ;;
        all) suites+=(codec regress isolation tap) ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

if [[ -z ${PG_CONFIG:-} ]]; then
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
    [[ -x $PG_CONFIG ]] || PG_CONFIG=/usr/bin/pg_config
fi
[[ -x $PG_CONFIG ]] || die "no pg_config at $PG_CONFIG (apt-get install postgresql-server-dev-15)"
bindir="$("$PG_CONFIG" --bindir)"
echo "=== $("$PG_CONFIG" --version), bindir $bindir"

need_pg=0
for suite in "${suites[@]}"; do [[ $suite == codec ]] || need_pg=1; done

if ((need_pg)); then
    echo "=== build: make WERROR=1"
    make -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" WERROR=1

    echo "=== install: make install"
    if ((EUID == 0)); then
        make install PG_CONFIG="$PG_CONFIG"
    elif command -v sudo >/dev/null 2>&1; then
        sudo make install PG_CONFIG="$PG_CONFIG"
    else
        die "make install needs root: run as root, or install sudo"
    fi
fi

# Where the suites run, and as whom.
logdir="$(mktemp -d /tmp/pg_eventlog_runlog.XXXXXX)"
trap 'rm -rf "$logdir"' EXIT
if ((EUID == 0)); then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (apt-get install postgresql-15)"
    testdir="$(mktemp -d /tmp/pg_eventlog_test.XXXXXX)"
    tar -C "$repo" -cf - \
        --exclude=./.git --exclude=./.demo --exclude=./tmp_check \
        --exclude=./test/tmp_check --exclude=./test/tmp_regress --exclude=./test/tmp_iso \
        . | tar -C "$testdir" -xf -
    chown -R postgres:postgres "$testdir"
    echo "=== running suites as postgres in $testdir"
else
    testdir="$repo"
fi

run_make() {  # run `make installcheck ARGS...` in $testdir as the test user
    run_target installcheck "$@"
}

run_target() {  # run `make TARGET ARGS...` in $testdir as the test user
    local cmd target=$1
    shift
    cmd="cd $(printf %q "$testdir") && exec env PATH=$(printf %q "$bindir:$PATH") TMPDIR=/tmp"
    # the release tests (TAP 061, 062) build earlier releases from the git
    # history, which the copy in $testdir does not have
    cmd+=" EVENTLOG_REPO=$(printf %q "${EVENTLOG_REPO:-$repo}")"
    [[ -z ${EVENTLOG_PREV_RELEASE:-} ]] || cmd+=" EVENTLOG_PREV_RELEASE=$(printf %q "$EVENTLOG_PREV_RELEASE")"
    cmd+=" make $target PG_CONFIG=$(printf %q "$PG_CONFIG")"
    (($# == 0)) || cmd+="$(printf ' %q' "$@")"
    if ((EUID == 0)); then
        su postgres -s /bin/bash -c "$cmd" </dev/null
    else
        bash -c "$cmd" </dev/null
    fi
}

show_failure_files() {  # $1 stamp, $2 suite output: diffs, then log tails
    local f n failed
    # TAP: only the logs of the test files prove reports as failed.
    failed=$(sed -n 's|^\(test/t/\)\{0,1\}\([^ /]*\)\.pl (Wstat.*|\2|p' "$2" | paste -sd'|' -)
    while IFS= read -r f; do
        case $f in
            */regression.diffs)
                [[ -s $f ]] || continue
                n=$(wc -l <"$f")
                echo "----- $f ($n lines) -----"
                head -n 1000 "$f"
                ((n <= 1000)) || echo "[... $((n - 1000)) more lines in $f]"
                continue ;;
            */initdb.log)
                ! grep -q '^Success\.' "$f" || continue ;;
            */tmp_check/log/*)
                [[ -z $failed ]] || [[ ${f##*/} =~ ($failed) ]] || continue ;;
        esac
        echo "----- tail of $f -----"
        tail -n 80 "$f"
    done < <(find "$testdir" -type f -newer "$1" -name regression.diffs | sort
             find "$testdir" -type f -newer "$1" -path '*/log/*' | sort)
}

total_pass=0 total_fail=0 failed_suites=0 summary=()
run_codec() {  # the codec suite: a bounded fuzz run, then the unit tests, last line counts
    local fuzz=none unit=0 clients=0 line p=0 f=0 cp=0 cf=0
    if command -v clang >/dev/null 2>&1; then
        echo "--- fuzz-kafka-codec: ${KC_FUZZ_SECONDS:-60} s"
        if run_target fuzz-kafka-codec "KC_FUZZ_SECONDS=${KC_FUZZ_SECONDS:-60}" \
                >"$logdir/codec.fuzz" 2>&1; then
            fuzz=pass
        else
            fuzz=fail
        fi
        tail -n 30 "$logdir/codec.fuzz"
    else
        echo "--- fuzz-kafka-codec: skipped (no clang; apt-get install clang)"
    fi
    if command -v kcat >/dev/null 2>&1 &&
            /usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1; then
        echo "--- check-kafka-clients"
        run_target check-kafka-clients >"$logdir/codec.clients" 2>&1 || clients=1
        cat "$logdir/codec.clients"
        line=$(grep -E '^clients: [0-9]+ passed, [0-9]+ failed$' "$logdir/codec.clients" | tail -n 1 || true)
        if [[ $line =~ ^clients:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
            cp=${BASH_REMATCH[1]} cf=${BASH_REMATCH[2]}
        else
            cf=1 clients=1
        fi
    else
        echo "--- check-kafka-clients: skipped (apt-get install kcat python3-confluent-kafka)"
    fi
    echo "--- check-kafka-codec"
    run_target check-kafka-codec >"$logdir/codec.unit" 2>&1 || unit=1
    grep -v '^codec: ' "$logdir/codec.unit" || true
    line=$(grep -E '^codec: [0-9]+ passed, [0-9]+ failed$' "$logdir/codec.unit" | tail -n 1 || true)
    if [[ $line =~ ^codec:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    else
        f=1 unit=1   # did not get to its summary
    fi
    case $fuzz in
        pass) p=$((p + 1)) ;;
        fail) f=$((f + 1)) ;;
    esac
    p=$((p + cp)) f=$((f + cf))
    echo "codec: $p passed, $f failed"
    [[ $unit == 0 && $clients == 0 && $fuzz != fail ]]
}

for suite in "${suites[@]}"; do
    case $suite in
        codec)     blank=() ;;
        regress)   blank=(ISOLATION= TAP_TESTS=) ;;
        isolation) blank=(REGRESS= TAP_TESTS=) ;;
        tap)       blank=(REGRESS= ISOLATION=)
                   if ! compgen -G "$testdir/test/t/*.pl" >/dev/null; then
                       summary+=("$suite: skipped (no test/t/*.pl)")
                       continue
                   fi ;;
    esac
    # Narrowing a suite (see the top): passed on to make when set.
    case $suite in
        regress)   [[ -z ${REGRESS:-} ]] || blank+=("REGRESS=$REGRESS") ;;
        isolation) [[ -z ${ISOLATION:-} ]] || blank+=("ISOLATION=$ISOLATION") ;;
        tap)       [[ -z ${PROVE_TESTS:-} ]] || blank+=("PROVE_TESTS=$PROVE_TESTS") ;;
    esac
    echo "=== suite: $suite"
    stamp="$logdir/$suite.stamp" out="$logdir/$suite.out"
    touch "$stamp"
    sleep 0.01  # so files written by the suite are strictly -newer than the stamp
    set +e
    if [[ $suite == codec ]]; then
        run_codec 2>&1 | tee "$out"
    else
        run_make "${blank[@]}" 2>&1 | tee "$out"
    fi
    rc=${PIPESTATUS[0]}
    set -e

    # Counts, for the summary only: the verdict is $rc.
    pass=0 fail=0
    if [[ $suite == codec ]]; then
        if [[ $(tail -n 1 "$out") =~ ^codec:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
            pass=${BASH_REMATCH[1]} fail=${BASH_REMATCH[2]}
        fi
    elif [[ $suite == tap ]]; then
        t=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$out" | tail -n 1)
        fail=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$out" |
               awk '{s += $1} END {print s + 0}')
        if grep -q '^Result: FAIL' "$out" && ((fail == 0)); then fail=1; fi
        pass=$(( ${t:-0} > fail ? ${t:-0} - fail : 0 ))
    else
        line=$(grep -Eo '(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests (passed|failed))' "$out" | tail -n 1 || true)
        if [[ $line =~ ^All\ ([0-9]+) ]]; then
            pass=${BASH_REMATCH[1]}
        elif [[ $line =~ ^([0-9]+)\ of\ ([0-9]+)\ tests\ passed ]]; then
            pass=${BASH_REMATCH[1]}
        elif [[ $line =~ ^([0-9]+)\ of\ ([0-9]+)\ tests\ failed ]]; then
            fail=${BASH_REMATCH[1]} pass=$((BASH_REMATCH[2] - BASH_REMATCH[1]))
        fi
    fi
    ((rc == 0 || fail > 0)) || fail=1   # died before reporting counts
    total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail))

    if ((rc == 0)); then
        summary+=("$suite: PASS ($pass passed)")
    else
        failed_suites=$((failed_suites + 1))
        summary+=("$suite: FAIL ($pass passed, $fail failed, make exit $rc)")
        echo "=== $suite FAILED: diffs and logs follow"
        show_failure_files "$stamp" "$out"
    fi
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
if ((failed_suites > 0)) && [[ $testdir != "$repo" ]]; then
    echo "(test tree kept for inspection: $testdir)"
elif [[ $testdir != "$repo" ]]; then
    rm -rf "$testdir"
fi
echo "tests: $total_pass passed, $total_fail failed"
((failed_suites == 0))
