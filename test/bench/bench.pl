#!/usr/bin/perl
# pg_eventlog benchmark driver; started by test/bench/run.sh, which creates
# the cluster and passes everything through BENCH_* environment variables.
#
# Systems: E = pg_eventlog topic, O = heap outbox table (bigserial PK),
# Q = PgQ queue (no pgqd: pgq.ticker() is called by this script).
# Timings are wall-clock times measured by this client (Time::HiRes) around
# statements run in autocommit mode, so they include the commit (fsync).
use strict;
use warnings;
use DBI;
use DBD::Pg;
use POSIX qw(floor);
use Time::HiRes qw(time sleep);

$| = 1;

my %C = map { $_ => $ENV{"BENCH_$_"} }
  qw(HOST PORT DB DIR PGBENCH WORK SMOKE N N2 REPEAT BULK_REPEAT T CLIENTS JOBS
     PARTITIONS LAT_N LAT_INTERVAL_MS PGQ_TICK_MS N3 LAT2_SECS LAT2_RATE);
for (keys %C) { die "BENCH_$_ not set (run test/bench/run.sh)\n" unless defined $C{$_} }

my $DSN = "dbi:Pg:dbname=$C{DB};host=$C{HOST};port=$C{PORT}";

sub db {
    my $dbh = DBI->connect($DSN, 'postgres', '',
        { RaiseError => 1, PrintError => 0, AutoCommit => 1, pg_server_prepare => 1 })
      or die "connect: $DBI::errstr\n";
    $dbh->do("SET client_min_messages = warning");
    return $dbh;
}

my $dbh = db();

sub one { my ($sql, @a) = @_; my @r = $dbh->selectrow_array($sql, undef, @a); return $r[0] }
sub median {
    my @s = sort { $a <=> $b } grep { defined } @_;
    return undef unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}
sub pct {
    my ($p, @s) = @_;
    @s = sort { $a <=> $b } @s;
    return undef unless @s;
    my $i = int(floor($p / 100 * (@s - 1) + 0.5));
    return $s[$i];
}
sub note { print "  ", @_, "\n" }

# ~16-byte keys, ~95-byte JSON values (as text; E and O store them as jsonb)
my $KEY = q{'key-' || lpad((i % 100000)::text, 12, '0')};
my $VAL = q{format('{"id": %s, "user": "user-%s", "amount": %s, "note": "%s"}', i, i % 1000, i % 10000, md5(i::text))};

my $P = $C{PARTITIONS};
my %R;    # metric -> system -> [samples]
sub add { my ($m, $s, $v) = @_; push @{ $R{$m}{$s} }, $v }

# ---------------------------------------------------------------------------
# settings
print "\n=== settings\n";
my $ver = one("SELECT version()");
my $cpu = `grep -m1 'model name' /proc/cpuinfo 2>/dev/null` // '';
$cpu =~ s/.*:\s*//; chomp $cpu;
my $ncpu = `nproc 2>/dev/null` // '?'; chomp $ncpu;
note "server: $ver";
sub loadavg { open my $f, '<', '/proc/loadavg' or return '?'; my $l = <$f>; my @a = split ' ', $l; return "@a[0..2]" }
note "machine: $ncpu CPUs, $cpu; load average at start: " . loadavg();
for my $g (qw(shared_preload_libraries shared_buffers synchronous_commit fsync wal_level
              max_wal_size checkpoint_timeout autovacuum jit wal_compression full_page_writes)) {
    note sprintf "%-24s = %s", $g, one("SELECT current_setting('$g')");
}
note "pgq version: " . one("SELECT pgq.version()");
note "N (bulk) = $C{N}, N2 (per-row) = $C{N2}, repetitions: bulk $C{BULK_REPEAT}, others $C{REPEAT}"
  . ($C{SMOKE} ? "  [SMOKE RUN: numbers are not meaningful]" : "");
note "eventlog topics have $P partitions (records routed by key); pgbench: -n -M prepared -c $C{CLIENTS} -j $C{JOBS} -T $C{T}";
note "CHECKPOINT before every measured step; timings are client wall-clock incl. commit";

my $sample = one("SELECT length($VAL) || ' / ' || length($KEY) FROM (SELECT 123456 AS i) s");
note "value/key text bytes (sample): $sample";

# ---------------------------------------------------------------------------
# helpers per system
sub lsn { one("SELECT pg_current_wal_lsn()") }
sub lsn_diff { one("SELECT pg_wal_lsn_diff(?::pg_lsn, ?::pg_lsn)", $_[1], $_[0]) }
sub checkpoint { $dbh->do("CHECKPOINT") }

sub e_create {
    my ($t, $parts) = @_;
    $dbh->do("SELECT eventlog.drop_topic(?, true)", undef, $t);
    $dbh->do("SELECT eventlog.create_topic(?, ?)", undef, $t, $parts);
}
sub e_disk {
    my ($t) = @_;
    return one("SELECT coalesce(sum(pg_total_relation_size(segrel)), 0)
                     + pg_total_relation_size(format('eventlog_topics.%I', ?::text)::regclass)
                  FROM eventlog.segment_map WHERE topic = ?", $t, $t);
}
sub o_create {
    my ($t) = @_;
    $dbh->do("DROP TABLE IF EXISTS $t");
    $dbh->do("CREATE TABLE $t (id bigserial PRIMARY KEY, key text, value jsonb,
                               created_at timestamptz DEFAULT now())");
}
sub q_create {
    my ($q) = @_;
    $dbh->do("SELECT pgq.drop_queue(?, true)", undef, $q)
      if one("SELECT count(*) FROM pgq.queue WHERE queue_name = ?", $q);
    $dbh->do("SELECT pgq.create_queue(?)", undef, $q);
}
sub q_last_tick {
    my ($q) = @_;
    return one("SELECT max(t.tick_id) FROM pgq.tick t JOIN pgq.queue q ON q.queue_id = t.tick_queue
                 WHERE q.queue_name = ?", $q);
}
sub q_disk {
    my ($q) = @_;
    my $pfx = one("SELECT queue_data_pfx FROM pgq.queue WHERE queue_name = ?", $q);
    $pfx =~ s/^pgq\.//;
    return one("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'pgq' AND c.relkind = 'r' AND c.relname ~ ?",
               '^' . $pfx . '(_[0-9]+)?$');
}

# Growth of our backend's private memory (peak RssAnon minus RssAnon before) while a statement runs,
# sampled every 5 ms from /proc by a child process; undef if unreadable.
my $BACKEND_PID = one("SELECT pg_backend_pid()");
sub rss_anon_kb {
    open my $f, '<', "/proc/$_[0]/status" or return undef;
    while (<$f>) { return $1 if /^RssAnon:\s+(\d+)/ }
    return undef;
}
sub mem_sampler_start {
    my $base = rss_anon_kb($BACKEND_PID);
    return undef unless defined $base;
    pipe(my $r, my $w) or die "pipe: $!\n";
    my $parent = $$;
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        close $r;
        my ($stop, $max) = (0, 0);
        local $SIG{TERM} = sub { $stop = 1 };
        until ($stop || getppid() != $parent) {
            my $kb = rss_anon_kb($BACKEND_PID) // 0;
            $max = $kb if $kb > $max;
            sleep 0.005;
        }
        print $w "$max\n";
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    return [$pid, $r, $base];
}
sub mem_sampler_stop {
    my ($s) = @_;
    return undef unless $s;
    kill 'TERM', $s->[0];
    my $fh = $s->[1];
    my $max = <$fh>;
    waitpid($s->[0], 0);
    return undef unless defined $max;
    chomp $max;
    return $max > $s->[2] ? $max - $s->[2] : 0;
}

# Run one statement, return (seconds, wal bytes, backend RssAnon growth kB).
sub timed {
    my ($sql, @a) = @_;
    checkpoint();
    my $l0 = lsn();
    my $sampler = mem_sampler_start();
    my $t0 = time;
    $dbh->do($sql, undef, @a);
    my $dt = time - $t0;
    my $peak = mem_sampler_stop($sampler);
    my $l1 = lsn();
    return ($dt, lsn_diff($l0, $l1), $peak);
}

# ---------------------------------------------------------------------------
# 1 + 5: bulk load of N records in one statement
print "\n=== 1. bulk produce: $C{N} records in one statement (x$C{BULK_REPEAT})\n";
my $N = $C{N};
my $q_tick0;
# Source data for the variants that leave row generation out: an UNLOGGED
# heap table of (key, value jsonb) and a COPY file written from it.
my $copyfile = "$C{WORK}/src.copy";
$dbh->do("CREATE UNLOGGED TABLE bench_src (key text, value jsonb)");
$dbh->do("INSERT INTO bench_src SELECT $KEY, ($VAL)::jsonb FROM generate_series(1, $N) i");
$dbh->do("COPY bench_src TO '$copyfile'");
$dbh->do("VACUUM ANALYZE bench_src");

sub o_disk { one("SELECT pg_total_relation_size(?::regclass)", $_[0]) }
sub bulk_one {
    my ($metric, $sys, $rep, $sql, $disk_sub, $walmetric, $diskmetric, $memmetric) = @_;
    my ($dt, $wal, $peak) = timed($sql);
    add($memmetric, $sys, $peak / 1024) if $memmetric && defined $peak;
    my $disk = $disk_sub->();
    add($metric, $sys, $N / $dt);
    add($walmetric, $sys, $wal / $N) if $walmetric;
    add($diskmetric, $sys, $disk / $N) if $diskmetric;
    note sprintf "rep %d %-7s %s: %6.2f s, %8.0f rows/s, WAL %6.1f B/rec, disk %6.1f B/rec, backend mem +%s MB",
      $rep, $metric, $sys, $dt, $N / $dt, $wal / $N, $disk / $N, defined $peak ? sprintf('%.0f', $peak / 1024) : '?';
}
my $GEN = "FROM generate_series(1, $N) i";
for my $rep (1 .. $C{BULK_REPEAT}) {
    # baseline: generating the rows alone (part of every row-1 timing)
    my ($dt) = timed("SELECT count(*) FROM (SELECT $KEY AS k, ($VAL)::jsonb AS v $GEN) s
                       WHERE k IS NOT NULL AND v IS NOT NULL");
    add('gen', 'E', $N / $dt);
    note sprintf "rep %d generation alone: %.2f s", $rep, $dt;

    # 1: INSERT ... SELECT over generate_series (as in the issue)
    e_create('bulk', $P);
    bulk_one('bulk', 'E', $rep, "INSERT INTO eventlog_topics.bulk (key, value) SELECT $KEY, ($VAL)::jsonb $GEN",
             sub { e_disk('bulk') }, 'wal', 'disk', 'membulk');
    o_create('outbox');
    bulk_one('bulk', 'O', $rep, "INSERT INTO outbox (key, value) SELECT $KEY, ($VAL)::jsonb $GEN",
             sub { o_disk('outbox') }, 'wal', 'disk', 'membulk');
    q_create('bulkq');
    $q_tick0 = q_last_tick('bulkq');
    bulk_one('bulk', 'Q', $rep, "SELECT count(pgq.insert_event('bulkq', $KEY, $VAL)) $GEN",
             sub { q_disk('bulkq') }, 'wal', 'disk', 'membulk');

    # 1b: INSERT ... SELECT from the pre-built jsonb table (write path only)
    e_create('bulk_src', $P);
    bulk_one('bulksrc', 'E', $rep, "INSERT INTO eventlog_topics.bulk_src (key, value) SELECT key, value FROM bench_src",
             sub { e_disk('bulk_src') });
    $dbh->do("SELECT eventlog.drop_topic('bulk_src')");
    o_create('outbox_src');
    bulk_one('bulksrc', 'O', $rep, "INSERT INTO outbox_src (key, value) SELECT key, value FROM bench_src",
             sub { o_disk('outbox_src') });
    $dbh->do("DROP TABLE outbox_src");
    q_create('bulkq_src');
    bulk_one('bulksrc', 'Q', $rep, "SELECT count(pgq.insert_event('bulkq_src', key, value::text)) FROM bench_src",
             sub { q_disk('bulkq_src') });
    $dbh->do("SELECT pgq.drop_queue('bulkq_src', true)");

    # 1c: COPY from a server-side file (PgQ has no COPY path)
    e_create('bulk_copy', $P);
    bulk_one('copy', 'E', $rep, "COPY eventlog_topics.bulk_copy (key, value) FROM '$copyfile'",
             sub { e_disk('bulk_copy') }, 'walcopy');
    $dbh->do("SELECT eventlog.drop_topic('bulk_copy')");
    o_create('outbox_copy');
    bulk_one('copy', 'O', $rep, "COPY outbox_copy (key, value) FROM '$copyfile'",
             sub { o_disk('outbox_copy') }, 'walcopy');
    $dbh->do("DROP TABLE outbox_copy");
}
$dbh->do("DROP TABLE bench_src");
unlink $copyfile;
# close the batch holding the last load, for the fetch test
$dbh->do("SELECT pgq.ticker('bulkq')");
die "pgq did not tick after the load\n" if q_last_tick('bulkq') == $q_tick0;
$dbh->do("ANALYZE outbox");
for my $t (@{ $dbh->selectcol_arrayref("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                          WHERE n.nspname = 'pgq' AND relname ~ '^event_' AND relkind = 'r'") }) {
    $dbh->do(qq{ANALYZE pgq."$t"});
}

# ---------------------------------------------------------------------------
# 2: one produce() call per row inside one statement
print "\n=== 2. per-row produce in one statement: $C{N2} rows (x$C{REPEAT})\n";
my $N2 = $C{N2};
o_create('outbox_row');
$dbh->do("CREATE OR REPLACE FUNCTION outbox_put(k text, v jsonb) RETURNS bigint
          LANGUAGE sql VOLATILE AS 'INSERT INTO outbox_row (key, value) VALUES (k, v) RETURNING id'");
for my $rep (1 .. $C{REPEAT}) {
    my ($dt, $wal, $peak);
    my $addmem = sub { add('memrow', $_[0], $_[1] / 1024) if defined $_[1] };
    e_create('rowt', $P);
    ($dt, $wal, $peak) = timed("SELECT count(*) FROM (SELECT eventlog.produce('rowt', ($VAL)::jsonb, $KEY)
                                           FROM generate_series(1, $N2) i) s");
    add('row', 'E', $N2 / $dt); $addmem->('E', $peak);
    my $e = $dt;
    o_create('outbox_row');
    ($dt, $wal, $peak) = timed("SELECT count(outbox_put($KEY, ($VAL)::jsonb)) FROM generate_series(1, $N2) i");
    add('row', 'O', $N2 / $dt); $addmem->('O', $peak);
    my $o = $dt;
    q_create('rowq');
    ($dt, $wal, $peak) = timed("SELECT count(pgq.insert_event('rowq', $KEY, $VAL)) FROM generate_series(1, $N2) i");
    add('row', 'Q', $N2 / $dt); $addmem->('Q', $peak);
    note sprintf "rep %d: E %.0f  O %.0f  Q %.0f rows/s", $rep, $N2 / $e, $N2 / $o, $N2 / $dt;
}

# ---------------------------------------------------------------------------
# 3: single-record transactions, pgbench
print "\n=== 3. single-record transactions: pgbench -c $C{CLIENTS} -j $C{JOBS} -T $C{T} (x$C{REPEAT})\n";
e_create('tps', $P);
e_create('tps1', 1);
o_create('outbox_tps');
q_create('tpsq');
sub pgbench {
    my ($script) = @_;
    checkpoint();
    my @cmd = ($C{PGBENCH}, '-n', '-M', 'prepared', '-c', $C{CLIENTS}, '-j', $C{JOBS}, '-T', $C{T},
               '-h', $C{HOST}, '-p', $C{PORT}, '-U', 'postgres', '-f', "$C{DIR}/$script", $C{DB});
    my $out = `@cmd 2>&1`;
    die "pgbench failed ($script):\n$out\n" if $? != 0;
    my ($tps) = $out =~ /tps = ([0-9.]+) \(without initial connection time\)/;
    ($tps) = $out =~ /tps = ([0-9.]+)/ unless defined $tps;
    die "cannot parse pgbench output:\n$out\n" unless defined $tps;
    my ($failed) = $out =~ /number of failed transactions: (\d+)/;
    die "pgbench: $failed failed transactions ($script)\n" if $failed;
    return $tps;
}
for my $rep (1 .. $C{REPEAT}) {
    my %t;
    $t{E} = pgbench('tps_eventlog.sql');
    $t{E1} = pgbench('tps_eventlog_p1.sql');
    $t{O} = pgbench('tps_outbox.sql');
    $t{Q} = pgbench('tps_pgq.sql');
    add('tps', $_, $t{$_}) for qw(E O Q);
    add('tps1', 'E', $t{E1});
    note sprintf "rep %d: E(%d parts) %.0f  E(1 part) %.0f  O %.0f  Q %.0f tps", $rep, $P, $t{E}, $t{E1}, $t{O}, $t{Q};
}

# ---------------------------------------------------------------------------
# 4: read everything back in batches of 1000 from a client
print "\n=== 4. fetch all $N records in batches of 1000 (x$C{REPEAT})\n";
my $e_end = one("SELECT sum(log_end_offset - log_start_offset) FROM eventlog.partitions WHERE topic = 'bulk'");
die "eventlog.partitions says $e_end records in topic bulk, expected $N\n" if $e_end != $N;

# $cols: the select list; the offset must be column 2 ('*') or 1
sub fetch_e {
    my ($cols) = @_;
    $cols //= '*';
    my $oc = $cols eq '*' ? 1 : 0;
    my $sth = $dbh->prepare(qq{SELECT $cols FROM eventlog.fetch('bulk', ?, ?, 1000)});
    my $n = 0;
    for my $p (0 .. $P - 1) {
        my $next = 0;
        for (;;) {
            $sth->execute($p, $next);
            my $rows = $sth->fetchall_arrayref;
            last unless @$rows;
            $n += @$rows;
            $next = $rows->[-1][$oc] + 1;
        }
    }
    return $n;
}
sub fetch_o {
    my $sth = $dbh->prepare(q{SELECT id, key, value, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT 1000});
    my ($n, $last) = (0, 0);
    for (;;) {
        $sth->execute($last);
        my $rows = $sth->fetchall_arrayref;
        last unless @$rows;
        $n += @$rows;
        $last = $rows->[-1][0];
    }
    return $n;
}
sub fetch_q {
    my ($consumer) = @_;
    $dbh->do("SELECT pgq.register_consumer_at('bulkq', ?, ?)", undef, $consumer, $q_tick0);
    my $n = 0;
    for (;;) {
        $dbh->begin_work;
        my $bid = one("SELECT pgq.next_batch('bulkq', ?)", $consumer);
        if (!defined $bid) { $dbh->commit; last }
        my $rows = $dbh->selectall_arrayref("SELECT * FROM pgq.get_batch_cursor(?, 'evcur', 1000)", undef, $bid);
        $n += @$rows;
        while (@$rows) {
            $rows = $dbh->selectall_arrayref("FETCH 1000 FROM evcur");
            $n += @$rows;
        }
        $dbh->do("CLOSE evcur");
        $dbh->do("SELECT pgq.finish_batch(?)", undef, $bid);
        $dbh->commit;
    }
    $dbh->do("SELECT pgq.unregister_consumer('bulkq', ?)", undef, $consumer);
    return $n;
}
for my $rep (1 .. $C{REPEAT}) {
    my %r;
    for my $s (qw(E O Q)) {
        checkpoint();
        my $t0 = time;
        my $n = $s eq 'E' ? fetch_e() : $s eq 'O' ? fetch_o() : fetch_q("reader$rep");
        my $dt = time - $t0;
        die "fetch $s read $n records, expected $N\n" if $n != $N;
        $r{$s} = $n / $dt;
        add('fetch', $s, $n / $dt);
    }
    note sprintf "rep %d: E %.0f  O %.0f  Q %.0f rows/s", $rep, $r{E}, $r{O}, $r{Q};
}

# 4b: the same four columns as the outbox row (offset, key, value, ts)
# 4c: the same batches read server side, only counted: the storage's share
# of the cost, without the text conversion and the client
my ($e_ends) = one(q{SELECT string_agg(log_end_offset::text, ',' ORDER BY partition)
                       FROM eventlog.partitions WHERE topic = 'bulk'});
my @e_end = split /,/, $e_ends;
my ($o_max) = one('SELECT max(id) FROM outbox');
sub server_e {
    my $n = 0;
    for my $p (0 .. $P - 1) {
        $n += one(qq{SELECT count(f.value) FROM generate_series(0, ($e_end[$p] - 1) / 1000) g,
                       LATERAL eventlog.fetch('bulk', $p, g * 1000, 1000) f});
    }
    return $n;
}
sub server_o {
    return one(qq{SELECT count(x.value) FROM generate_series(0, ($o_max - 1) / 1000) g,
                    LATERAL (SELECT id, key, value, created_at FROM outbox
                              WHERE id > g * 1000 ORDER BY id LIMIT 1000) x});
}
for my $rep (1 .. $C{REPEAT}) {
    my %r;
    for my $k (qw(E4 O SE SO)) {
        checkpoint();
        my $t0 = time;
        my $n = $k eq 'E4' ? fetch_e('"offset", key, value, ts') : $k eq 'O' ? fetch_o()
              : $k eq 'SE' ? server_e() : server_o();
        my $dt = time - $t0;
        die "fetch $k read $n records, expected $N\n" if $n != $N;
        $r{$k} = $n / $dt;
    }
    add('fetch4', 'E', $r{E4});
    add('fetch4', 'O', $r{O});
    add('fetchsrv', 'E', $r{SE});
    add('fetchsrv', 'O', $r{SO});
    note sprintf "rep %d: same columns E %.0f  O %.0f rows/s; server side E %.0f  O %.0f rows/s",
      $rep, $r{E4}, $r{O}, $r{SE}, $r{SO};
}

# ---------------------------------------------------------------------------
# 6: commit-to-fetch latency
print "\n=== 6. commit-to-fetch latency: $C{LAT_N} records, one every $C{LAT_INTERVAL_MS} ms\n";
note "latency = consumer receive time - time the producer's COMMIT returned (same host clock, Time::HiRes)";
e_create('lat', 1);
o_create('outbox_lat');
q_create('latq');
$dbh->do("SELECT pgq.set_queue_config('latq', 'ticker_max_count', '1')");
$dbh->do("SELECT pgq.set_queue_config('latq', 'ticker_max_lag', '0')");
$dbh->do("SELECT pgq.register_consumer('latq', 'lat')");

# Each side writes "id time" lines; the parent joins them.
sub latency_run {
    my ($sys, $n) = @_;
    my $dir = "$C{WORK}/lat_$sys";
    mkdir $dir or die "mkdir $dir: $!\n";
    my $ready = "$dir/ready";

    my $cpid = fork // die "fork: $!\n";
    if (!$cpid) {
        my $rc = eval { consumer($sys, $n, "$dir/recv", $ready); 1 } ? 0 : 1;
        print STDERR "consumer $sys: $@" if $rc;
        POSIX::_exit($rc);
    }
    my $t0 = time;
    sleep 0.01 until -e $ready || time - $t0 > 30;
    die "consumer $sys did not start\n" unless -e $ready;
    sleep 0.2;    # let it block in its first wait
    my $ok = eval { producer($sys, $n, "$dir/sent"); 1 };
    my $perr = $@;
    waitpid($cpid, 0);
    my $crc = $? >> 8;
    die "producer $sys: $perr" unless $ok;
    die "consumer $sys failed\n" if $crc;

    my (%sent, @lat);
    open my $fh, '<', "$dir/sent" or die; while (<$fh>) { my ($id, $t) = split; $sent{$id} = $t } close $fh;
    open $fh, '<', "$dir/recv" or die;
    while (<$fh>) { my ($id, $t) = split; push @lat, ($t - $sent{$id}) * 1000 if exists $sent{$id} } close $fh;
    die "latency $sys: received " . scalar(@lat) . " of $n\n" if @lat < $n;
    my $skip = @lat > 50 ? 10 : 0;    # warm-up
    splice @lat, 0, $skip;
    return @lat;
}

sub producer {
    my ($sys, $n, $file) = @_;
    my $d = db();
    open my $out, '>', $file or die "$file: $!\n";
    my $val = q{{"id": 1, "user": "user-1", "amount": 1, "note": "0123456789abcdef0123456789abcdef"}};
    my ($sth, $notify);
    if ($sys eq 'E') {
        $sth = $d->prepare(q{SELECT "offset" FROM eventlog.produce('lat', ?::jsonb, NULL, NULL, 0)});
    } elsif ($sys eq 'O') {
        $sth = $d->prepare(q{INSERT INTO outbox_lat (key, value) VALUES ('k', ?::jsonb) RETURNING id});
    } else {
        $sth = $d->prepare(q{SELECT pgq.insert_event('latq', 'k', ?)});
    }
    my $next = time;
    for my $i (1 .. $n) {
        $d->begin_work if $sys eq 'O';
        $sth->execute($val);
        my ($id) = $sth->fetchrow_array;
        $sth->finish;
        if ($sys eq 'O') { $d->do("NOTIFY outbox_lat"); $d->commit }
        my $t = time;                   # COMMIT has returned
        printf $out "%s %.6f\n", $id, $t;
        $next += $C{LAT_INTERVAL_MS} / 1000;
        my $left = $next - time;
        sleep $left if $left > 0;
    }
    close $out;
    $d->disconnect;
}

sub consumer {
    my ($sys, $n, $file, $ready) = @_;
    my $d = db();
    open my $out, '>', $file or die "$file: $!\n";
    my $got = 0;
    my $deadline = time + 60 + $n * $C{LAT_INTERVAL_MS} / 1000 * 3;
    my $rec = sub { my ($id) = @_; printf $out "%s %.6f\n", $id, time; $got++ };
    if ($sys eq 'E') {
        my $sth = $d->prepare(q{SELECT "offset" FROM eventlog.fetch('lat', 0, ?, 1000, '5 s')});
        my $next = 0;
        open my $r, '>', $ready; close $r;
        while ($got < $n && time < $deadline) {
            $sth->execute($next);
            my $rows = $sth->fetchall_arrayref;
            my $t = time;
            for (@$rows) { printf $out "%s %.6f\n", $_->[0], $t; $got++; $next = $_->[0] + 1 }
        }
    } elsif ($sys eq 'O') {
        $d->do("LISTEN outbox_lat");
        my $sth = $d->prepare(q{SELECT id FROM outbox_lat WHERE id > ? ORDER BY id LIMIT 1000});
        my $last = 0;
        my $fd = $d->{pg_socket};
        open my $r, '>', $ready; close $r;
        while ($got < $n && time < $deadline) {
            $sth->execute($last);
            my $rows = $sth->fetchall_arrayref;
            my $t = time;
            for (@$rows) { printf $out "%s %.6f\n", $_->[0], $t; $got++; $last = $_->[0] }
            next if @$rows;
            # wait for a notification (or 5 s), then drain them all
            my $rin = '';
            vec($rin, $fd, 1) = 1;
            select(my $rout = $rin, undef, undef, 5) if !$d->pg_notifies;
            1 while $d->pg_notifies;
        }
    } else {
        # no pgqd: this loop is the ticker (period BENCH_PGQ_TICK_MS) and the consumer
        my $period = $C{PGQ_TICK_MS} / 1000;
        open my $r, '>', $ready; close $r;
        my $next = time;
        while ($got < $n && time < $deadline) {
            $d->do("SELECT pgq.ticker('latq')");
            for (;;) {
                $d->begin_work;
                my ($bid) = $d->selectrow_array("SELECT pgq.next_batch('latq', 'lat')");
                if (!defined $bid) { $d->commit; last }
                my $rows = $d->selectall_arrayref("SELECT ev_id FROM pgq.get_batch_events(?)", undef, $bid);
                my $t = time;
                for (@$rows) { printf $out "%s %.6f\n", $_->[0], $t; $got++ }
                $d->do("SELECT pgq.finish_batch(?)", undef, $bid);
                $d->commit;
            }
            $next += $period;
            my $left = $next - time;
            sleep $left if $left > 0;
        }
    }
    close $out;
    $d->disconnect;
    die "timed out after $got of $n records\n" if $got < $n;
}

for my $s (qw(E O Q)) {
    my $n = $C{LAT_N};
    $n = int($n / 4) if $s eq 'Q' && $n >= 200;    # PgQ is tick-bound; fewer samples suffice
    checkpoint();
    my @lat = latency_run($s, $n);
    add('lat50', $s, pct(50, @lat));
    add('lat99', $s, pct(99, @lat));
    note sprintf "%s: %d samples, p50 %.2f ms, p99 %.2f ms, max %.2f ms", $s, scalar(@lat),
      pct(50, @lat), pct(99, @lat), pct(100, @lat);
}

# ---------------------------------------------------------------------------
# 8: consumer groups: consumption rate with 1, 2 and 4 members
my $N3 = $C{N3};
my $GP = 4;    # partitions of the group topics (issue #3)
print "\n=== 8. group consumption: $N3 records, topic of $GP partitions, 1/2/4 members (x$C{REPEAT})\n";
e_create('t', $GP);
checkpoint();
my $tp = time;
$dbh->do("INSERT INTO eventlog_topics.t (key, value) SELECT $KEY, ($VAL)::jsonb FROM generate_series(1, $N3) i");
note sprintf "E prefill %.2f s; records per partition: %s", time - $tp,
  join(' ', @{ $dbh->selectcol_arrayref("SELECT log_end_offset - log_start_offset FROM eventlog.partitions
                                          WHERE topic = 't' ORDER BY partition") });
# PgQ: the same records in chunks of 1000, one tick after each (batches of 1000)
q_create('grpq');
$dbh->do("SELECT pgq.set_queue_config('grpq', 'ticker_max_count', '1')");
my $gq_tick0 = q_last_tick('grpq');
$tp = time;
{
    my $ins = $dbh->prepare("SELECT count(pgq.insert_event('grpq', $KEY, $VAL)) FROM generate_series(?::int, ?::int) i");
    my $tick = $dbh->prepare("SELECT pgq.ticker('grpq')");
    for (my $lo = 1; $lo <= $N3; $lo += 1000) {
        my $hi = $lo + 999 > $N3 ? $N3 : $lo + 999;
        $ins->execute($lo, $hi);
        $ins->finish;
        $tick->execute;
        my ($tid) = $tick->fetchrow_array;
        $tick->finish;
        die "pgq.ticker('grpq') did not tick after events $lo..$hi\n" unless defined $tid;
    }
}
note sprintf "Q prefill %.2f s (%d ticks)", time - $tp, q_last_tick('grpq') - $gq_tick0;
for my $t (@{ $dbh->selectcol_arrayref("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                          WHERE n.nspname = 'pgq' AND relname ~ '^event_' AND relkind = 'r'") }) {
    $dbh->do(qq{ANALYZE pgq."$t"});
}

my @group_warn;
# M forked consumers in group $g, each with its own connection, each looping
# BEGIN; SELECT count(*) FROM eventlog.poll($g, 't', 1000); COMMIT;
# until the group's lag is 0.  Started together (a pipe closed by the parent);
# wall time = start .. the last COMMIT that consumed records.
sub group_run_e {
    my ($g, $M) = @_;
    my $timeout = 120 + $N3 / 1000;
    checkpoint();
    pipe(my $ready_r, my $ready_w) or die "pipe: $!\n";
    pipe(my $go_r, my $go_w) or die "pipe: $!\n";
    pipe(my $res_r, my $res_w) or die "pipe: $!\n";
    my @pids;
    for my $k (1 .. $M) {
        my $pid = fork // die "fork: $!\n";
        if (!$pid) {
            close $ready_r; close $go_w; close $res_r;
            my $ok = eval {
                my $d = db();
                my $poll = $d->prepare(q{SELECT count(*) FROM eventlog.poll(?, 't', 1000)});
                my $lag = $d->prepare(q{SELECT sum(lag) FROM eventlog.consumer_lag WHERE group_id = ? AND topic = 't'});
                syswrite $ready_w, "r";
                sysread $go_r, my $buf, 1;    # EOF: go
                my ($got, $polls, $empty, $last) = (0, 0, 0, 0);
                my $deadline = time + $timeout;
                for (;;) {
                    $d->begin_work;
                    $poll->execute($g);
                    my ($n) = $poll->fetchrow_array;
                    $poll->finish;
                    $d->commit;
                    $polls++;
                    if ($n) { $got += $n; $last = time; next }
                    $empty++;
                    $lag->execute($g);
                    my ($l) = $lag->fetchrow_array;
                    $lag->finish;
                    last if defined $l && $l == 0;
                    die "timed out after $timeout s (group lag " . ($l // 'NULL') . ")\n" if time > $deadline;
                    sleep 0.002;
                }
                syswrite $res_w, sprintf("%d %d %d %.6f\n", $got, $polls, $empty, $last);
                $d->disconnect;
                1;
            };
            print STDERR "group consumer $g/$k: $@" unless $ok;
            POSIX::_exit($ok ? 0 : 1);
        }
        push @pids, $pid;
    }
    close $ready_w; close $go_r; close $res_w;
    my $nready = 0;
    while ($nready < $M) {
        my $r = sysread($ready_r, my $buf, 64);
        last unless $r;
        $nready += $r;
    }
    my $t0 = time;
    close $go_w;
    my @res = <$res_r>;
    my $fail = 0;
    for (@pids) { waitpid($_, 0); $fail++ if $? }
    die "group $g: $fail of $M consumers failed\n" if $fail || @res != $M;
    my ($got, $last, @per) = (0, 0);
    for (@res) {
        my ($n, $polls, $empty, $t) = split;
        $got += $n;
        $last = $t if $t > $last;
        push @per, "$n/$polls/$empty";
    }
    push @group_warn, "group $g ($M members) consumed $got records, expected $N3" if $got != $N3;
    return ($got, $last - $t0, "@per");
}

# One PgQ consumer: next_batch, get_batch_events (rows to the client),
# finish_batch, one transaction per batch, until no batch.
sub group_run_q {
    my ($c) = @_;
    $dbh->do("SELECT pgq.register_consumer_at('grpq', ?, ?)", undef, $c, $gq_tick0);
    my $d = db();
    my $nb = $d->prepare(q{SELECT pgq.next_batch('grpq', ?)});
    my $ev = $d->prepare(q{SELECT * FROM pgq.get_batch_events(?)});
    my $fb = $d->prepare(q{SELECT pgq.finish_batch(?)});
    checkpoint();
    my ($got, $batches) = (0, 0);
    my $t0 = time;
    my $last = $t0;
    for (;;) {
        $d->begin_work;
        $nb->execute($c);
        my ($bid) = $nb->fetchrow_array;
        $nb->finish;
        if (!defined $bid) { $d->commit; last }
        $ev->execute($bid);
        my $rows = $ev->fetchall_arrayref;
        $got += @$rows;
        $fb->execute($bid);
        $fb->finish;
        $d->commit;
        $batches++;
        $last = time;
    }
    $d->disconnect;
    $dbh->do("SELECT pgq.unregister_consumer('grpq', ?)", undef, $c);
    push @group_warn, "PgQ consumer $c consumed $got records, expected $N3" if $got != $N3;
    return ($got, $last - $t0, $batches);
}

for my $rep (1 .. $C{REPEAT}) {
    my @line;
    for my $M (1, 2, 4) {
        my ($got, $dt, $per) = group_run_e("g${M}_r$rep", $M);
        add("grp$M", 'E', $N3 / $dt);
        push @line, sprintf "E %dm %.0f (%.2f s; rows/polls/empty per member %s)", $M, $N3 / $dt, $dt, $per;
    }
    my ($got, $dt, $batches) = group_run_q("gq_r$rep");
    add('grp1', 'Q', $N3 / $dt);
    note sprintf "rep %d: %s", $rep, join('; ', @line);
    note sprintf "       Q 1 consumer %.0f (%.2f s, %d batches) records/s", $N3 / $dt, $dt, $batches;
}
note "WARNING: $_" for @group_warn;

# ---------------------------------------------------------------------------
# 9: produce-to-consume latency at a steady rate, group poll vs PgQ
my $RATE = $C{LAT2_RATE};
my $LN = int($C{LAT2_SECS} * $RATE);
print "\n=== 9. produce-to-consume latency: $LN records, one per transaction, $RATE/s, 1 group member vs PgQ\n";
note "latency = consumer's clock_timestamp() at receipt - produce time (E: clock_timestamp() in the value;"
   . " Q: ev_time), all server side";
e_create('t1', $GP);
q_create('latq2');
$dbh->do("SELECT pgq.register_consumer('latq2', 'lat2')");
my $PAD = 'x' x 60;    # values of ~100 bytes

sub lat2_consumer {
    my ($sys, $n, $file, $ready_w) = @_;
    my $d = db();
    open my $out, '>', $file or die "$file: $!\n";
    my $got = 0;
    my $deadline = time + 30 + $n / $RATE;
    if ($sys eq 'E') {
        # join the group (and create its offsets at the start) before the producer starts
        $d->do(q{SELECT count(*) FROM eventlog.poll('lat', 't1', 100)});
        my $sth = $d->prepare(q{SELECT (value->>'i')::int,
                                       (extract(epoch from clock_timestamp()) - (value->>'ts')::numeric) * 1000,
                                       extract(epoch from clock_timestamp())
                                  FROM eventlog.poll('lat', 't1', 100, wait => '1 s')});
        syswrite $ready_w, "r";
        while ($got < $n && time < $deadline) {
            $sth->execute;
            my $rows = $sth->fetchall_arrayref;
            for (@$rows) { print $out "@$_\n"; $got++ }
        }
    } else {
        my $nb = $d->prepare(q{SELECT pgq.next_batch('latq2', 'lat2')});
        my $ev = $d->prepare(q{SELECT (ev_data::jsonb->>'i')::int,
                                      extract(epoch from clock_timestamp() - ev_time) * 1000,
                                      extract(epoch from clock_timestamp())
                                 FROM pgq.get_batch_events(?)});
        my $fb = $d->prepare(q{SELECT pgq.finish_batch(?)});
        syswrite $ready_w, "r";
        while ($got < $n && time < $deadline) {
            $d->begin_work;
            $nb->execute;
            my ($bid) = $nb->fetchrow_array;
            $nb->finish;
            if (!defined $bid) { $d->commit; sleep 0.01; next }
            $ev->execute($bid);
            my $rows = $ev->fetchall_arrayref;
            for (@$rows) { print $out "@$_\n"; $got++ }
            $fb->execute($bid);
            $fb->finish;
            $d->commit;
        }
    }
    close $out;
    $d->disconnect;
    die "timed out after $got of $n records\n" if $got < $n;
}

# PgQ has no pgqd here: this process calls pgq.ticker() every second until
# the parent closes $stop_r's pipe.
sub lat2_ticker {
    my ($stop_r) = @_;
    my $d = db();
    my $sth = $d->prepare(q{SELECT pgq.ticker('latq2')});
    my $next = time;
    for (;;) {
        $sth->execute;
        $sth->finish;
        $next += 1.0;
        my $left = $next - time;
        next if $left <= 0;
        my $rin = '';
        vec($rin, fileno($stop_r), 1) = 1;
        last if select(my $rout = $rin, undef, undef, $left) > 0;    # EOF: stop
    }
    $d->disconnect;
}

sub lat2_run {
    my ($sys) = @_;
    my $dir = "$C{WORK}/lat2_$sys";
    mkdir $dir or die "mkdir $dir: $!\n";
    checkpoint();
    pipe(my $ready_r, my $ready_w) or die "pipe: $!\n";
    my $cpid = fork // die "fork: $!\n";
    if (!$cpid) {
        close $ready_r;
        my $ok = eval { lat2_consumer($sys, $LN, "$dir/recv", $ready_w); 1 };
        print STDERR "latency consumer $sys: $@" unless $ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    close $ready_w;
    sysread($ready_r, my $buf, 1) or do { waitpid($cpid, 0); die "latency consumer $sys did not start\n" };
    my ($tpid, $stop_w);
    if ($sys eq 'Q') {
        pipe(my $stop_r, $stop_w) or die "pipe: $!\n";
        $tpid = fork // die "fork: $!\n";
        if (!$tpid) {
            close $stop_w;
            my $ok = eval { lat2_ticker($stop_r); 1 };
            print STDERR "ticker: $@" unless $ok;
            POSIX::_exit($ok ? 0 : 1);
        }
        close $stop_r;
    }
    sleep 0.2;    # let the consumer block in its first wait
    # producer: one record per transaction, due times on a wall-clock grid
    my $d = db();
    my $sth = $sys eq 'E'
      ? $d->prepare(q{SELECT "offset" FROM eventlog.produce('t1',
                        jsonb_build_object('i', ?::int, 'ts', extract(epoch from clock_timestamp()), 'pad', ?::text))})
      : $d->prepare(q{SELECT pgq.insert_event('latq2', 'lat',
                        json_build_object('i', ?::int, 'ts', extract(epoch from clock_timestamp()), 'pad', ?::text)::text)});
    my %commit;
    my ($late, $t0) = (0, time + 0.01);
    for my $i (0 .. $LN - 1) {
        my $due = $t0 + $i / $RATE;
        my $left = $due - time;
        if ($left > 0) { sleep $left } elsif ($left < -0.001) { $late++ }
        $sth->execute($i, $PAD);
        $sth->finish;
        $commit{$i} = time;    # COMMIT has returned
    }
    my $prod_dt = time - $t0;
    $d->disconnect;
    waitpid($cpid, 0);
    my $crc = $?;
    if ($tpid) { close $stop_w; waitpid($tpid, 0) }
    die "latency consumer $sys failed\n" if $crc;

    my (@lat, @clat, %seen);
    open my $fh, '<', "$dir/recv" or die "$dir/recv: $!\n";
    while (<$fh>) {
        my ($i, $ms, $recv) = split;
        $seen{$i}++;
        push @lat, $ms;
        push @clat, ($recv - $commit{$i}) * 1000 if exists $commit{$i};
    }
    close $fh;
    my $dups = grep { $_ > 1 } values %seen;
    push @group_warn, "latency $sys: received " . scalar(keys %seen) . " distinct of $LN records" if keys %seen != $LN;
    push @group_warn, "latency $sys: $dups records delivered more than once" if $dups;
    note sprintf "%s: %d records in %.2f s (%.0f/s, %d sent > 1 ms late); produce-to-consume p50 %.2f p99 %.2f max %.2f ms;"
      . " commit-to-consume p50 %.2f p99 %.2f ms", $sys, scalar(@lat), $prod_dt, $LN / $prod_dt, $late,
      pct(50, @lat), pct(99, @lat), pct(100, @lat), pct(50, @clat), pct(99, @clat);
    add('lat2_50', $sys, pct(50, @lat));
    add('lat2_99', $sys, pct(99, @lat));
}
lat2_run('E');
lat2_run('Q');
note "WARNING: $_" for grep { /^latency/ } @group_warn;

# ---------------------------------------------------------------------------
# report
my @rows = (
    # key, label, unit fmt, higher-is-better, goal (ratio E/O), goal text
    ['bulk',  "1. bulk INSERT..SELECT generate_series (rows/s)", '%.0f', 1, sub { $_[0] >= 2 }, 'E/O >= 2'],
    ['bulksrc', "1b. bulk INSERT..SELECT from jsonb table (rows/s)", '%.0f', 1, sub { $_[0] >= 2 }, 'E/O >= 2'],
    ['copy',  "1c. bulk COPY FROM file (rows/s)",         '%.0f', 1, undef,                 ''],
    ['row',   "2. produce() per row in 1 stmt (rows/s)",  '%.0f', 1, undef,                 ''],
    ['tps',   "3. 1-record xacts, $C{CLIENTS} clients (tps)", '%.0f', 1, sub { $_[0] >= 1 }, 'E/O >= 1'],
    ['tps1',  "3b. same, E topic with 1 partition (tps)", '%.0f', 1, undef,                 ''],
    ['fetch', "4. fetch all, batches of 1000 (rows/s)",   '%.0f', 1, sub { $_[0] >= 1.5 }, 'E/O >= 1.5'],
    ['fetch4', "4b. same, E reads the outbox's 4 columns",  '%.0f', 1, undef,                 ''],
    ['fetchsrv', "4c. same batches server side, not sent",  '%.0f', 1, undef,                 ''],
    ['wal',   "5a. WAL bytes/record (bulk INSERT..SELECT)",              '%.1f', 0, sub { $_[0] <= 0.6 }, 'E/O <= 0.6'],
    ['disk',  "5b. disk bytes/record (bulk)",             '%.1f', 0, sub { $_[0] <= 0.7 }, 'E/O <= 0.7'],
    ['walcopy', "5c. WAL bytes/record (COPY)",            '%.1f', 0, undef,                 ''],
    ['lat50', "6a. commit-to-fetch latency p50 (ms)",     '%.2f', 0, undef,                 ''],
    ['lat99', "6b. commit-to-fetch latency p99 (ms)",     '%.2f', 0, 'abs',                 'E <= 5 ms'],
    ['membulk', "7a. backend memory growth, bulk INSERT (MB)", '%.0f', 0, undef,                 ''],
    ['memrow', "7b. backend memory growth, per-row stmt (MB)", '%.0f', 0, undef,             ''],
    ['grp1',  "8a. group consume, 1 member (records/s)",   '%.0f', 1, sub { $_[0] >= 2 }, 'E/Q >= 2', 'Q'],
    ['grp2',  "8b. group consume, 2 members (records/s)",  '%.0f', 1, undef,                 ''],
    ['grp4',  "8c. group consume, 4 members (records/s)",  '%.0f', 1, undef,                 ''],
    ['lat2_50', "9a. produce-to-consume p50 @ $C{LAT2_RATE}/s (ms)", '%.2f', 0, undef,        ''],
    ['lat2_99', "9b. produce-to-consume p99 @ $C{LAT2_RATE}/s (ms)", '%.2f', 0, 'abs',        'p99 <= 5 ms'],
);
print "\n=== results (median of repetitions; ratio = E/O and E/Q)\n";
my $fmt = "%-50s | %12s | %12s | %12s | %7s | %7s | %-11s | %s\n";
printf $fmt, 'metric', 'eventlog', 'outbox', 'pgq', 'E/O', 'E/Q', 'goal', 'PASS/MISS';
print '-' x 136, "\n";
for my $r (@rows) {
    my ($k, $label, $f, $hib, $goal, $gtxt, $base) = @$r;
    my %m = map { $_ => median(@{ $R{$k}{$_} // [] }) } qw(E O Q);
    my $v = sub { defined $_[0] ? sprintf($f, $_[0]) : '-' };
    # no ratio of figures that print as 0 (memory growth below 1 MB)
    my $shown = sub { defined $_[0] && $v->($_[0]) + 0 != 0 };
    my $eo = ($shown->($m{E}) && $shown->($m{O})) ? $m{E} / $m{O} : undef;
    my $eq = ($shown->($m{E}) && $shown->($m{Q})) ? $m{E} / $m{Q} : undef;
    my $verdict = '';
    if (ref $goal eq 'CODE') {
        my $ratio = ($base // 'O') eq 'Q' ? $eq : $eo;
        $verdict = defined $ratio ? ($goal->($ratio) ? 'PASS' : 'MISS') : '-';
    }
    elsif (defined $goal && $goal eq 'abs') { $verdict = defined $m{E} ? ($m{E} <= 5 ? 'PASS' : 'MISS') : '-' }
    printf $fmt, $label, $v->($m{E}), $v->($m{O}), $v->($m{Q}),
      defined $eo ? sprintf('%.2f', $eo) : '-', defined $eq ? sprintf('%.2f', $eq) : '-', $gtxt, $verdict;
}
print '-' x 136, "\n";
printf "notes: generating the rows of row 1 alone (format() + md5 + jsonb parse) runs at %.0f rows/s;\n"
     . "       it is part of every row-1 timing, which caps the E/O ratio there. Row 1b reads the same\n"
     . "       rows from an UNLOGGED jsonb table, row 1c from a COPY file (server side).\n", median(@{ $R{gen}{E} });
print "       O row 2 = SELECT outbox_put(key, value) FROM generate_series, outbox_put a LANGUAGE sql\n",
      "       function doing one INSERT ... RETURNING id per call; Q rows 1/2 = pgq.insert_event per row\n",
      "       (ev_type = key, ev_data = JSON text). O latency = LISTEN/NOTIFY-driven keyset polling\n",
      "       (producer: INSERT + NOTIFY + COMMIT); Q latency = ticker + next_batch every $C{PGQ_TICK_MS} ms\n",
      "       (ticker_max_count 1, ticker_max_lag 0), so it is bounded by the tick period, not the commit.\n",
      "       Q fetch = next_batch + get_batch_cursor(.., 1000) + FETCH 1000 loop + finish_batch.\n",
      "       Row 4: E SELECT * FROM fetch() (6 columns), O keyset SELECT id, key, value, created_at\n",
      "       ... WHERE id > \$last ORDER BY id LIMIT 1000; both read by DBD::Pg (text format). Row 4b: E\n",
      "       selects \"offset\", key, value, ts. Row 4c: the same batches inside one statement,\n",
      "       count(value) only: no jsonb-to-text conversion and no client, i.e. the storage's share.\n",
      "       Rows 7a/7b: growth of the statement's backend RssAnon (peak - before), sampled every 5 ms.\n",
      "       Rows 8: topic/queue pre-filled with $C{N3} records (4 partitions); E = M forked consumers in one\n",
      "       group, each looping BEGIN; SELECT count(*) FROM eventlog.poll(g, 't', 1000); COMMIT; until the\n",
      "       group's lag is 0 (rate = records / wall time to the last consuming COMMIT; counted server side).\n",
      "       Q = 1 consumer: next_batch + get_batch_events (rows to the client) + finish_batch per transaction,\n",
      "       batches of 1000 (one tick per 1000 inserted). Q has no 2/4-consumer figures: parallel consumers\n",
      "       of one queue need pgq_coop, which pgq 3.5 / Debian do not ship.\n",
      "       Rows 9: one record per transaction on a $C{LAT2_RATE}/s wall-clock grid for $C{LAT2_SECS} s; E = 1 group member\n",
      "       polling (max 100, wait 1 s, autocommit) a 4-partition topic; Q = ticker every 1 s (defaults:\n",
      "       ticker_max_count 500, ticker_max_lag 3 s) + next_batch loop sleeping 10 ms when idle.\n",
      "       Goals are informational; this script exits 0 whatever the numbers.\n";
print "WARNING: $_\n" for @group_warn;
print "load average at end: ", loadavg(), " (other work on this machine skews the numbers)\n";
$dbh->disconnect;
