/*
 * kcbatch.h: RecordBatch v2 (magic 2), the only record format served, with
 * CRC-32C and compression.
 */
#ifndef EVENTLOG_KAFKA_KCBATCH_H
#define EVENTLOG_KAFKA_KCBATCH_H

#include "eventlog/kafka/kctypes.h"

#define KC_BATCH_HEADER 61		/* bytes before the first record */
#define KC_BATCH_OVERHEAD 12	/* baseOffset + batchLength */

/* attributes */
#define KC_ATTR_CODEC_MASK 0x07
#define KC_ATTR_LOG_APPEND_TIME 0x08
#define KC_ATTR_TRANSACTIONAL 0x10
#define KC_ATTR_CONTROL 0x20
#define KC_ATTR_DELETE_HORIZON 0x40
#define KC_ATTR_DEFINED 0x7F

typedef enum kc_codec
{
	KC_CODEC_NONE = 0,
	KC_CODEC_GZIP = 1,
	KC_CODEC_SNAPPY = 2,
	KC_CODEC_LZ4 = 3,
	KC_CODEC_ZSTD = 4
} kc_codec;

typedef struct kc_record_header
{
	kc_bytes	key;			/* never null */
	kc_bytes	value;			/* may be null */
} kc_record_header;

typedef struct kc_record
{
	int8_t		attributes;		/* unused: 0 */
	int64_t		timestamp_delta;
	int32_t		offset_delta;
	kc_bytes	key;			/* len -1: null */
	kc_bytes	value;			/* len -1: null (a tombstone) */
	int32_t		nheaders;
	kc_record_header *headers;
} kc_record;

typedef struct kc_batch
{
	int64_t		base_offset;
	int32_t		partition_leader_epoch;
	int16_t		attributes;
	int32_t		last_offset_delta;
	int64_t		base_timestamp;
	int64_t		max_timestamp;
	int64_t		producer_id;
	int16_t		producer_epoch;
	int32_t		base_sequence;
	int32_t		nrecords;
	kc_record  *records;
	uint32_t	crc;			/* as read (decode) or written (encode) */
} kc_batch;

typedef struct kc_batch_limits
{
	int32_t		max_records;	/* records in one batch */
	int32_t		max_batch_bytes;	/* batchLength + 12, as stored */
	int32_t		max_uncompressed;	/* records section after decompression */
	int32_t		max_headers;	/* headers of one record */
	int			strict_offsets; /* produce: offset deltas 0..n-1, n > 0 */
} kc_batch_limits;

extern const kc_batch_limits kc_default_batch_limits;

/* kccrc32c.c */
extern uint32_t kc_crc32c(uint32_t crc, const void *data, size_t len);

/*
 * Decode the batch at the start of buf[0..len): *consumed is its size
 * (batchLength + 12).  KC_ERR_TRUNCATED when buf holds only part of it (a
 * fetch response may end so); every other error is a malformed batch.
 */
extern kc_err kc_batch_decode(const uint8_t *buf, size_t len, kc_arena *a,
							  const kc_batch_limits *lim, kc_batch *batch,
							  size_t *consumed);

/*
 * Decode every batch of a records field into an arena array; at most
 * max_batches (Produce v3+ allows exactly one per partition).
 */
extern kc_err kc_batches_decode(const uint8_t *buf, size_t len, kc_arena *a,
								const kc_batch_limits *lim, int32_t max_batches,
								kc_batch **batches, int32_t *nbatches);

/*
 * Encode a batch, compressing its records with the codec in its
 * attributes; the lengths and the CRC are computed here.
 */
extern kc_err kc_batch_encode(kc_arena *a, kc_batch *batch, uint8_t **out,
							  size_t *len);

/* kccompress.c: one codec each way, output bounded by max_out. */
extern kc_err kc_decompress(kc_codec codec, const uint8_t *in, size_t inlen,
							size_t max_out, kc_arena *a, uint8_t **out,
							size_t *outlen);
extern kc_err kc_compress(kc_codec codec, const uint8_t *in, size_t inlen,
						  kc_arena *a, uint8_t **out, size_t *outlen);

#endif							/* EVENTLOG_KAFKA_KCBATCH_H */
