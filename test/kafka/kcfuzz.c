/*
 * kcfuzz: libFuzzer target over the Kafka codec's decoders (`make
 * fuzz-kafka-codec`, docs/kafka-codec.md).  Each input is tried as
 *  - a request frame body (kc_decode_request); when it decodes, it must
 *    re-encode to a frame that decodes to an equal value, and the record
 *    batches of a Produce are decoded too;
 *  - a record batch (kc_batch_decode, produce and fetch rules), as given
 *    and with its length, magic and CRC fixed up so that records and
 *    decompression are reached; a batch that decodes must re-encode and
 *    decode to the same records;
 *  - a response body of the API and version its first two bytes choose.
 * Everything within a 16 MB arena and a 1 MB decompression limit, so an
 * input that makes the codec exceed them (or crash, or hang) is a finding.
 */
#include <stdlib.h>
#include <string.h>

#include "eventlog/kafka/kcbatch.h"
#include "eventlog/kafka/kcmsg.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (16 * 1024 * 1024)

static kc_batch_limits
limits(int strict)
{
	kc_batch_limits lim = kc_default_batch_limits;

	lim.max_uncompressed = 1024 * 1024;
	lim.max_batch_bytes = 1024 * 1024;
	lim.max_records = 100000;
	lim.strict_offsets = strict;
	return lim;
}

static int
same_bytes(kc_bytes x, kc_bytes y)
{
	return x.len == y.len && (x.len <= 0 || memcmp(x.data, y.data, (size_t) x.len) == 0);
}

static void
batch_roundtrip(kc_arena *a, kc_batch *b, const kc_batch_limits *lim)
{
	uint8_t    *out;
	size_t		len,
				used;
	kc_batch	back;
	kc_err		e;

	e = kc_batch_encode(a, b, &out, &len);
	if (e == KC_ERR_NOMEM)
		return;
	if (e != KC_OK)
		abort();
	e = kc_batch_decode(out, len, a, lim, &back, &used);
	if (e == KC_ERR_NOMEM || e == KC_ERR_TOO_LONG)
		return;
	if (e != KC_OK || used != len || back.nrecords != b->nrecords)
		abort();
	for (int32_t i = 0; i < b->nrecords; i++)
	{
		if (!same_bytes(back.records[i].key, b->records[i].key) ||
			!same_bytes(back.records[i].value, b->records[i].value) ||
			back.records[i].nheaders != b->records[i].nheaders)
			abort();
	}
}

static void
fuzz_request(const uint8_t *data, size_t size)
{
	kc_arena	a;
	kc_request	req,
				again;
	uint8_t    *out;
	size_t		len;
	kc_err		e;

	kc_arena_init(&a, CAP, NULL, NULL, NULL);
	e = kc_decode_request(data, size, &a, NULL, &req);
	if (e == KC_OK)
	{
		e = kc_encode_request(&a, &req, &out, &len);
		if (e != KC_OK && e != KC_ERR_NOMEM)
			abort();
		if (e == KC_OK)
		{
			e = kc_decode_request(out + 4, len - 4, &a, NULL, &again);
			if (e != KC_OK && e != KC_ERR_NOMEM)
				abort();
			if (e == KC_OK && !kc_struct_equal(req.body, again.body, req.api_version))
				abort();
		}
		if (req.api_key == KC_API_PRODUCE)
		{
			kc_array	td = req.body->f[KCF_ProduceRequest_TopicData].u.a;
			kc_batch_limits lim = limits(1);

			for (int32_t t = 0; t < td.n; t++)
			{
				kc_array	pd = td.items[t].u.s->f[KCF_ProduceRequest_TopicProduceData_PartitionData].u.a;

				for (int32_t p = 0; p < pd.n; p++)
				{
					kc_bytes	r = pd.items[p].u.s->f[KCF_ProduceRequest_PartitionProduceData_Records].u.b;
					kc_batch   *bs;
					int32_t		nb;

					if (r.len > 0 &&
						kc_batches_decode(r.data, (size_t) r.len, &a, &lim, 1, &bs, &nb) == KC_OK &&
						nb == 1)
						batch_roundtrip(&a, &bs[0], &lim);
				}
			}
		}
	}
	kc_arena_release(&a);
}

static void
fuzz_batch(const uint8_t *data, size_t size, int strict)
{
	kc_arena	a;
	kc_batch	b;
	size_t		used;
	kc_batch_limits lim = limits(strict);

	kc_arena_init(&a, CAP, NULL, NULL, NULL);
	if (kc_batch_decode(data, size, &a, &lim, &b, &used) == KC_OK)
		batch_roundtrip(&a, &b, &lim);
	kc_arena_release(&a);
}

/*
 * The same input made into a batch that passes the length, magic and CRC
 * checks, so that the fuzzer explores records and decompression too.
 */
static void
fuzz_fixed_batch(const uint8_t *data, size_t size)
{
	uint8_t    *copy;
	uint32_t	crc;

	if (size < KC_BATCH_HEADER || size > INT32_MAX)
		return;
	copy = malloc(size);
	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	kc_put_i32(copy + 8, (int32_t) (size - KC_BATCH_OVERHEAD));
	copy[16] = 2;
	crc = kc_crc32c(0, copy + 21, size - 21);
	copy[17] = (uint8_t) (crc >> 24);
	copy[18] = (uint8_t) (crc >> 16);
	copy[19] = (uint8_t) (crc >> 8);
	copy[20] = (uint8_t) crc;
	fuzz_batch(copy, size, 1);
	fuzz_batch(copy, size, 0);
	free(copy);
}

static void
fuzz_response(const uint8_t *data, size_t size)
{
	const kc_api *api;
	int16_t		v;
	kc_arena	a;
	kc_struct  *body;
	int32_t		corr;

	if (size < 2)
		return;
	api = &kc_apis[data[0] % kc_napis];
	v = (int16_t) (api->min_version + data[1] % (api->max_version - api->min_version + 1));
	kc_arena_init(&a, CAP, NULL, NULL, NULL);
	if (kc_decode_response(data + 2, size - 2, api->key, v, &a, NULL, &corr, &body) == KC_OK)
	{
		uint8_t    *out;
		size_t		len;
		kc_err		e = kc_encode_response(&a, api->key, v, corr, body, &out, &len);

		if (e != KC_OK && e != KC_ERR_NOMEM)
			abort();
	}
	kc_arena_release(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_batch(data, size, 1);
	fuzz_batch(data, size, 0);
	fuzz_fixed_batch(data, size);
	fuzz_response(data, size);
	return 0;
}
