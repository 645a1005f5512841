# Helpers shared by pg_eventlog's TAP tests.
package EventlogTest;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(fetch_partition);

# Every record of one partition as fetch() returns it, read in chunks of
# $batch records (chunk ends fall in the middle of pages), as text lines
# "partition|offset|ts|key|value|headers".
sub fetch_partition
{
	my ($node, $topic, $p, $batch) = @_;
	my ($rows, $from) = ('', 0);
	for (;;)
	{
		my $chunk = $node->safe_psql('postgres',
			"SELECT partition, \"offset\", ts, key, value, headers"
			  . " FROM eventlog.fetch('$topic', $p, $from, $batch)");
		last if $chunk eq '';
		$rows .= "$chunk\n";
		my @l = split /\n/, $chunk;
		my (undef, $last) = split /\|/, $l[-1];
		$from = $last + 1;
	}
	return $rows;
}

1;
