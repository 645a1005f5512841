/*-------------------------------------------------------------------------
 *
 * murmur2.c
 *		Kafka-compatible key hashing and partition choice.
 *
 * A keyed record must land on the same partition here as it would if a
 * Kafka Java producer had sent it, so that consumers relying on per-key
 * ordering (and tools that compute a key's partition on their own) see
 * the same layout.  That means reproducing Kafka's Utils.murmur2() bit for
 * bit, quirks included: the fixed seed 0x9747b28c, a little-endian read of
 * each 4-byte block, Java's wrapping 32-bit int arithmetic, and the final
 * "& 0x7fffffff" (not abs()) before taking the modulus, which is what
 * Kafka's default partitioner (BuiltInPartitioner.partitionForKey) does.
 *
 * Java's byte is signed, but Kafka masks every byte with 0xff before using
 * it, in the 4-byte blocks and in the tail alike, so the hash is over
 * unsigned octets; reading through an unsigned char pointer gives the same
 * result without depending on the signedness of plain char.  All the
 * arithmetic is done in uint32 so that overflow wraps exactly like Java's
 * int and right shifts are logical, like Java's ">>>".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "eventlog/murmur2.h"

#define EL_MURMUR2_SEED		0x9747b28cU
#define EL_MURMUR2_M		0x5bd1e995U
#define EL_MURMUR2_R		24

PG_FUNCTION_INFO_V1(eventlog_murmur2);
PG_FUNCTION_INFO_V1(eventlog_key_partition);

int32
el_murmur2(const char *data, int len)
{
	const unsigned char *p = (const unsigned char *) data;
	int			nblocks = len / 4;
	int			tail = nblocks * 4;
	uint32		h;
	int			i;

	/* Kafka mixes the length in as a Java int, i.e. as 32 bits. */
	h = EL_MURMUR2_SEED ^ (uint32) len;

	for (i = 0; i < nblocks; i++)
	{
		const unsigned char *b = p + i * 4;
		uint32		k;

		/* Assemble explicitly: the block is little-endian on every host. */
		k = (uint32) b[0] |
			((uint32) b[1] << 8) |
			((uint32) b[2] << 16) |
			((uint32) b[3] << 24);

		k *= EL_MURMUR2_M;
		k ^= k >> EL_MURMUR2_R;
		k *= EL_MURMUR2_M;

		h *= EL_MURMUR2_M;
		h ^= k;
	}

	/* Fall-through is deliberate: it mirrors Kafka's switch on len % 4. */
	switch (len & 3)
	{
		case 3:
			h ^= (uint32) p[tail + 2] << 16;
			/* FALLTHROUGH */
		case 2:
			h ^= (uint32) p[tail + 1] << 8;
			/* FALLTHROUGH */
		case 1:
			h ^= (uint32) p[tail];
			h *= EL_MURMUR2_M;
	}

	h ^= h >> 13;
	h *= EL_MURMUR2_M;
	h ^= h >> 15;

	/* Same bits as Java's int result; the cast is two's complement. */
	return (int32) h;
}

int
el_partition_for_key(const char *key, int keylen, int nparts)
{
	Assert(nparts > 0);

	/*
	 * Kafka clears the sign bit (Utils.toPositive) rather than taking abs();
	 * the two give different values for negative hashes, so abs() would put
	 * many keys on a different partition than a Kafka producer does.
	 */
	return (int) (((uint32) el_murmur2(key, keylen) & 0x7fffffffU) %
				  (uint32) nparts);
}

/*
 * eventlog.murmur2(bytea) RETURNS int
 *
 * Exposed so that callers can check our hashing against any Kafka client's.
 */
Datum
eventlog_murmur2(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_INT32(el_murmur2(VARDATA_ANY(data),
							   (int) VARSIZE_ANY_EXHDR(data)));
}

/*
 * eventlog.key_partition(key text, partitions int) RETURNS int
 *
 * The key is hashed as its bytes in the database encoding; that matches
 * Kafka's StringSerializer (UTF-8) when the database is UTF-8.
 */
Datum
eventlog_key_partition(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	int32		nparts = PG_GETARG_INT32(1);

	if (nparts < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition count must be positive")));

	PG_RETURN_INT32(el_partition_for_key(VARDATA_ANY(key),
										 (int) VARSIZE_ANY_EXHDR(key),
										 nparts));
}
