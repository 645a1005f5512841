/*
 * kctest: unit tests of the Kafka wire codec (src/kafka/codec), run by
 * `make check-kafka-codec` and test/run.sh's `codec` suite.
 *
 *   kctest FIXTURE_DIR
 *
 * Prints a line per failure and ends with "codec: N passed, M failed";
 * exits non-zero when anything failed.  Needs no server.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog/kafka/kcbatch.h"
#include "eventlog/kafka/kcmsg.h"

static int	npassed,
			nfailed;

static void
check(int ok, const char *fmt,...)
{
	va_list		ap;

	if (ok)
	{
		npassed++;
		return;
	}
	nfailed++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define ARENA_CAP (64 * 1024 * 1024)

/* ---- deterministic random values ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static kc_bytes
rnd_bytes(kc_arena *a, int printable)
{
	int			n = (int) (rnd() % 9);
	uint8_t    *p = kc_alloc(a, (size_t) n + 1);
	kc_bytes	b;

	for (int i = 0; i < n; i++)
		p[i] = printable ? (uint8_t) ('a' + rnd() % 26) : (uint8_t) rnd();
	b.data = p;
	b.len = n;
	return b;
}

static int
in_range(int16_t v, int16_t lo, int16_t hi)
{
	return lo >= 0 && v >= lo && v <= hi;
}

static kc_struct *rnd_struct(kc_arena *a, const kc_schema *schema, int16_t v,
							 int depth);

static void
rnd_elem(kc_arena *a, const kc_field *f, int nullable, int16_t v, int depth,
		 kc_value *val)
{
	switch ((kc_type) f->type)
	{
		case KC_T_BOOL: val->u.i = (int64_t) (rnd() & 1); break;
		case KC_T_INT8: val->u.i = (int8_t) rnd(); break;
		case KC_T_INT16: val->u.i = (int16_t) rnd(); break;
		case KC_T_UINT16: val->u.i = (uint16_t) rnd(); break;
		case KC_T_INT32: val->u.i = (int32_t) rnd(); break;
		case KC_T_UINT32: val->u.i = (uint32_t) rnd(); break;
		case KC_T_INT64: val->u.i = (int64_t) rnd(); break;
		case KC_T_FLOAT64: val->u.f = (double) (rnd() % 100000) / 7.0; break;
		case KC_T_UUID:
			for (int i = 0; i < 16; i++)
				val->u.uuid[i] = (uint8_t) rnd();
			break;
		case KC_T_STRING:
		case KC_T_BYTES:
		case KC_T_RECORDS:
			if (nullable && rnd() % 4 == 0)
			{
				val->u.b.data = NULL;
				val->u.b.len = -1;
			}
			else
				val->u.b = rnd_bytes(a, f->type == KC_T_STRING);
			break;
		case KC_T_STRUCT:
			val->u.s = rnd_struct(a, f->sub, v, depth + 1);
			break;
	}
}

static kc_struct *
rnd_struct(kc_arena *a, const kc_schema *schema, int16_t v, int depth)
{
	kc_struct  *s = kc_new_struct(a, schema);

	for (int i = 0; i < schema->nfields; i++)
	{
		const kc_field *f = &schema->fields[i];
		int			nullable = in_range(v, f->nmin, f->nmax);

		if (!in_range(v, f->vmin, f->vmax))
			continue;
		/* tagged fields: sometimes left at the default (then not sent) */
		if (f->tag >= 0 && rnd() % 3 == 0)
			continue;
		if (f->flags & KC_F_ARRAY)
		{
			int32_t		n = depth > 3 ? 0 : (int32_t) (rnd() % 4);

			if (nullable && rnd() % 4 == 0)
			{
				s->f[i].u.a.n = -1;
				s->f[i].u.a.items = NULL;
				continue;
			}
			kc_new_array(a, s, i, n);
			for (int32_t k = 0; k < n; k++)
				rnd_elem(a, f, 0, v, depth, &s->f[i].u.a.items[k]);
		}
		else
			rnd_elem(a, f, nullable, v, depth, &s->f[i]);
	}
	/* an unknown tagged field, kept through decode and encode */
	if (rnd() % 4 == 0)
	{
		s->unknown = kc_alloc(a, sizeof(kc_unknown_tag));
		s->unknown[0].tag = 1000 + (uint32_t) (rnd() % 100);
		s->unknown[0].data = rnd_bytes(a, 0);
		s->nunknown = 1;
	}
	return s;
}

/* strip unknown tags from a struct tree (for non-flexible versions) */
static void
strip_unknown(kc_struct *s)
{
	s->nunknown = 0;
	for (int i = 0; i < s->schema->nfields; i++)
	{
		const kc_field *f = &s->schema->fields[i];

		if (f->type != KC_T_STRUCT)
			continue;
		if (f->flags & KC_F_ARRAY)
		{
			for (int32_t k = 0; k < s->f[i].u.a.n; k++)
				strip_unknown(s->f[i].u.a.items[k].u.s);
		}
		else if (s->f[i].u.s)
			strip_unknown(s->f[i].u.s);
	}
}

/* ---- primitives ---- */

static void
test_varints(void)
{
	static const struct
	{
		int64_t		v;
		const char *hex;
	}			zz[] = {
		{0, "00"}, {-1, "01"}, {1, "02"}, {-2, "03"}, {63, "7e"}, {-64, "7f"},
		{64, "8001"}, {300, "d804"}, {INT32_MAX, "feffffff0f"},
		{INT32_MIN, "ffffffff0f"},
	};
	uint8_t		buf[16];

	for (size_t i = 0; i < sizeof(zz) / sizeof(zz[0]); i++)
	{
		kc_writer	w;
		kc_reader	r;
		char		hex[40] = "";
		int32_t		back;

		kc_writer_init(&w, buf, sizeof(buf));
		kc_write_varint(&w, (int32_t) zz[i].v);
		for (size_t k = 0; k < w.len; k++)
			sprintf(hex + 2 * k, "%02x", buf[k]);
		check(strcmp(hex, zz[i].hex) == 0, "zigzag varint %lld: %s, expected %s",
			  (long long) zz[i].v, hex, zz[i].hex);
		kc_reader_init(&r, buf, w.len);
		check(kc_read_varint(&r, &back) == KC_OK && back == zz[i].v &&
			  kc_reader_left(&r) == 0, "zigzag varint %lld reads back",
			  (long long) zz[i].v);
	}
	{
		/* 64-bit extremes */
		int64_t		vals[] = {INT64_MIN, INT64_MAX, -1, 0, 1LL << 40};

		for (size_t i = 0; i < 5; i++)
		{
			kc_writer	w;
			kc_reader	r;
			int64_t		back;

			kc_writer_init(&w, buf, sizeof(buf));
			kc_write_varlong(&w, vals[i]);
			kc_reader_init(&r, buf, w.len);
			check(kc_read_varlong(&r, &back) == KC_OK && back == vals[i] &&
				  w.len <= 10, "varlong %lld round trip", (long long) vals[i]);
		}
	}
	{
		/* malformed: too long, high bits in the last byte, truncated */
		static const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
		static const uint8_t high[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
		static const uint8_t trunc[] = {0x80, 0x80};
		static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x80, 0x80, 0x80, 0x80, 0x01};
		static const uint8_t high64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0x02};
		kc_reader	r;
		uint32_t	u;
		uint64_t	u64;

		kc_reader_init(&r, six, sizeof(six));
		check(kc_read_uvarint(&r, &u) == KC_ERR_VARINT, "6-byte varint refused");
		kc_reader_init(&r, high, sizeof(high));
		check(kc_read_uvarint(&r, &u) == KC_ERR_VARINT, "varint over 32 bits refused");
		kc_reader_init(&r, trunc, sizeof(trunc));
		check(kc_read_uvarint(&r, &u) == KC_ERR_TRUNCATED, "truncated varint refused");
		kc_reader_init(&r, eleven, sizeof(eleven));
		check(kc_read_uvarlong(&r, &u64) == KC_ERR_VARINT, "11-byte varlong refused");
		kc_reader_init(&r, high64, sizeof(high64));
		check(kc_read_uvarlong(&r, &u64) == KC_ERR_VARINT, "varlong over 64 bits refused");
	}
}

static void
test_crc(void)
{
	check(kc_crc32c(0, "123456789", 9) == 0xE3069283u, "CRC-32C check value");
	check(kc_crc32c(kc_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u,
		  "CRC-32C in two parts");
	check(kc_crc32c(0, "", 0) == 0, "CRC-32C of nothing");
}

static void
test_arena(void)
{
	kc_arena	a;
	int			got = 0;

	kc_arena_init(&a, 100000, NULL, NULL, NULL);
	while (kc_alloc(&a, 1000) != NULL)
		got++;
	check(got > 50 && got < 100 && a.total <= 100000,
		  "arena stops at its cap (%d allocations, %zu bytes)", got, a.total);
	check(kc_alloc(&a, SIZE_MAX) == NULL, "arena refuses SIZE_MAX");
	check(kc_alloc_array(&a, SIZE_MAX / 2, 4) == NULL, "arena refuses an overflowing array");
	kc_arena_release(&a);
	check(a.total == 0, "arena released");
}

/* ---- messages: round trips of every API, version, direction ---- */

static void
test_roundtrips(void)
{
	for (int i = 0; i < kc_napis; i++)
	{
		const kc_api *api = &kc_apis[i];

		for (int16_t v = api->min_version; v <= api->max_version; v++)
		{
			for (int dir = 0; dir < 2; dir++)
			{
				int			ok = 1;
				const char *why = "";

				for (int seed = 0; seed < 25 && ok; seed++)
				{
					kc_arena	a;
					kc_struct  *body,
							   *back;
					uint8_t    *frame,
							   *frame2;
					size_t		len,
								len2;
					int			flex = kc_version_flexible(api, v);
					kc_err		e;

					kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);
					body = rnd_struct(&a, dir ? api->response : api->request, v, 0);
					if (!flex)
						strip_unknown(body);
					if (dir == 0)
					{
						kc_request	req = {0}, got;

						req.api_key = api->key;
						req.api_version = v;
						req.correlation_id = (int32_t) rnd();
						req.client_id = seed % 3 ? kc_cstr("kctest") : kc_cstr(NULL);
						req.body = body;
						e = kc_encode_request(&a, &req, &frame, &len);
						if (e != KC_OK)
						{
							ok = 0;
							why = kc_strerror(e);
							break;
						}
						e = kc_decode_request(frame + 4, len - 4, &a, NULL, &got);
						if (e != KC_OK || got.correlation_id != req.correlation_id ||
							got.client_id.len != req.client_id.len)
						{
							ok = 0;
							why = e ? kc_strerror(e) : "header differs";
							break;
						}
						back = got.body;
						req.body = back;
						e = kc_encode_request(&a, &req, &frame2, &len2);
					}
					else
					{
						int32_t		corr;

						e = kc_encode_response(&a, api->key, v, 42, body, &frame, &len);
						if (e != KC_OK)
						{
							ok = 0;
							why = kc_strerror(e);
							break;
						}
						e = kc_decode_response(frame + 4, len - 4, api->key, v, &a,
											   NULL, &corr, &back);
						if (e != KC_OK || corr != 42)
						{
							ok = 0;
							why = e ? kc_strerror(e) : "correlation id differs";
							break;
						}
						e = kc_encode_response(&a, api->key, v, 42, back, &frame2, &len2);
					}
					if (!kc_struct_equal(body, back, v))
					{
						ok = 0;
						why = "decoded value differs";
					}
					else if (e != KC_OK || len != len2 || memcmp(frame, frame2, len) != 0)
					{
						ok = 0;
						why = "re-encoding differs";
					}
					kc_arena_release(&a);
				}
				check(ok, "%s %s v%d round trip: %s", api->name,
					  dir ? "response" : "request", v, why);
			}
		}
	}
}

static void
test_headers(void)
{
	kc_arena	a;
	uint8_t    *out;
	size_t		len;
	kc_struct  *body;
	int32_t		size;
	static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xff};
	static const uint8_t zero[] = {0, 0, 0, 0};
	static const uint8_t big[] = {0x10, 0, 0, 0};

	kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);

	/* ApiVersions v3: flexible body, response header v0 (no tag byte) */
	body = kc_apiversions_body(&a, 0);
	check(kc_encode_response(&a, KC_API_APIVERSIONS, 3, 7, body, &out, &len) == KC_OK &&
		  kc_get_i32(out + 4) == 7 && out[8] == 0 && out[9] == 0 &&
		  out[10] == kc_napis + 1, "ApiVersions v3 response keeps header v0");
	/* a flexible response of another API has the header's tag byte */
	body = kc_new_struct(&a, kc_find_api(KC_API_METADATA)->response);
	check(kc_encode_response(&a, KC_API_METADATA, 9, 7, body, &out, &len) == KC_OK &&
		  out[8] == 0 && len == (size_t) kc_get_i32(out) + 4,
		  "Metadata v9 response has header v1");
	/* the advertised table is exactly kc_apis */
	{
		int32_t		corr;
		kc_struct  *back;

		body = kc_apiversions_body(&a, 0);
		kc_encode_response(&a, KC_API_APIVERSIONS, 0, 1, body, &out, &len);
		check(kc_decode_response(out + 4, len - 4, KC_API_APIVERSIONS, 0, &a, NULL,
								 &corr, &back) == KC_OK &&
			  back->f[KCF_ApiVersionsResponse_ApiKeys].u.a.n == kc_napis,
			  "ApiVersions v0 lists every served API");
	}
	/* served ranges start where Kafka 4.0 does (KIP-896) */
	check(kc_find_api(KC_API_PRODUCE)->min_version == 3 &&
		  kc_find_api(KC_API_FETCH)->min_version == 4 &&
		  kc_find_api(KC_API_METADATA)->min_version == 0 &&
		  kc_find_api(KC_API_LISTOFFSETS)->min_version == 1,
		  "version ranges follow KIP-896");

	check(kc_frame_size(neg, 4, 1000, &size) == KC_ERR_FRAME_SIZE, "negative frame size");
	check(kc_frame_size(zero, 4, 1000, &size) == KC_ERR_FRAME_SIZE, "zero frame size");
	check(kc_frame_size(big, 4, 1000, &size) == KC_ERR_FRAME_SIZE, "frame over the limit");
	check(kc_frame_size(big, 3, 1000, &size) == KC_ERR_TRUNCATED, "frame prefix incomplete");
	kc_arena_release(&a);
}

/* a request frame body from hex */
static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t		n = 0;

	for (const char *p = hex; p[0] && p[1] && n < cap;)
	{
		unsigned	b;

		if (p[0] == ' ' || p[0] == '\n')
		{
			p++;
			continue;
		}
		if (sscanf(p, "%2x", &b) != 1)
			break;
		out[n++] = (uint8_t) b;
		p += 2;
	}
	return n;
}

static kc_err
decode_hex(const char *hex, kc_arena *a, kc_request *req)
{
	static uint8_t buf[4096];
	size_t		n = unhex(hex, buf, sizeof(buf));

	return kc_decode_request(buf, n, a, NULL, req);
}

static void
test_malformed_requests(void)
{
	kc_arena	a;
	kc_request	req;

	kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);
	check(decode_hex("03e70000 0000002a ffff", &a, &req) == KC_ERR_UNSUPPORTED_API &&
		  req.api_key == 999 && req.correlation_id == 42,
		  "unknown api key: error with the correlation id");
	check(decode_hex("00120063 0000002a 0001 78", &a, &req) == KC_ERR_UNSUPPORTED_VERSION &&
		  req.api_key == 18 && req.api_version == 99 && req.correlation_id == 42,
		  "ApiVersions v99: unsupported version with the correlation id");
	check(decode_hex("00000002 0000002a ffff", &a, &req) == KC_ERR_UNSUPPORTED_VERSION,
		  "Produce v2 (removed by KIP-896) refused");
	check(decode_hex("00010003 0000002a ffff", &a, &req) == KC_ERR_UNSUPPORTED_VERSION,
		  "Fetch v3 refused");
	check(decode_hex("0012", &a, &req) == KC_ERR_TRUNCATED, "2-byte request truncated");
	check(decode_hex("00120000 0000002a 0010 6162", &a, &req) == KC_ERR_TRUNCATED,
		  "client id longer than the frame");
	check(decode_hex("00120000 0000002a fffe", &a, &req) == KC_ERR_NEGATIVE_LENGTH,
		  "client id length -2");
	check(decode_hex("00120000 0000002a ffff 00", &a, &req) == KC_ERR_TRAILING,
		  "a byte after ApiVersions v0");
	/* Metadata v1: topics array count 2^31-1 with nothing after it */
	check(decode_hex("00030001 00000001 ffff 7fffffff", &a, &req) == KC_ERR_TOO_LONG,
		  "huge array count refused before allocation");
	check(decode_hex("00030001 00000001 ffff 00010000", &a, &req) == KC_ERR_TRUNCATED,
		  "array count beyond the input");
	check(decode_hex("00030001 00000001 ffff fffffffe", &a, &req) == KC_ERR_NEGATIVE_LENGTH,
		  "array count -2");
	/* Metadata v0 topics may not be null; v1 may */
	check(decode_hex("00030000 00000001 ffff ffffffff", &a, &req) == KC_ERR_NULL,
		  "null array where the version forbids it");
	check(decode_hex("00030001 00000001 ffff ffffffff", &a, &req) == KC_OK &&
		  req.body->f[KCF_MetadataRequest_Topics].u.a.n == -1,
		  "null topics in Metadata v1");
	/* Metadata v4: AllowAutoTopicCreation bool 2 */
	check(decode_hex("00030004 00000001 ffff 00000000 02", &a, &req) == KC_ERR_INVALID,
		  "bool other than 0 or 1 refused");
	/* ApiVersions v3 (flexible): compact strings, tagged fields */
	check(decode_hex("00120003 00000001 ffff 00 02 61 02 31 00", &a, &req) == KC_OK &&
		  req.body->f[KCF_ApiVersionsRequest_ClientSoftwareName].u.b.len == 1,
		  "ApiVersions v3 decodes");
	check(decode_hex("00120003 00000001 ffff 00 02 61 02 31 02 03 01 00 05 01 00", &a, &req) == KC_OK &&
		  req.body->nunknown == 2, "unknown tagged fields kept");
	check(decode_hex("00120003 00000001 ffff 00 02 61 02 31 02 05 01 00 05 01 00", &a, &req) == KC_ERR_TAG,
		  "repeated tag refused");
	check(decode_hex("00120003 00000001 ffff 00 02 61 02 31 02 05 01 00 03 01 00", &a, &req) == KC_ERR_TAG,
		  "descending tags refused");
	check(decode_hex("00120003 00000001 ffff 00 02 61 02 31 01 05 09 00", &a, &req) == KC_ERR_TRUNCATED,
		  "tagged field longer than the frame");
	check(decode_hex("00120003 00000001 ffff 00 02 61 02 31 7f", &a, &req) == KC_ERR_TAG,
		  "tag count beyond the input");
	check(decode_hex("00120003 00000001 ffff 00 ffffffff0f", &a, &req) == KC_ERR_TOO_LONG ||
		  decode_hex("00120003 00000001 ffff 00 ffffffff0f", &a, &req) == KC_ERR_TRUNCATED,
		  "compact string length 2^32-2");
	check(decode_hex("00120003 00000001 ffff 00 ffffffffff", &a, &req) == KC_ERR_VARINT,
		  "compact length varint too long");
	check(decode_hex("00120003 00000001 ffff 00 00 02 31 00", &a, &req) == KC_ERR_NULL,
		  "null compact string where not nullable");
	/* the request header's tagged fields (v2) */
	check(decode_hex("00120003 00000001 ffff 01 00 30 00 02 61 02 31 00", &a, &req) == KC_ERR_TRUNCATED,
		  "request header tagged field beyond the frame");
	kc_arena_release(&a);

	/* a count beyond the input fails before allocating for it */
	kc_arena_init(&a, 256 * 1024, NULL, NULL, NULL);
	check(decode_hex("00030001 00000001 ffff 00010000 0001 61", &a, &req) == KC_ERR_TRUNCATED,
		  "array count beyond the input refused before allocation");
	kc_arena_release(&a);

	/* a tiny arena: NOMEM, never a crash */
	kc_arena_init(&a, 200, NULL, NULL, NULL);
	check(decode_hex("00030001 00000001 ffff 00000003 0001 61 0001 62 0001 63", &a, &req) == KC_ERR_NOMEM,
		  "arena cap reached during decode");
	kc_arena_release(&a);
}

static void
test_unrepresentable(void)
{
	kc_arena	a;
	int			found = 0;

	kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);
	/* every non-ignorable int field a version lacks: setting it is refused */
	for (int i = 0; i < kc_napis; i++)
	{
		const kc_api *api = &kc_apis[i];
		const kc_schema *sc = api->response;

		for (int fi = 0; fi < sc->nfields; fi++)
		{
			const kc_field *f = &sc->fields[fi];

			if ((f->flags & (KC_F_IGNORABLE | KC_F_ARRAY)) || f->type != KC_T_INT32 ||
				f->vmin <= api->min_version)
				continue;
			{
				kc_struct  *s = kc_new_struct(&a, sc);
				uint8_t    *out;
				size_t		len;

				s->f[fi].u.i = f->idef + 1;
				check(kc_encode_response(&a, api->key, api->min_version, 1, s, &out, &len) ==
					  KC_ERR_UNREPRESENTABLE, "%s v%d: %s set is refused", api->name,
					  api->min_version, f->name);
				found++;
			}
		}
	}
	check(found > 0, "some non-ignorable field was tested");
	/* a null where a version allows none */
	{
		kc_struct  *s = kc_new_struct(&a, kc_find_api(KC_API_METADATA)->request);
		uint8_t    *out;
		size_t		len;
		kc_request	req = {0};

		s->f[KCF_MetadataRequest_Topics].u.a.n = -1;
		req.api_key = KC_API_METADATA;
		req.api_version = 0;
		req.body = s;
		check(kc_encode_request(&a, &req, &out, &len) == KC_ERR_NULL,
			  "null topics in Metadata v0 refused on encode");
	}
	kc_arena_release(&a);
}

/* ---- record batches ---- */

static kc_batch
sample_batch(kc_arena *a, int codec, int n)
{
	kc_batch	b;

	memset(&b, 0, sizeof(b));
	b.base_offset = 0;
	b.partition_leader_epoch = 3;
	b.attributes = (int16_t) codec;
	b.last_offset_delta = n - 1;
	b.base_timestamp = 1700000000000LL;
	b.max_timestamp = b.base_timestamp + n;
	b.producer_id = -1;
	b.producer_epoch = -1;
	b.base_sequence = -1;
	b.nrecords = n;
	b.records = kc_alloc_array(a, (size_t) n, sizeof(kc_record));
	for (int i = 0; i < n; i++)
	{
		kc_record  *r = &b.records[i];

		r->offset_delta = i;
		r->timestamp_delta = i;
		switch (i % 4)
		{
			case 0:
				r->key = kc_cstr("key");
				r->value = kc_cstr("value");
				break;
			case 1:
				r->key = kc_cstr(NULL);
				r->value = kc_cstr("");
				break;
			case 2:
				r->key = kc_cstr("");
				r->value = kc_cstr(NULL);
				break;
			default:
				r->key = rnd_bytes(a, 0);
				r->value = rnd_bytes(a, 0);
				break;
		}
		if (i % 3 == 0)
		{
			r->nheaders = 3;
			r->headers = kc_alloc_array(a, 3, sizeof(kc_record_header));
			r->headers[0].key = kc_cstr("h");
			r->headers[0].value = kc_cstr("1");
			r->headers[1].key = kc_cstr("h");
			r->headers[1].value = kc_cstr(NULL);
			r->headers[2].key = kc_cstr("");
			r->headers[2].value = kc_cstr("");
		}
	}
	return b;
}

static int
bytes_same(kc_bytes x, kc_bytes y)
{
	return x.len == y.len && (x.len <= 0 || memcmp(x.data, y.data, (size_t) x.len) == 0);
}

static int
batches_same(const kc_batch *x, const kc_batch *y)
{
	if (x->base_offset != y->base_offset || x->attributes != y->attributes ||
		x->nrecords != y->nrecords || x->last_offset_delta != y->last_offset_delta ||
		x->base_timestamp != y->base_timestamp || x->max_timestamp != y->max_timestamp ||
		x->producer_id != y->producer_id || x->producer_epoch != y->producer_epoch ||
		x->base_sequence != y->base_sequence ||
		x->partition_leader_epoch != y->partition_leader_epoch)
		return 0;
	for (int i = 0; i < x->nrecords; i++)
	{
		const kc_record *a = &x->records[i],
				   *b = &y->records[i];

		if (a->offset_delta != b->offset_delta || a->timestamp_delta != b->timestamp_delta ||
			!bytes_same(a->key, b->key) || !bytes_same(a->value, b->value) ||
			a->nheaders != b->nheaders)
			return 0;
		for (int h = 0; h < a->nheaders; h++)
			if (!bytes_same(a->headers[h].key, b->headers[h].key) ||
				!bytes_same(a->headers[h].value, b->headers[h].value))
				return 0;
	}
	return 1;
}

static const char *codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static void
test_batches(void)
{
	for (int codec = 0; codec <= 4; codec++)
	{
		kc_arena	a;
		kc_batch	b,
					back;
		uint8_t    *buf;
		size_t		len,
					used;
		kc_err		e;

		kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);
		b = sample_batch(&a, codec, 200);
		e = kc_batch_encode(&a, &b, &buf, &len);
		check(e == KC_OK, "%s batch encodes: %s", codec_names[codec], kc_strerror(e));
		if (e != KC_OK)
			continue;
		e = kc_batch_decode(buf, len, &a, NULL, &back, &used);
		check(e == KC_OK && used == len && batches_same(&b, &back),
			  "%s batch round trip (null and empty keys, values, repeated headers): %s",
			  codec_names[codec], kc_strerror(e));
		check(kc_get_i32(buf + 8) == (int32_t) len - 12 && buf[16] == 2,
			  "%s batch length and magic", codec_names[codec]);

		/* every truncation: an error, never a crash or success */
		{
			int			bad = 0;

			for (size_t cut = 0; cut < len; cut++)
				if (kc_batch_decode(buf, cut, &a, NULL, &back, &used) == KC_OK)
					bad++;
			check(bad == 0, "%s batch: every truncation refused", codec_names[codec]);
		}
		/* a flipped bit anywhere after the CRC: CRC mismatch */
		{
			int			bad = 0;

			for (size_t pos = 21; pos < len; pos += 1 + len / 200)
			{
				buf[pos] ^= 0x10;
				if (kc_batch_decode(buf, len, &a, NULL, &back, &used) != KC_ERR_CRC)
					bad++;
				buf[pos] ^= 0x10;
			}
			check(bad == 0, "%s batch: a flipped bit is a CRC mismatch", codec_names[codec]);
		}
		/* a small decompression limit */
		if (codec != 0)
		{
			kc_batch_limits lim = kc_default_batch_limits;

			lim.max_uncompressed = 100;
			check(kc_batch_decode(buf, len, &a, &lim, &back, &used) ==
				  KC_ERR_DECOMPRESSED_TOO_LARGE,
				  "%s batch over the decompressed limit", codec_names[codec]);
		}
		kc_arena_release(&a);
	}
}

/* build a batch by hand (records section as given), with a correct CRC */
static size_t
raw_batch(uint8_t *buf, int16_t attributes, int32_t last_delta, int32_t count,
		  const uint8_t *recs, size_t recslen)
{
	kc_writer	w;
	uint32_t	crc;

	kc_writer_init(&w, buf, 61 + recslen);
	kc_write_i64(&w, 0);
	kc_write_i32(&w, (int32_t) (49 + recslen));
	kc_write_i32(&w, 0);
	kc_write_i8(&w, 2);
	kc_write_u32(&w, 0);
	kc_write_i16(&w, attributes);
	kc_write_i32(&w, last_delta);
	kc_write_i64(&w, 0);
	kc_write_i64(&w, 0);
	kc_write_i64(&w, -1);
	kc_write_i16(&w, -1);
	kc_write_i32(&w, -1);
	kc_write_i32(&w, count);
	kc_write_raw(&w, recs, recslen);
	crc = kc_crc32c(0, buf + 21, w.len - 21);
	buf[17] = (uint8_t) (crc >> 24);
	buf[18] = (uint8_t) (crc >> 16);
	buf[19] = (uint8_t) (crc >> 8);
	buf[20] = (uint8_t) crc;
	return w.len;
}

static void
test_malformed_batches(void)
{
	kc_arena	a;
	uint8_t		buf[4096];
	kc_batch	b;
	size_t		len,
				used;
	/* one record: length 7, attrs 0, ts 0, offset 0, key null, value "x", 0 headers */
	static const uint8_t rec1[] = {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0};

	kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);
	len = raw_batch(buf, 0, 0, 1, rec1, sizeof(rec1));
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_OK && b.nrecords == 1 &&
		  b.records[0].key.len == -1 && b.records[0].value.len == 1,
		  "hand-made batch decodes");
	buf[16] = 1;
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_MAGIC, "magic 1 refused");
	buf[16] = 2;
	buf[17] ^= 1;
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CRC, "bad CRC refused");
	len = raw_batch(buf, 5, 0, 1, rec1, sizeof(rec1));
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_ATTRIBUTES, "codec 5 refused");
	len = raw_batch(buf, 0x80, 0, 1, rec1, sizeof(rec1));
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_ATTRIBUTES,
		  "undefined attribute bit refused");
	len = raw_batch(buf, 0, 0, 2, rec1, sizeof(rec1));
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
		  "record count above the records present");
	len = raw_batch(buf, 0, 0, 0x7fffffff, rec1, sizeof(rec1));
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_TOO_LONG,
		  "record count 2^31-1 refused before allocation");
	len = raw_batch(buf, 0, 0, -1, rec1, sizeof(rec1));
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
		  "negative record count");
	len = raw_batch(buf, 0, 5, 1, rec1, sizeof(rec1));
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
		  "lastOffsetDelta not count - 1 in a produced batch");
	len = raw_batch(buf, 0, -1, 0, NULL, 0);
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
		  "empty produced batch refused");
	{
		static const uint8_t longrec[] = {0x10, 0, 0, 0, 0x01, 0x02, 'x', 0};
		static const uint8_t shortrec[] = {0x0c, 0, 0, 0, 0x01, 0x02, 'x', 0};
		static const uint8_t attrrec[] = {0x0e, 1, 0, 0, 0x01, 0x02, 'x', 0};
		static const uint8_t keyneg[] = {0x0e, 0, 0, 0, 0x03, 0x02, 'x', 0};
		static const uint8_t keybig[] = {0x0e, 0, 0, 0, 0x20, 0x02, 'x', 0};
		static const uint8_t hdrnull[] = {0x12, 0, 0, 0, 0x01, 0x02, 'x', 0x02, 0x01, 0x00};
		static const uint8_t hdrcount[] = {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0x7f};
		static const uint8_t offs[] = {0x0e, 0, 0, 0x02, 0x01, 0x02, 'x', 0};
		static const uint8_t varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0};
		static const uint8_t trailing[] = {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0, 0};
		static const uint8_t padded[] = {0x10, 0, 0, 0, 0x01, 0x02, 'x', 0, 0};

		len = raw_batch(buf, 0, 0, 1, longrec, sizeof(longrec));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "record length beyond the batch");
		len = raw_batch(buf, 0, 0, 1, shortrec, sizeof(shortrec));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "record length shorter than its fields");
		len = raw_batch(buf, 0, 0, 1, attrrec, sizeof(attrrec));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_ATTRIBUTES,
			  "record attributes other than 0");
		len = raw_batch(buf, 0, 0, 1, keyneg, sizeof(keyneg));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "key length -2");
		len = raw_batch(buf, 0, 0, 1, keybig, sizeof(keybig));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "key length beyond the record");
		len = raw_batch(buf, 0, 0, 1, hdrnull, sizeof(hdrnull));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "null header key");
		len = raw_batch(buf, 0, 0, 1, hdrcount, sizeof(hdrcount));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "header count beyond the record");
		len = raw_batch(buf, 0, 0, 1, offs, sizeof(offs));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "offset delta out of sequence");
		len = raw_batch(buf, 0, 0, 1, varint, sizeof(varint));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_VARINT,
			  "overlong record length varint");
		len = raw_batch(buf, 0, 0, 1, padded, sizeof(padded));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "record length longer than its fields");
		len = raw_batch(buf, 0, 0, 1, trailing, sizeof(trailing));
		check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT,
			  "bytes after the last record");
	}
	/* batch length below the header, and beyond the limit */
	len = raw_batch(buf, 0, 0, 1, rec1, sizeof(rec1));
	kc_put_i32(buf + 8, 10);
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT, "batch length 10");
	kc_put_i32(buf + 8, -5);
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_CORRUPT, "negative batch length");
	kc_put_i32(buf + 8, 0x7fffffff);
	check(kc_batch_decode(buf, len, &a, NULL, &b, &used) == KC_ERR_TOO_LONG, "huge batch length");
	/* Produce allows one batch per partition */
	{
		uint8_t		two[200];
		size_t		l1 = raw_batch(two, 0, 0, 1, rec1, sizeof(rec1));
		kc_batch   *bs;
		int32_t		nb;

		memcpy(two + l1, two, l1);
		check(kc_batches_decode(two, 2 * l1, &a, NULL, 1, &bs, &nb) == KC_ERR_TOO_LONG,
			  "two batches where one is allowed");
		check(kc_batches_decode(two, 2 * l1, &a, NULL, 2, &bs, &nb) == KC_OK && nb == 2,
			  "two batches decode");
		check(kc_batches_decode(two, 2 * l1 - 3, &a, NULL, 2, &bs, &nb) == KC_ERR_TRUNCATED,
			  "a partial last batch");
	}
	kc_arena_release(&a);
}

/* decompression bombs: 64 MB of zeros compressed, a 1 MB limit */
static void
test_bombs(void)
{
	size_t		big = 64 * 1024 * 1024;
	uint8_t    *zeros = calloc(1, big);

	for (int codec = 1; codec <= 4; codec++)
	{
		kc_arena	a,
					d;
		uint8_t    *c,
				   *out;
		size_t		clen,
					outlen;
		kc_err		e;

		kc_arena_init(&a, 512 * 1024 * 1024, NULL, NULL, NULL);
		e = kc_compress((kc_codec) codec, zeros, big, &a, &c, &clen);
		check(e == KC_OK, "%s compresses 64 MB", codec_names[codec]);
		if (e != KC_OK)
			continue;
		kc_arena_init(&d, 32 * 1024 * 1024, NULL, NULL, NULL);
		e = kc_decompress((kc_codec) codec, c, clen, 1024 * 1024, &d, &out, &outlen);
		check(e == KC_ERR_DECOMPRESSED_TOO_LARGE && d.total < 8 * 1024 * 1024,
			  "%s bomb (%zu bytes to 64 MB) stopped at 1 MB, %zu bytes used: %s",
			  codec_names[codec], clen, d.total, kc_strerror(e));
		kc_arena_release(&d);
		/* garbage and truncation: errors */
		kc_arena_init(&d, 32 * 1024 * 1024, NULL, NULL, NULL);
		{
			uint8_t    *text = kc_alloc(&d, 100000);

			for (int i = 0; i < 100000; i++)
				text[i] = (uint8_t) ('a' + rnd() % 4);
			kc_compress((kc_codec) codec, text, 100000, &d, &c, &clen);
		}
		e = kc_decompress((kc_codec) codec, c, clen / 2, 1024 * 1024, &d, &out, &outlen);
		check(e == KC_ERR_COMPRESSION, "%s truncated stream refused: %s",
			  codec_names[codec], kc_strerror(e));
		e = kc_decompress((kc_codec) codec, c, clen, 1024 * 1024, &d, &out, &outlen);
		check(e == KC_OK && outlen == 100000, "%s text decompresses: %s",
			  codec_names[codec], kc_strerror(e));
		e = kc_decompress((kc_codec) codec, (const uint8_t *) "garbage!garbage!garbage!", 24,
						  1024, &d, &out, &outlen);
		check(e == KC_ERR_COMPRESSION || e == KC_ERR_DECOMPRESSED_TOO_LARGE,
			  "%s garbage refused: %s", codec_names[codec], kc_strerror(e));
		kc_arena_release(&d);
		kc_arena_release(&a);
	}
	free(zeros);
	/* raw snappy (librdkafka's) and concatenated gzip members */
	{
		kc_arena	a;
		uint8_t    *c1,
				   *c2,
				   *out;
		size_t		l1,
					l2,
					outlen;
		uint8_t		both[1024];

		kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);
		kc_compress(KC_CODEC_GZIP, (const uint8_t *) "hello ", 6, &a, &c1, &l1);
		kc_compress(KC_CODEC_GZIP, (const uint8_t *) "world", 5, &a, &c2, &l2);
		memcpy(both, c1, l1);
		memcpy(both + l1, c2, l2);
		check(kc_decompress(KC_CODEC_GZIP, both, l1 + l2, 100, &a, &out, &outlen) == KC_OK &&
			  outlen == 11 && memcmp(out, "hello world", 11) == 0,
			  "concatenated gzip members");
		/* raw snappy of "hello": length 5, literal tag (4 << 2), bytes */
		check(kc_decompress(KC_CODEC_SNAPPY, (const uint8_t *) "\x05\x10hello", 7, 100, &a,
							&out, &outlen) == KC_OK && outlen == 5 &&
			  memcmp(out, "hello", 5) == 0, "raw snappy");
		check(kc_decompress(KC_CODEC_SNAPPY, (const uint8_t *) "\xff\xff\xff\xff\x0f\x10hello", 11,
							100, &a, &out, &outlen) == KC_ERR_DECOMPRESSED_TOO_LARGE,
			  "raw snappy claiming 4 GB");
		kc_arena_release(&a);
	}
}

/* ---- captured frames ---- */

static int	nfixtures;

static void
test_fixture(const char *dir, const char *name)
{
	char		path[4096];
	FILE	   *f;
	char	   *hex;
	long		size;
	uint8_t    *frame;
	size_t		len;
	kc_arena	a;
	kc_request	req;
	kc_err		e;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
	{
		check(0, "%s: cannot open", path);
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	hex = calloc(1, (size_t) size + 1);
	frame = malloc((size_t) size / 2 + 1);
	if (fread(hex, 1, (size_t) size, f) != (size_t) size)
		size = 0;
	fclose(f);
	len = unhex(hex, frame, (size_t) size / 2 + 1);
	nfixtures++;

	kc_arena_init(&a, ARENA_CAP, NULL, NULL, NULL);
	e = kc_decode_request(frame, len, &a, NULL, &req);
	check(e == KC_OK, "%s decodes: %s", name, kc_strerror(e));
	if (e == KC_OK)
	{
		uint8_t    *out;
		size_t		outlen;

		/* byte-exact re-encoding */
		e = kc_encode_request(&a, &req, &out, &outlen);
		check(e == KC_OK && outlen == len + 4 && memcmp(out + 4, frame, len) == 0,
			  "%s re-encodes byte for byte", name);

		/* records of a produce: one valid batch per partition, as sent */
		if (req.api_key == KC_API_PRODUCE)
		{
			kc_array	td = req.body->f[KCF_ProduceRequest_TopicData].u.a;
			int			nrec = 0,
						ok = 1;

			for (int32_t t = 0; t < td.n; t++)
			{
				kc_array	pd = td.items[t].u.s->f[KCF_ProduceRequest_TopicProduceData_PartitionData].u.a;

				for (int32_t p = 0; p < pd.n; p++)
				{
					kc_bytes	r = pd.items[p].u.s->f[KCF_ProduceRequest_PartitionProduceData_Records].u.b;
					kc_batch   *bs;
					int32_t		nb;

					e = kc_batches_decode(r.data, r.len > 0 ? (size_t) r.len : 0, &a, NULL, 1, &bs, &nb);
					if (e != KC_OK || nb != 1)
					{
						ok = 0;
						printf("  %s: %s\n", name, kc_strerror(e));
						continue;
					}
					nrec += bs[0].nrecords;
					/* re-encode the batch: same bytes when uncompressed */
					if ((bs[0].attributes & KC_ATTR_CODEC_MASK) == 0)
					{
						uint8_t    *eb;
						size_t		el;

						ok &= kc_batch_encode(&a, &bs[0], &eb, &el) == KC_OK &&
							el == (size_t) r.len && memcmp(eb, r.data, el) == 0;
					}
					else
					{
						/* compressed: decode(encode) gives the same records */
						uint8_t    *eb;
						size_t		el,
									used;
						kc_batch	back;

						ok &= kc_batch_encode(&a, &bs[0], &eb, &el) == KC_OK &&
							kc_batch_decode(eb, el, &a, NULL, &back, &used) == KC_OK &&
							batches_same(&bs[0], &back);
					}
					/* kcat's and the Python producer's records */
					/* (kcat may send the first line alone) */
					if (strncmp(name, "kcat-produce", 12) == 0)
						ok &= bs[0].nrecords >= 1 &&
							bytes_same(bs[0].records[0].key, kc_cstr("k1")) &&
							bytes_same(bs[0].records[0].value, kc_cstr("v1")) &&
							(bs[0].nrecords != 3 ||
							 (bytes_same(bs[0].records[2].value, kc_cstr("v3")) &&
							  bs[0].records[2].key.len == 0 &&
							  bs[0].records[1].value.len == 0));
					if (strncmp(name, "py-", 3) == 0)
						ok &= bs[0].nrecords == 3 && bs[0].records[0].nheaders == 3 &&
							bytes_same(bs[0].records[0].headers[1].value, kc_cstr("2")) &&
							bs[0].records[0].headers[2].value.len == -1 &&
							bs[0].records[1].key.len == -1 &&
							bs[0].records[1].value.len == 0 &&
							bs[0].records[2].key.len == 0 &&
							bs[0].records[2].value.len == -1;
				}
			}
			check(ok && nrec > 0, "%s: record batches valid (%d records)", name, nrec);
		}
	}
	/* every truncation is an error; every byte flip is harmless */
	{
		int			bad = 0;

		for (size_t cut = 0; cut < len; cut++)
		{
			kc_arena	t;

			kc_arena_init(&t, ARENA_CAP, NULL, NULL, NULL);
			if (kc_decode_request(frame, cut, &t, NULL, &req) == KC_OK)
				bad++;
			kc_arena_release(&t);
		}
		check(bad == 0, "%s: every truncation refused (%d accepted)", name, bad);
		for (size_t pos = 0; pos < len; pos++)
		{
			uint8_t		keep = frame[pos];

			for (int k = 0; k < 3; k++)
			{
				kc_arena	t;

				frame[pos] = k == 0 ? 0xff : k == 1 ? 0x80 : (uint8_t) (keep ^ 1);
				kc_arena_init(&t, 4 * 1024 * 1024, NULL, NULL, NULL);
				(void) kc_decode_request(frame, len, &t, NULL, &req);
				kc_arena_release(&t);
			}
			frame[pos] = keep;
		}
		npassed++;				/* reached: no crash on any flip */
	}
	kc_arena_release(&a);
	free(hex);
	free(frame);
}

static void
test_fixtures(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char	  **names = NULL;
	int			n = 0;

	if (!d)
	{
		check(0, "fixture directory %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
	{
		size_t		l = strlen(de->d_name);

		if (l > 4 && strcmp(de->d_name + l - 4, ".hex") == 0)
		{
			names = realloc(names, sizeof(char *) * (size_t) (n + 1));
			names[n++] = strdup(de->d_name);
		}
	}
	closedir(d);
	for (int i = 0; i < n; i++)
	{
		test_fixture(dir, names[i]);
		free(names[i]);
	}
	free(names);
	check(nfixtures >= 30, "captured frames present (%d)", nfixtures);
}

int
main(int argc, char **argv)
{
	test_varints();
	test_crc();
	test_arena();
	test_roundtrips();
	test_headers();
	test_malformed_requests();
	test_unrepresentable();
	test_batches();
	test_malformed_batches();
	test_bombs();
	test_fixtures(argc > 1 ? argv[1] : "test/kafka/fixtures");
	printf("codec: %d passed, %d failed\n", npassed, nfailed);
	return nfailed ? 1 : 0;
}
