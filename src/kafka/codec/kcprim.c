/*
 * kcprim.c: primitive types of the Kafka protocol: fixed-width big-endian
 * integers and floats, unsigned varints (LEB128, as in compact lengths and
 * tagged fields) and zigzag varints (as in records), the bounded arena,
 * error names.
 *
 * A varint longer than its type allows (5 bytes for 32 bits, 10 for 64)
 * or whose last byte carries bits beyond the type is an error: a reader
 * never loops past the bytes it was given.
 */
#include <stdlib.h>
#include <string.h>

#include "eventlog/kafka/kctypes.h"

const kc_limits kc_default_limits = {
	.max_array = 1000000,
	.max_bytes = 100 * 1024 * 1024,
	.max_depth = 16,
	.max_tags = 1000,
};

const char *
kc_strerror(kc_err err)
{
	switch (err)
	{
		case KC_OK: return "ok";
		case KC_ERR_TRUNCATED: return "input ends inside a value";
		case KC_ERR_NEGATIVE_LENGTH: return "negative length or count";
		case KC_ERR_TOO_LONG: return "length or count exceeds the input or a limit";
		case KC_ERR_VARINT: return "malformed varint";
		case KC_ERR_NOMEM: return "memory limit reached";
		case KC_ERR_UNSUPPORTED_API: return "unsupported api key";
		case KC_ERR_UNSUPPORTED_VERSION: return "unsupported api version";
		case KC_ERR_TRAILING: return "bytes left after the value";
		case KC_ERR_NULL: return "null not allowed in this version";
		case KC_ERR_TAG: return "malformed tagged fields";
		case KC_ERR_UNREPRESENTABLE: return "value cannot be written in this version";
		case KC_ERR_CRC: return "record batch CRC-32C mismatch";
		case KC_ERR_MAGIC: return "record batch magic is not 2";
		case KC_ERR_ATTRIBUTES: return "invalid attributes";
		case KC_ERR_CORRUPT: return "record batch fields are inconsistent";
		case KC_ERR_COMPRESSION: return "malformed compressed data";
		case KC_ERR_DECOMPRESSED_TOO_LARGE: return "decompressed data exceeds the limit";
		case KC_ERR_FRAME_SIZE: return "frame size out of range";
		case KC_ERR_INVALID: return "invalid value";
	}
	return "unknown error";
}

int16_t
kc_kafka_error(kc_err err)
{
	switch (err)
	{
		case KC_OK:
			return KC_KAFKA_NONE;
		case KC_ERR_UNSUPPORTED_API:
		case KC_ERR_UNSUPPORTED_VERSION:
		case KC_ERR_UNREPRESENTABLE:
			return KC_KAFKA_UNSUPPORTED_VERSION;
		case KC_ERR_CRC:
		case KC_ERR_MAGIC:
		case KC_ERR_CORRUPT:
		case KC_ERR_COMPRESSION:
			return KC_KAFKA_CORRUPT_MESSAGE;
		case KC_ERR_ATTRIBUTES:
			return KC_KAFKA_UNSUPPORTED_COMPRESSION_TYPE;
		case KC_ERR_DECOMPRESSED_TOO_LARGE:
		case KC_ERR_FRAME_SIZE:
			return KC_KAFKA_MESSAGE_TOO_LARGE;
		default:
			return KC_KAFKA_INVALID_REQUEST;
	}
}

/* ---- arena ---- */

#define KC_ALIGN 16
#define KC_CHUNK 65536

struct kc_arena_chunk
{
	kc_arena_chunk *next;
	size_t		size;			/* usable bytes after the header */
	size_t		used;
};

#define KC_CHUNK_HDR ((sizeof(kc_arena_chunk) + KC_ALIGN - 1) & ~(size_t) (KC_ALIGN - 1))

static void *
kc_malloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

static void
kc_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

void
kc_arena_init(kc_arena *a, size_t cap, kc_alloc_fn alloc, kc_free_fn free_fn,
			  void *ctx)
{
	a->alloc = alloc ? alloc : kc_malloc;
	a->free = alloc ? free_fn : kc_free;
	a->ctx = ctx;
	a->cap = cap;
	a->total = 0;
	a->head = NULL;
}

void *
kc_alloc(kc_arena *a, size_t size)
{
	kc_arena_chunk *c = a->head;
	uint8_t    *p;

	if (size > a->cap)
		return NULL;
	size = (size + KC_ALIGN - 1) & ~(size_t) (KC_ALIGN - 1);
	if (size == 0)
		size = KC_ALIGN;
	if (c == NULL || c->size - c->used < size)
	{
		size_t		want = size > KC_CHUNK / 2 ? size : KC_CHUNK;

		if (a->total > a->cap || want + KC_CHUNK_HDR > a->cap - a->total)
		{
			/* try an exact chunk before failing */
			want = size;
			if (a->total > a->cap || want + KC_CHUNK_HDR > a->cap - a->total)
				return NULL;
		}
		c = a->alloc(a->ctx, want + KC_CHUNK_HDR);
		if (c == NULL)
			return NULL;
		a->total += want + KC_CHUNK_HDR;
		c->size = want;
		c->used = 0;
		/* a big exact chunk goes behind the current one, which keeps its space */
		if (a->head && want == size && size > KC_CHUNK / 2)
		{
			c->next = a->head->next;
			a->head->next = c;
		}
		else
		{
			c->next = a->head;
			a->head = c;
		}
	}
	p = (uint8_t *) c + KC_CHUNK_HDR + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void *
kc_alloc_array(kc_arena *a, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return kc_alloc(a, n * size);
}

void
kc_arena_release(kc_arena *a)
{
	kc_arena_chunk *c = a->head;

	while (c)
	{
		kc_arena_chunk *next = c->next;

		if (a->free)
			a->free(a->ctx, c);
		c = next;
	}
	a->head = NULL;
	a->total = 0;
}

/* ---- readers ---- */

kc_err
kc_read_raw(kc_reader *r, size_t n, const uint8_t **p)
{
	if (kc_reader_left(r) < n)
		return KC_ERR_TRUNCATED;
	*p = r->p;
	r->p += n;
	return KC_OK;
}

static kc_err
read_be(kc_reader *r, int n, uint64_t *v)
{
	uint64_t	x = 0;

	if (kc_reader_left(r) < (size_t) n)
		return KC_ERR_TRUNCATED;
	for (int i = 0; i < n; i++)
		x = (x << 8) | r->p[i];
	r->p += n;
	*v = x;
	return KC_OK;
}

kc_err
kc_read_i8(kc_reader *r, int8_t *v)
{
	uint64_t	x;
	kc_err		e = read_be(r, 1, &x);

	*v = (int8_t) (uint8_t) x;
	return e;
}

kc_err
kc_read_i16(kc_reader *r, int16_t *v)
{
	uint64_t	x;
	kc_err		e = read_be(r, 2, &x);

	*v = (int16_t) (uint16_t) x;
	return e;
}

kc_err
kc_read_u16(kc_reader *r, uint16_t *v)
{
	uint64_t	x;
	kc_err		e = read_be(r, 2, &x);

	*v = (uint16_t) x;
	return e;
}

kc_err
kc_read_i32(kc_reader *r, int32_t *v)
{
	uint64_t	x;
	kc_err		e = read_be(r, 4, &x);

	*v = (int32_t) (uint32_t) x;
	return e;
}

kc_err
kc_read_u32(kc_reader *r, uint32_t *v)
{
	uint64_t	x;
	kc_err		e = read_be(r, 4, &x);

	*v = (uint32_t) x;
	return e;
}

kc_err
kc_read_i64(kc_reader *r, int64_t *v)
{
	uint64_t	x;
	kc_err		e = read_be(r, 8, &x);

	*v = (int64_t) x;
	return e;
}

kc_err
kc_read_f64(kc_reader *r, double *v)
{
	uint64_t	x;
	kc_err		e = read_be(r, 8, &x);

	memcpy(v, &x, sizeof(*v));
	return e;
}

static kc_err
read_leb(kc_reader *r, int maxbytes, int lastbits, uint64_t *v)
{
	uint64_t	x = 0;

	for (int i = 0; i < maxbytes; i++)
	{
		uint8_t		b;

		if (r->p >= r->end)
			return KC_ERR_TRUNCATED;
		b = *r->p++;
		if (i == maxbytes - 1 && (b & 0x80 || (b >> lastbits) != 0))
			return KC_ERR_VARINT;
		x |= (uint64_t) (b & 0x7F) << (7 * i);
		if (!(b & 0x80))
		{
			*v = x;
			return KC_OK;
		}
	}
	return KC_ERR_VARINT;
}

kc_err
kc_read_uvarint(kc_reader *r, uint32_t *v)
{
	uint64_t	x = 0;
	kc_err		e = read_leb(r, 5, 4, &x);

	*v = (uint32_t) x;
	return e;
}

kc_err
kc_read_uvarlong(kc_reader *r, uint64_t *v)
{
	return read_leb(r, 10, 1, v);
}

kc_err
kc_read_varint(kc_reader *r, int32_t *v)
{
	uint32_t	x = 0;
	kc_err		e = kc_read_uvarint(r, &x);

	*v = (int32_t) ((x >> 1) ^ (~(x & 1) + 1));
	return e;
}

kc_err
kc_read_varlong(kc_reader *r, int64_t *v)
{
	uint64_t	x = 0;
	kc_err		e = kc_read_uvarlong(r, &x);

	*v = (int64_t) ((x >> 1) ^ (~(x & 1) + 1));
	return e;
}

/* ---- writers ---- */

kc_err
kc_write_raw(kc_writer *w, const void *p, size_t n)
{
	if (w->cap - w->len < n)
		return KC_ERR_TOO_LONG;
	if (w->data && n)
		memcpy(w->data + w->len, p, n);
	w->len += n;
	return KC_OK;
}

static kc_err
write_be(kc_writer *w, int n, uint64_t v)
{
	uint8_t		b[8];

	for (int i = n - 1; i >= 0; i--)
	{
		b[i] = (uint8_t) v;
		v >>= 8;
	}
	return kc_write_raw(w, b, n);
}

kc_err kc_write_i8(kc_writer *w, int8_t v) { return write_be(w, 1, (uint8_t) v); }
kc_err kc_write_i16(kc_writer *w, int16_t v) { return write_be(w, 2, (uint16_t) v); }
kc_err kc_write_u16(kc_writer *w, uint16_t v) { return write_be(w, 2, v); }
kc_err kc_write_i32(kc_writer *w, int32_t v) { return write_be(w, 4, (uint32_t) v); }
kc_err kc_write_u32(kc_writer *w, uint32_t v) { return write_be(w, 4, v); }
kc_err kc_write_i64(kc_writer *w, int64_t v) { return write_be(w, 8, (uint64_t) v); }

kc_err
kc_write_f64(kc_writer *w, double v)
{
	uint64_t	x;

	memcpy(&x, &v, sizeof(x));
	return write_be(w, 8, x);
}

kc_err
kc_write_uvarlong(kc_writer *w, uint64_t v)
{
	uint8_t		b[10];
	int			n = 0;

	do
	{
		b[n] = (uint8_t) (v & 0x7F);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return kc_write_raw(w, b, n);
}

kc_err
kc_write_uvarint(kc_writer *w, uint32_t v)
{
	return kc_write_uvarlong(w, v);
}

kc_err
kc_write_varint(kc_writer *w, int32_t v)
{
	return kc_write_uvarlong(w, ((uint32_t) v << 1) ^ (uint32_t) (v >> 31));
}

kc_err
kc_write_varlong(kc_writer *w, int64_t v)
{
	return kc_write_uvarlong(w, ((uint64_t) v << 1) ^ (uint64_t) (v >> 63));
}

size_t
kc_uvarint_size(uint64_t v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

void
kc_put_i32(uint8_t *p, int32_t v)
{
	uint32_t	x = (uint32_t) v;

	p[0] = (uint8_t) (x >> 24);
	p[1] = (uint8_t) (x >> 16);
	p[2] = (uint8_t) (x >> 8);
	p[3] = (uint8_t) x;
}

int32_t
kc_get_i32(const uint8_t *p)
{
	return (int32_t) (((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
					  ((uint32_t) p[2] << 8) | p[3]);
}
