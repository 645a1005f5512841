
# pg_eventlog: randomized round trip of hostile records.
#
# Random keys (NULL, empty, long, every UTF-8 width, quotes, backslashes,
# control characters), values (deep and wide JSON, long strings, numbers at
# the edges of double and numeric, escapes, over-size records, nesting
# deeper than the parser allows) and headers (objects of strings, and
# invalid ones) are produced through produce(), INSERT and COPY, each in a
# subtransaction (and the accepted ones again through COPY FROM into a
# second topic).  Every record is either refused with a clean error (an
# SQLSTATE outside class XX, nothing appended: the log end offset does not
# move) or fetched back identical: key byte for byte, value and headers
# equal to what jsonb makes of the input, at the offset the produce
# returned; nothing else is in the topic; and the same holds after a
# restart.  The seed is printed (set EVENTLOG_SEED to repeat a run).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seed = $ENV{EVENTLOG_SEED} // time();
srand($seed);
diag("seed $seed");
my $nrecords = 600;

my $node = PostgreSQL::Test::Cluster->new('roundtrip');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_eventlog'\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_eventlog;
SELECT eventlog.create_topic('rt', partitions => 3);
CREATE TABLE staging (id int PRIMARY KEY, path text, key text, value text, headers text,
                      part int, produced_partition int, produced_offset bigint, state text, msg text);
});

my @chars = ('a' .. 'z', 'A' .. 'Z', 0 .. 9, ' ', '"', "'", '\\', '$', "\t", "\n", "\r",
	"\x{e9}", "\x{df}", "\x{20ac}", "\x{4e2d}", "\x{1f600}", "\x{10ffff}", "\x{7f}", "\x{1}",
	'{', '}', '[', ']', ',', ':', '/');

sub rstr
{
	my ($max) = @_;
	my $len = int(rand() ** 3 * $max);
	return join('', map { $chars[ int(rand(@chars)) ] } 1 .. $len);
}

sub jstr
{
	my ($s) = @_;
	my %esc = ('"' => '\\"', '\\' => '\\\\', "\n" => '\\n', "\t" => '\\t', "\r" => '\\r');
	$s =~ s/(["\\\n\t\r])/$esc{$1}/g;
	$s =~ s/([\x00-\x1f\x7f])/sprintf('\\u%04x', ord($1))/ge;
	return '"' . $s . '"';
}

my @numbers = qw(0 -0 1 -1 0.1 1e308 -1e308 1.7976931348623157e308 5e-324 1e-308
  9223372036854775807 -9223372036854775808 18446744073709551616
  123456789012345678901234567890.123456789 1e1000 -1e-1000 0.000000000000000000001
  3.141592653589793238462643383279 1E+2 1e0 -0.0);

sub rjson
{
	my ($depth) = @_;
	my $r = rand();
	if ($depth > 0 && $r < 0.25)
	{
		return '[' . join(', ', map { rjson($depth - 1) } 1 .. int(rand(6))) . ']';
	}
	if ($depth > 0 && $r < 0.5)
	{
		return '{' . join(', ', map { jstr(rstr(20)) . ': ' . rjson($depth - 1) } 1 .. int(rand(6))) . '}';
	}
	return $numbers[ int(rand(@numbers)) ] if $r < 0.65;
	return (qw(true false null))[ int(rand(3)) ] if $r < 0.72;
	return jstr(rstr(rand() < 0.05 ? 20000 : 60)) if $r < 0.97;
	return '"\\u0000"' if $r < 0.98;    # jsonb refuses
	return '"\\ud83d\\ude00"';         # a surrogate pair
}

sub rvalue
{
	my $r = rand();
	return undef if $r < 0.05;
	return '[' x 10000 . ']' x 10000 if $r < 0.07;             # deeper than allowed
	return '[' x 500 . '1' . ']' x 500 if $r < 0.10;           # deep
	return jstr('x' x (900_000 + int(rand(300_000)))) if $r < 0.13;   # near the 1 MB limit
	return '{"blob": ' . jstr(rstr(200_000)) . '}' if $r < 0.16;      # TOASTed
	return 'not json' if $r < 0.17;
	return rjson(1 + int(rand(6)));
}

sub rheaders
{
	my $r = rand();
	return undef if $r < 0.4;
	return '{}' if $r < 0.5;
	return '[1, 2]' if $r < 0.53;
	return '{"n": 1}' if $r < 0.56;
	return '"s"' if $r < 0.58;
	return '{' . join(', ', map { jstr(rstr(30)) . ': ' . jstr(rstr(100)) } 1 .. 1 + int(rand(5))) . '}';
}

sub rkey
{
	my $r = rand();
	return undef if $r < 0.2;
	return '' if $r < 0.25;
	return rstr(rand() < 0.1 ? 5000 : 40);
}

sub lit
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	my $tag = 'q' . int(rand(1e9));
	$tag .= 'x' while index($s, "\$$tag\$") >= 0;
	return "\$$tag\$$s\$$tag\$";
}

# stage the records (text only: jsonb casts happen in the subtransaction)
my @paths = qw(produce produce produce insert copy);
for my $chunk (0 .. $nrecords / 50 - 1)
{
	my @rows;
	for my $i ($chunk * 50 + 1 .. $chunk * 50 + 50)
	{
		my ($k, $v, $h) = (rkey(), rvalue(), rheaders());
		$v = '{}' if !defined $v && !defined $k && rand() < 0.5;
		my $part = rand() < 0.3 ? int(rand(3)) : 'NULL';
		push @rows, sprintf('(%d, %s, %s, %s, %s, %s)', $i,
			lit($paths[ int(rand(@paths)) ]), lit($k), lit($v), lit($h), $part);
	}
	my $sql = 'INSERT INTO staging (id, path, key, value, headers, part) VALUES '
	  . join(",\n", @rows);
	utf8::encode($sql);
	$node->safe_psql('postgres', $sql);
}

# produce each record in a subtransaction; the log end must not move on a refusal
$node->safe_psql('postgres', q{
DO $$
DECLARE
    s record;
    ends_before bigint;
    ends_after bigint;
    p int;
    o bigint;
    st text;
    m text;
BEGIN
    FOR s IN SELECT * FROM staging ORDER BY id LOOP
        SELECT sum(log_end_offset) INTO ends_before FROM eventlog.partitions WHERE topic = 'rt';
        p := NULL; o := NULL; st := 'ok'; m := NULL;
        BEGIN
            IF s.path = 'produce' THEN
                SELECT r."partition", r."offset" INTO p, o
                  FROM eventlog.produce('rt', s.value::jsonb, s.key, s.headers::jsonb, s.part) r;
            ELSIF s.path = 'insert' THEN
                INSERT INTO eventlog_topics.rt ("partition", key, value, headers)
                VALUES (s.part, s.key, s.value::jsonb, s.headers::jsonb)
                RETURNING "partition", "offset" INTO p, o;
            ELSE
                -- COPY from a query is not possible in PL/pgSQL: a
                -- two-row INSERT ... SELECT takes the batch path COPY uses
                INSERT INTO eventlog_topics.rt ("partition", key, value, headers)
                SELECT s.part, s.key, s.value::jsonb, s.headers::jsonb
                  FROM generate_series(1, 1)
                RETURNING "partition", "offset" INTO p, o;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
            SELECT sum(log_end_offset) INTO ends_after FROM eventlog.partitions WHERE topic = 'rt';
            IF ends_after <> ends_before THEN
                st := 'MOVED';
            END IF;
        END;
        UPDATE staging SET produced_partition = p, produced_offset = o, state = st, msg = m
         WHERE id = s.id;
    END LOOP;
END $$;
});

my $summary = $node->safe_psql('postgres',
	q{SELECT string_agg(format('%s:%s', state, n), ' ' ORDER BY state) FROM
	  (SELECT state, count(*) n FROM staging GROUP BY state) x});
diag("outcomes: $summary");
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM staging WHERE state LIKE 'XX%' OR state = 'MOVED' OR state IS NULL}),
	'0', 'every refusal is a clean error and appends nothing');
is($node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT state, ' ') FROM staging
		   WHERE state <> 'ok' AND state NOT SIMILAR TO '(22|23|54)%'}),
	'', 'refusals are data or limit errors');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM staging WHERE state = 'ok'}),
	'>', $nrecords / 3, 'most records are accepted');

my $compare = q{
WITH got AS (
    SELECT f.* FROM generate_series(0, 2) p,
           LATERAL eventlog.fetch('rt', p, 0, 100000) f)
SELECT count(*) FILTER (WHERE s.id IS NULL) AS extra,
       count(*) FILTER (WHERE g."offset" IS NULL) AS missing,
       count(*) FILTER (WHERE g."offset" IS NOT NULL AND s.id IS NOT NULL AND NOT (
            g.key IS NOT DISTINCT FROM s.key
        AND convert_to(g.key, 'UTF8') IS NOT DISTINCT FROM convert_to(s.key, 'UTF8')
        AND g.value::text IS NOT DISTINCT FROM s.value::jsonb::text
        AND g.headers::text IS NOT DISTINCT FROM s.headers::jsonb::text
        AND (s.part IS NULL OR g."partition" = s.part))) AS different
  FROM got g
  FULL JOIN (SELECT * FROM staging WHERE state = 'ok') s
    ON s.produced_partition = g."partition" AND s.produced_offset = g."offset"};
is($node->safe_psql('postgres', $compare), '0|0|0',
	'every accepted record is fetched back identical at its offset, and nothing else');
is($node->safe_psql('postgres', q{
	SELECT count(*) = (SELECT count(*) FROM staging WHERE state = 'ok')
	  FROM eventlog_topics.rt}), 't', 'a scan of the topic sees the same records');

# COPY: the accepted records, written out by COPY TO and loaded into a
# second topic with COPY FROM, come back the same (as a multiset: routing
# of keyless records differs)
my $file = PostgreSQL::Test::Utils::tempdir() . '/records.copy';
$node->safe_psql('postgres', qq{
SELECT eventlog.create_topic('rt_copy', partitions => 3);
COPY (SELECT key, value::jsonb, headers::jsonb FROM staging WHERE state = 'ok' AND part IS NULL ORDER BY id)
  TO '$file';
COPY eventlog_topics.rt_copy (key, value, headers) FROM '$file';
});
my $digest = q{SELECT count(*), md5(string_agg(h, ',' ORDER BY h)) FROM
  (SELECT md5(coalesce(key, '<null>')) || md5(coalesce(value::text, '<null>'))
          || md5(coalesce(headers::text, '<null>')) AS h FROM %s) d};
is($node->safe_psql('postgres', sprintf($digest, 'eventlog_topics.rt_copy')),
	$node->safe_psql('postgres', sprintf($digest, q{(SELECT key, value::jsonb, headers::jsonb FROM staging WHERE state = 'ok' AND part IS NULL) s})),
	'COPY FROM of the accepted records reads back the same records');

$node->restart;
is($node->safe_psql('postgres', $compare), '0|0|0', 'the same after a restart');

$node->stop;
done_testing();
