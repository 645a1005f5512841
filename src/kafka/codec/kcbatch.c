/*
 * kcbatch.c: RecordBatch v2.
 *
 * Layout: baseOffset i64, batchLength i32 (bytes after it),
 * partitionLeaderEpoch i32, magic i8 = 2, crc u32 (CRC-32C of everything
 * after it), attributes i16, lastOffsetDelta i32, baseTimestamp i64,
 * maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32,
 * recordsCount i32, then the records (compressed as one block when the
 * attributes name a codec).  A record: length varint (of the rest),
 * attributes i8, timestampDelta varlong, offsetDelta varint, key (varint
 * length, -1 null), value (same), header count varint, headers (key:
 * varint length, never null; value: varint length, -1 null).
 *
 * Everything is checked: lengths against the batch and the limits, the CRC
 * before any record is looked at, undefined attribute bits, counts against
 * the bytes they need (a record takes at least 7 bytes), each record's
 * length against what its fields use, offset deltas, trailing bytes.
 */
#include <string.h>

#include "eventlog/kafka/kcbatch.h"

const kc_batch_limits kc_default_batch_limits = {
	.max_records = 1000000,
	.max_batch_bytes = 100 * 1024 * 1024,
	.max_uncompressed = 100 * 1024 * 1024,
	.max_headers = 10000,
	.strict_offsets = 1,
};

#define KC_MIN_RECORD 7			/* length, attributes, ts, offset, key, value, headers */

static kc_err
read_varbytes(kc_reader *r, int nullable, kc_bytes *b)
{
	int32_t		len;
	kc_err		e;

	if ((e = kc_read_varint(r, &len)) != KC_OK)
		return e;
	b->data = NULL;
	b->len = len;
	if (len == -1 && nullable)
		return KC_OK;
	if (len < 0)
		return KC_ERR_CORRUPT;
	if ((size_t) len > kc_reader_left(r))
		return KC_ERR_CORRUPT;
	return kc_read_raw(r, (size_t) len, &b->data);
}

static kc_err
decode_record(kc_reader *r, kc_arena *a, const kc_batch_limits *lim,
			  kc_record *rec)
{
	int32_t		len;
	kc_reader	body;
	const uint8_t *p;
	kc_err		e;

	if ((e = kc_read_varint(r, &len)) != KC_OK)
		return e == KC_ERR_TRUNCATED ? KC_ERR_CORRUPT : e;
	if (len < KC_MIN_RECORD - 1 || (size_t) len > kc_reader_left(r))
		return KC_ERR_CORRUPT;
	if ((e = kc_read_raw(r, (size_t) len, &p)) != KC_OK)
		return e;
	kc_reader_init(&body, p, (size_t) len);
	if ((e = kc_read_i8(&body, &rec->attributes)) != KC_OK ||
		(e = kc_read_varlong(&body, &rec->timestamp_delta)) != KC_OK ||
		(e = kc_read_varint(&body, &rec->offset_delta)) != KC_OK ||
		(e = read_varbytes(&body, 1, &rec->key)) != KC_OK ||
		(e = read_varbytes(&body, 1, &rec->value)) != KC_OK ||
		(e = kc_read_varint(&body, &rec->nheaders)) != KC_OK)
		return e == KC_ERR_TRUNCATED ? KC_ERR_CORRUPT : e;
	if (rec->attributes != 0)
		return KC_ERR_ATTRIBUTES;
	if (rec->nheaders < 0 || rec->nheaders > lim->max_headers ||
		(size_t) rec->nheaders > kc_reader_left(&body) / 2)
		return KC_ERR_CORRUPT;
	rec->headers = NULL;
	if (rec->nheaders > 0)
	{
		rec->headers = kc_alloc_array(a, (size_t) rec->nheaders, sizeof(kc_record_header));
		if (rec->headers == NULL)
			return KC_ERR_NOMEM;
	}
	for (int32_t h = 0; h < rec->nheaders; h++)
	{
		if ((e = read_varbytes(&body, 0, &rec->headers[h].key)) != KC_OK ||
			(e = read_varbytes(&body, 1, &rec->headers[h].value)) != KC_OK)
			return e == KC_ERR_TRUNCATED ? KC_ERR_CORRUPT : e;
	}
	if (kc_reader_left(&body) != 0)
		return KC_ERR_CORRUPT;
	return KC_OK;
}

kc_err
kc_batch_decode(const uint8_t *buf, size_t len, kc_arena *a,
				const kc_batch_limits *lim, kc_batch *b, size_t *consumed)
{
	kc_reader	r;
	int32_t		batch_length;
	int8_t		magic;
	uint32_t	crc;
	size_t		total;
	const uint8_t *recs;
	size_t		recslen;
	kc_err		e;

	if (lim == NULL)
		lim = &kc_default_batch_limits;
	memset(b, 0, sizeof(*b));
	*consumed = 0;
	if (len < KC_BATCH_OVERHEAD + 5)
		return KC_ERR_TRUNCATED;
	kc_reader_init(&r, buf, len);
	(void) kc_read_i64(&r, &b->base_offset);
	(void) kc_read_i32(&r, &batch_length);
	(void) kc_read_i32(&r, &b->partition_leader_epoch);
	(void) kc_read_i8(&r, &magic);
	if (magic != 2)
		return KC_ERR_MAGIC;
	if (batch_length < KC_BATCH_HEADER - KC_BATCH_OVERHEAD)
		return KC_ERR_CORRUPT;
	total = (size_t) batch_length + KC_BATCH_OVERHEAD;
	if (total > (size_t) lim->max_batch_bytes)
		return KC_ERR_TOO_LONG;
	if (len < total)
		return KC_ERR_TRUNCATED;
	kc_reader_init(&r, buf + 17, total - 17);
	(void) kc_read_u32(&r, &crc);
	b->crc = crc;
	if (kc_crc32c(0, buf + 21, total - 21) != crc)
		return KC_ERR_CRC;
	(void) kc_read_i16(&r, &b->attributes);
	(void) kc_read_i32(&r, &b->last_offset_delta);
	(void) kc_read_i64(&r, &b->base_timestamp);
	(void) kc_read_i64(&r, &b->max_timestamp);
	(void) kc_read_i64(&r, &b->producer_id);
	(void) kc_read_i16(&r, &b->producer_epoch);
	(void) kc_read_i32(&r, &b->base_sequence);
	(void) kc_read_i32(&r, &b->nrecords);

	if ((b->attributes & ~KC_ATTR_DEFINED) != 0 ||
		(b->attributes & KC_ATTR_CODEC_MASK) > KC_CODEC_ZSTD)
		return KC_ERR_ATTRIBUTES;
	if (b->nrecords < 0 || b->last_offset_delta < 0)
		return KC_ERR_CORRUPT;
	if (b->nrecords > lim->max_records)
		return KC_ERR_TOO_LONG;
	if (lim->strict_offsets &&
		(b->nrecords == 0 || b->last_offset_delta != b->nrecords - 1))
		return KC_ERR_CORRUPT;
	if (b->nrecords > 0 && b->last_offset_delta < b->nrecords - 1)
		return KC_ERR_CORRUPT;

	recs = r.p;
	recslen = kc_reader_left(&r);
	if ((b->attributes & KC_ATTR_CODEC_MASK) != KC_CODEC_NONE)
	{
		uint8_t    *out;

		e = kc_decompress((kc_codec) (b->attributes & KC_ATTR_CODEC_MASK),
						  recs, recslen, (size_t) lim->max_uncompressed, a,
						  &out, &recslen);
		if (e != KC_OK)
			return e;
		recs = out;
	}
	else if (recslen > (size_t) lim->max_uncompressed)
		return KC_ERR_DECOMPRESSED_TOO_LARGE;

	if ((size_t) b->nrecords > recslen / KC_MIN_RECORD)
		return KC_ERR_CORRUPT;
	if (b->nrecords > 0)
	{
		b->records = kc_alloc_array(a, (size_t) b->nrecords, sizeof(kc_record));
		if (b->records == NULL)
			return KC_ERR_NOMEM;
	}
	kc_reader_init(&r, recs, recslen);
	for (int32_t i = 0; i < b->nrecords; i++)
	{
		kc_record  *rec = &b->records[i];

		if ((e = decode_record(&r, a, lim, rec)) != KC_OK)
			return e;
		if (lim->strict_offsets ? rec->offset_delta != i :
			(rec->offset_delta < 0 || rec->offset_delta > b->last_offset_delta ||
			 (i > 0 && rec->offset_delta <= b->records[i - 1].offset_delta)))
			return KC_ERR_CORRUPT;
	}
	if (kc_reader_left(&r) != 0)
		return KC_ERR_CORRUPT;
	*consumed = total;
	return KC_OK;
}

kc_err
kc_batches_decode(const uint8_t *buf, size_t len, kc_arena *a,
				  const kc_batch_limits *lim, int32_t max_batches,
				  kc_batch **batches, int32_t *nbatches)
{
	int32_t		n = 0;
	size_t		pos = 0;

	*batches = NULL;
	*nbatches = 0;
	/* count first (cheap: lengths only), then decode into an exact array */
	while (pos < len)
	{
		int32_t		bl;

		if (len - pos < KC_BATCH_OVERHEAD)
			return KC_ERR_TRUNCATED;
		bl = kc_get_i32(buf + pos + 8);
		if (bl < KC_BATCH_HEADER - KC_BATCH_OVERHEAD)
			return KC_ERR_CORRUPT;
		if ((size_t) bl > len - pos - KC_BATCH_OVERHEAD)
			return KC_ERR_TRUNCATED;
		pos += (size_t) bl + KC_BATCH_OVERHEAD;
		if (++n > max_batches)
			return KC_ERR_TOO_LONG;
	}
	if (n == 0)
		return KC_OK;
	*batches = kc_alloc_array(a, (size_t) n, sizeof(kc_batch));
	if (*batches == NULL)
		return KC_ERR_NOMEM;
	pos = 0;
	for (int32_t i = 0; i < n; i++)
	{
		size_t		used;
		kc_err		e = kc_batch_decode(buf + pos, len - pos, a, lim,
										&(*batches)[i], &used);

		if (e != KC_OK)
			return e;
		pos += used;
	}
	*nbatches = n;
	return KC_OK;
}

static kc_err
write_varbytes(kc_writer *w, kc_bytes b)
{
	kc_err		e;

	if (b.len < -1)
		return KC_ERR_INVALID;
	if ((e = kc_write_varint(w, b.len)) != KC_OK)
		return e;
	return b.len > 0 ? kc_write_raw(w, b.data, (size_t) b.len) : KC_OK;
}

static kc_err
encode_record_body(kc_writer *w, const kc_record *rec)
{
	kc_err		e;

	if ((e = kc_write_i8(w, rec->attributes)) != KC_OK ||
		(e = kc_write_varlong(w, rec->timestamp_delta)) != KC_OK ||
		(e = kc_write_varint(w, rec->offset_delta)) != KC_OK ||
		(e = write_varbytes(w, rec->key)) != KC_OK ||
		(e = write_varbytes(w, rec->value)) != KC_OK ||
		(e = kc_write_varint(w, rec->nheaders)) != KC_OK)
		return e;
	for (int32_t h = 0; h < rec->nheaders; h++)
	{
		if (rec->headers[h].key.len < 0)
			return KC_ERR_NULL;
		if ((e = write_varbytes(w, rec->headers[h].key)) != KC_OK ||
			(e = write_varbytes(w, rec->headers[h].value)) != KC_OK)
			return e;
	}
	return KC_OK;
}

static kc_err
encode_records(kc_writer *w, const kc_batch *b)
{
	kc_err		e;

	for (int32_t i = 0; i < b->nrecords; i++)
	{
		kc_writer	count;

		kc_writer_init(&count, NULL, 0);
		if ((e = encode_record_body(&count, &b->records[i])) != KC_OK)
			return e;
		if (count.len > INT32_MAX)
			return KC_ERR_TOO_LONG;
		if ((e = kc_write_varint(w, (int32_t) count.len)) != KC_OK ||
			(e = encode_record_body(w, &b->records[i])) != KC_OK)
			return e;
	}
	return KC_OK;
}

kc_err
kc_batch_encode(kc_arena *a, kc_batch *b, uint8_t **out, size_t *len)
{
	kc_writer	w;
	uint8_t    *recs;
	size_t		recslen;
	uint8_t    *buf;
	kc_codec	codec = (kc_codec) (b->attributes & KC_ATTR_CODEC_MASK);
	kc_err		e;

	if ((b->attributes & ~KC_ATTR_DEFINED) != 0 || codec > KC_CODEC_ZSTD)
		return KC_ERR_ATTRIBUTES;
	if (b->nrecords < 0 || (b->nrecords > 0 && b->records == NULL))
		return KC_ERR_INVALID;

	kc_writer_init(&w, NULL, 0);
	if ((e = encode_records(&w, b)) != KC_OK)
		return e;
	if (w.len > INT32_MAX - KC_BATCH_HEADER)
		return KC_ERR_TOO_LONG;
	recslen = w.len;
	recs = kc_alloc(a, recslen);
	if (recs == NULL)
		return KC_ERR_NOMEM;
	kc_writer_init(&w, recs, recslen);
	if ((e = encode_records(&w, b)) != KC_OK)
		return e;
	if (codec != KC_CODEC_NONE)
	{
		if ((e = kc_compress(codec, recs, recslen, a, &recs, &recslen)) != KC_OK)
			return e;
		if (recslen > INT32_MAX - KC_BATCH_HEADER)
			return KC_ERR_TOO_LONG;
	}

	buf = kc_alloc(a, KC_BATCH_HEADER + recslen);
	if (buf == NULL)
		return KC_ERR_NOMEM;
	kc_writer_init(&w, buf, KC_BATCH_HEADER + recslen);
	(void) kc_write_i64(&w, b->base_offset);
	(void) kc_write_i32(&w, (int32_t) (KC_BATCH_HEADER - KC_BATCH_OVERHEAD + recslen));
	(void) kc_write_i32(&w, b->partition_leader_epoch);
	(void) kc_write_i8(&w, 2);
	(void) kc_write_u32(&w, 0);	/* the CRC, below */
	(void) kc_write_i16(&w, b->attributes);
	(void) kc_write_i32(&w, b->last_offset_delta);
	(void) kc_write_i64(&w, b->base_timestamp);
	(void) kc_write_i64(&w, b->max_timestamp);
	(void) kc_write_i64(&w, b->producer_id);
	(void) kc_write_i16(&w, b->producer_epoch);
	(void) kc_write_i32(&w, b->base_sequence);
	(void) kc_write_i32(&w, b->nrecords);
	if ((e = kc_write_raw(&w, recs, recslen)) != KC_OK)
		return e;
	b->crc = kc_crc32c(0, buf + 21, w.len - 21);
	buf[17] = (uint8_t) (b->crc >> 24);
	buf[18] = (uint8_t) (b->crc >> 16);
	buf[19] = (uint8_t) (b->crc >> 8);
	buf[20] = (uint8_t) b->crc;
	*out = buf;
	*len = w.len;
	return KC_OK;
}
