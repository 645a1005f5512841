#!/usr/bin/perl
# pg_eventlog benchmark: WAL bytes per record, eventlog (E) vs the heap
# outbox table (O), for the wal_level the server runs with.  Started by
# test/bench/run.sh once per wal_level (replica, then logical after a
# restart), which then calls it with "report" to print both side by side.
#
#   perl walbytes.pl measure FILE     append "wal_level metric system bytes" lines
#   perl walbytes.pl report FILE      print the table
#
# WAL bytes are pg_current_wal_insert_lsn() differences around one statement (or,
# for the single-record transactions, around the whole loop, commit records
# included), divided by the records written.  A VACUUM and a CHECKPOINT
# come before each step, so the first change of each existing page pays a full-page image
# (eventlog's new pages never do: NEW_PAGE is a page-init record).  The
# figures are exact and repeatable, unlike the timings of bench.pl.
use strict;
use warnings;
use DBI;
use DBD::Pg;

$| = 1;

my @ROWS = (
    ['bulk',  "INSERT..SELECT, one statement (B/record)"],
    ['row',   "produce() per row, one statement (B/record)"],
    ['xact',  "1-record transactions (B/record, incl. commit)"],
);

my ($mode, $file) = @ARGV;
die "usage: walbytes.pl measure|report FILE\n" unless $mode && $file;

if ($mode eq 'report') {
    my %R;
    my @levels;
    open my $fh, '<', $file or die "$file: $!\n";
    while (<$fh>) {
        my ($lvl, $m, $s, $v) = split;
        push @levels, $lvl unless grep { $_ eq $lvl } @levels;
        $R{$m}{$lvl}{$s} = $v;
    }
    close $fh;
    print "\n=== 10. WAL bytes per record by wal_level (E = eventlog, O = heap outbox; exact, not timed)\n";
    my $fmt = "%-48s" . (" | %9s %9s %5s" x @levels) . "\n";
    printf $fmt, 'metric', map { ("E $_", "O $_", 'E/O') } @levels;
    print '-' x (48 + 28 * @levels), "\n";
    for my $r (@ROWS) {
        my ($k, $label) = @$r;
        printf $fmt, $label, map {
            my ($e, $o) = ($R{$k}{$_}{E}, $R{$k}{$_}{O});
            (defined $e ? sprintf('%.1f', $e) : '-', defined $o ? sprintf('%.1f', $o) : '-',
             (defined $e && defined $o && $o > 0) ? sprintf('%.2f', $e / $o) : '-')
        } @levels;
    }
    print '-' x (48 + 28 * @levels), "\n";
    if (@levels == 2) {
        my ($a, $b) = @levels;
        for my $r (@ROWS) {
            my ($k, $label) = @$r;
            my ($ea, $eb) = ($R{$k}{$a}{E}, $R{$k}{$b}{E});
            next unless defined $ea && defined $eb && $ea > 0;
            printf "  E %-6s %s -> %s: %+.1f%%\n", $k, $a, $b, 100 * ($eb / $ea - 1);
        }
    }
    exit 0;
}
die "unknown mode $mode\n" unless $mode eq 'measure';

my %C = map { $_ => $ENV{"BENCH_$_"} } qw(HOST PORT DB PARTITIONS WAL_N WAL_N2 WAL_XACTS);
for (keys %C) { die "BENCH_$_ not set (run test/bench/run.sh)\n" unless defined $C{$_} }
my $dbh = DBI->connect("dbi:Pg:dbname=$C{DB};host=$C{HOST};port=$C{PORT}", 'postgres', '',
    { RaiseError => 1, PrintError => 0, AutoCommit => 1, pg_server_prepare => 1 })
  or die "connect: $DBI::errstr\n";
$dbh->do("SET client_min_messages = warning");
sub one { my ($sql, @a) = @_; my @r = $dbh->selectrow_array($sql, undef, @a); return $r[0] }

my $level = one("SHOW wal_level");
# pg_walinspect, if installed: name the records that are neither the
# system's own nor commits (pruning, standby snapshots...)
my $walinspect = one("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_walinspect'");
$dbh->do("CREATE EXTENSION IF NOT EXISTS pg_walinspect") if $walinspect;
my $KEY = q{'key-' || lpad((i % 100000)::text, 12, '0')};
my $VAL = q{format('{"id": %s, "user": "user-%s", "amount": %s, "note": "%s"}', i, i % 1000, i % 10000, md5(i::text))};
my ($N, $N2, $NX, $P) = @C{qw(WAL_N WAL_N2 WAL_XACTS PARTITIONS)};

open my $out, '>>', $file or die "$file: $!\n";
sub put {
    my ($m, $s, $bytes, $n) = @_;
    printf $out "%s %s %s %.3f\n", $level, $m, $s, $bytes / $n;
    printf "  wal_level %-7s %-5s %s: %10d WAL bytes / %7d records = %7.1f B/record\n",
      $level, $m, $s, $bytes, $n, $bytes / $n;
}
# WAL bytes written by $code, after a VACUUM (so that no opportunistic
# pruning of catalog pages, with its full-page images, lands in the
# measurement: it depends on the history of the database, not on the
# records measured) and a CHECKPOINT.  Positions are insert positions:
# pg_current_wal_lsn() is the write position, which lags behind with
# synchronous_commit = off.
sub wal_of {
    my ($code) = @_;
    $dbh->do("VACUUM");
    $dbh->do("CHECKPOINT");
    my $l0 = one("SELECT pg_current_wal_insert_lsn()");
    $code->();
    my $l1 = one("SELECT pg_current_wal_insert_lsn()");
    if ($walinspect) {
        # what else than the system's records and commits went into it
        # pg_walinspect reads flushed WAL only: a WAL switch flushes
        $dbh->do("SELECT pg_switch_wal()");
        my $other = $dbh->selectall_arrayref(q{
            SELECT "resource_manager/record_type", count, combined_size
              FROM pg_get_wal_stats(?::pg_lsn, ?::pg_lsn, true)
             WHERE count > 0
               AND ("resource_manager/record_type" !~ '^(pg_eventlog|Heap|Heap2|Btree|Sequence)/'
                    AND "resource_manager/record_type" <> 'Transaction/COMMIT'
                    OR "resource_manager/record_type" ~ '^Heap2?/(PRUNE|VACUUM|VISIBLE|FREEZE)')}, undef, $l0, $l1);
        note_other(@$other) if @$other;
    }
    return one("SELECT pg_wal_lsn_diff(?::pg_lsn, ?::pg_lsn)", $l1, $l0);
}
sub note_other { print "    (of which other records: ", join(', ', map { "$_->[0] x$_->[1] $_->[2] B" } @_), ")\n" }
sub e_create {
    my ($t) = @_;
    $dbh->do("SELECT eventlog.drop_topic(?, true)", undef, $t);
    $dbh->do("SELECT eventlog.create_topic(?, ?)", undef, $t, $P);
}
sub o_create {
    my ($t) = @_;
    $dbh->do("DROP TABLE IF EXISTS $t");
    $dbh->do("CREATE TABLE $t (id bigserial PRIMARY KEY, key text, value jsonb,
                               created_at timestamptz DEFAULT now())");
}

print "=== WAL bytes per record, wal_level = $level (N = $N, per-row N = $N2, transactions = $NX)\n";
my $GEN = "FROM generate_series(1, $N) i";

e_create('walb');
put('bulk', 'E', wal_of(sub {
    $dbh->do("INSERT INTO eventlog_topics.walb (key, value) SELECT $KEY, ($VAL)::jsonb $GEN") }), $N);
o_create('walb_o');
put('bulk', 'O', wal_of(sub {
    $dbh->do("INSERT INTO walb_o (key, value) SELECT $KEY, ($VAL)::jsonb $GEN") }), $N);

e_create('walr');
put('row', 'E', wal_of(sub {
    $dbh->do("SELECT count(*) FROM (SELECT eventlog.produce('walr', ($VAL)::jsonb, $KEY)
                FROM generate_series(1, $N2) i) s") }), $N2);
o_create('walr_o');
$dbh->do("CREATE OR REPLACE FUNCTION walr_put(k text, v jsonb) RETURNS bigint
          LANGUAGE sql VOLATILE AS 'INSERT INTO walr_o (key, value) VALUES (k, v) RETURNING id'");
put('row', 'O', wal_of(sub {
    $dbh->do("SELECT count(walr_put($KEY, ($VAL)::jsonb)) FROM generate_series(1, $N2) i") }), $N2);

# one record per transaction; the commit's flush is not what is measured here
$dbh->do("SET synchronous_commit = off");
e_create('walx');
my $pe = $dbh->prepare("SELECT p.\"offset\" FROM (SELECT ?::int AS i) s,
                          LATERAL eventlog.produce('walx', ($VAL)::jsonb, $KEY) p");
put('xact', 'E', wal_of(sub { for my $i (1 .. $NX) { $pe->execute($i); $pe->finish } }), $NX);
o_create('walx_o');
my $po = $dbh->prepare("INSERT INTO walx_o (key, value) SELECT $KEY, ($VAL)::jsonb FROM (SELECT ?::int AS i) s");
put('xact', 'O', wal_of(sub { for my $i (1 .. $NX) { $po->execute($i) } }), $NX);
$dbh->do("RESET synchronous_commit");

$dbh->do("SELECT eventlog.drop_topic(?, true)", undef, $_) for qw(walb walr walx);
$dbh->do("DROP TABLE walb_o, walr_o, walx_o");
$dbh->do("DROP FUNCTION walr_put(text, jsonb)");
close $out;
$dbh->disconnect;
