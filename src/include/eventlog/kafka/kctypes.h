/*
 * kctypes.h: the Kafka wire codec's basic types: error codes, the bounded
 * arena every decoded value lives in, byte readers and writers, the
 * primitive encodings (fixed-width big-endian integers, varints) and the
 * generic message values the per-API tables describe.
 *
 * Plain C99 with <stdint.h>: no PostgreSQL header, so that the unit tests
 * and the fuzzer build as ordinary programs.  The server layer backs the
 * arena with a MemoryContext through kc_arena_init's callbacks.
 */
#ifndef EVENTLOG_KAFKA_KCTYPES_H
#define EVENTLOG_KAFKA_KCTYPES_H

#include <stddef.h>
#include <stdint.h>

/* Results.  KC_OK is 0; every other value is a decoding or encoding error. */
typedef enum kc_err
{
	KC_OK = 0,
	KC_ERR_TRUNCATED,			/* input ends inside a value */
	KC_ERR_NEGATIVE_LENGTH,		/* a length or count below -1 (or -1 where null is not allowed) */
	KC_ERR_TOO_LONG,			/* a length or count beyond the input or a limit */
	KC_ERR_VARINT,				/* a varint longer than its type allows */
	KC_ERR_NOMEM,				/* the arena's cap was reached */
	KC_ERR_UNSUPPORTED_API,		/* api key not served */
	KC_ERR_UNSUPPORTED_VERSION, /* api version not served */
	KC_ERR_TRAILING,			/* bytes left after a complete value */
	KC_ERR_NULL,				/* null where the version does not allow it */
	KC_ERR_TAG,					/* tagged field repeated, out of order or malformed */
	KC_ERR_UNREPRESENTABLE,		/* value cannot be written in this version */
	KC_ERR_CRC,					/* record batch CRC-32C mismatch */
	KC_ERR_MAGIC,				/* record batch magic is not 2 */
	KC_ERR_ATTRIBUTES,			/* undefined attribute bits or codec */
	KC_ERR_CORRUPT,				/* record batch fields inconsistent */
	KC_ERR_COMPRESSION,			/* compressed data malformed */
	KC_ERR_DECOMPRESSED_TOO_LARGE,	/* decompressed size beyond the limit */
	KC_ERR_FRAME_SIZE,			/* frame size negative or beyond the limit */
	KC_ERR_INVALID				/* argument or value out of its domain */
} kc_err;

extern const char *kc_strerror(kc_err err);

/*
 * Kafka's error code for a decoding failure, for the server's response
 * (CORRUPT_MESSAGE, UNSUPPORTED_VERSION, INVALID_REQUEST, ...).
 */
extern int16_t kc_kafka_error(kc_err err);

/* Kafka error codes the codec's callers need. */
#define KC_KAFKA_NONE 0
#define KC_KAFKA_CORRUPT_MESSAGE 2
#define KC_KAFKA_MESSAGE_TOO_LARGE 10
#define KC_KAFKA_UNSUPPORTED_VERSION 35
#define KC_KAFKA_INVALID_REQUEST 42
#define KC_KAFKA_UNSUPPORTED_COMPRESSION_TYPE 76
#define KC_KAFKA_INVALID_RECORD 87

/*
 * Arena: bump allocation from chunks obtained through the caller's
 * callbacks, with a hard cap on the total.  Nothing is freed before
 * kc_arena_release.  With alloc == NULL, malloc and free are used.
 */
typedef void *(*kc_alloc_fn) (void *ctx, size_t size);
typedef void (*kc_free_fn) (void *ctx, void *ptr);

typedef struct kc_arena_chunk kc_arena_chunk;

typedef struct kc_arena
{
	kc_alloc_fn alloc;
	kc_free_fn	free;
	void	   *ctx;
	size_t		cap;			/* hard cap on bytes obtained from alloc */
	size_t		total;			/* bytes obtained so far */
	kc_arena_chunk *head;
} kc_arena;

extern void kc_arena_init(kc_arena *a, size_t cap, kc_alloc_fn alloc,
						  kc_free_fn free, void *ctx);
extern void *kc_alloc(kc_arena *a, size_t size);	/* zeroed; NULL past the cap */
extern void *kc_alloc_array(kc_arena *a, size_t n, size_t size);
extern void kc_arena_release(kc_arena *a);

/* Bytes or a string: len -1 is null.  Points into the input or the arena. */
typedef struct kc_bytes
{
	const uint8_t *data;
	int32_t		len;
} kc_bytes;

/* Reader over a buffer: every read checks the bounds. */
typedef struct kc_reader
{
	const uint8_t *p;
	const uint8_t *end;
} kc_reader;

static inline void
kc_reader_init(kc_reader *r, const void *data, size_t len)
{
	r->p = (const uint8_t *) data;
	r->end = r->p + len;
}

static inline size_t
kc_reader_left(const kc_reader *r)
{
	return (size_t) (r->end - r->p);
}

/*
 * Writer: with data == NULL it only counts (the sizing pass); otherwise it
 * writes into data[0..cap) and fails with KC_ERR_TOO_LONG beyond cap.
 */
typedef struct kc_writer
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} kc_writer;

static inline void
kc_writer_init(kc_writer *w, void *data, size_t cap)
{
	w->data = (uint8_t *) data;
	w->len = 0;
	w->cap = data ? cap : SIZE_MAX;
}

/* kcprim.c: fixed-width big-endian integers, varints, zigzag. */
extern kc_err kc_read_i8(kc_reader *r, int8_t *v);
extern kc_err kc_read_i16(kc_reader *r, int16_t *v);
extern kc_err kc_read_u16(kc_reader *r, uint16_t *v);
extern kc_err kc_read_i32(kc_reader *r, int32_t *v);
extern kc_err kc_read_u32(kc_reader *r, uint32_t *v);
extern kc_err kc_read_i64(kc_reader *r, int64_t *v);
extern kc_err kc_read_f64(kc_reader *r, double *v);
extern kc_err kc_read_raw(kc_reader *r, size_t n, const uint8_t **p);
extern kc_err kc_read_uvarint(kc_reader *r, uint32_t *v);
extern kc_err kc_read_uvarlong(kc_reader *r, uint64_t *v);
extern kc_err kc_read_varint(kc_reader *r, int32_t *v);		/* zigzag */
extern kc_err kc_read_varlong(kc_reader *r, int64_t *v);	/* zigzag */

extern kc_err kc_write_raw(kc_writer *w, const void *p, size_t n);
extern kc_err kc_write_i8(kc_writer *w, int8_t v);
extern kc_err kc_write_i16(kc_writer *w, int16_t v);
extern kc_err kc_write_u16(kc_writer *w, uint16_t v);
extern kc_err kc_write_i32(kc_writer *w, int32_t v);
extern kc_err kc_write_u32(kc_writer *w, uint32_t v);
extern kc_err kc_write_i64(kc_writer *w, int64_t v);
extern kc_err kc_write_f64(kc_writer *w, double v);
extern kc_err kc_write_uvarint(kc_writer *w, uint32_t v);
extern kc_err kc_write_uvarlong(kc_writer *w, uint64_t v);
extern kc_err kc_write_varint(kc_writer *w, int32_t v);
extern kc_err kc_write_varlong(kc_writer *w, int64_t v);
extern size_t kc_uvarint_size(uint64_t v);
extern void kc_put_i32(uint8_t *p, int32_t v);
extern int32_t kc_get_i32(const uint8_t *p);

/*
 * Message tables (generated into kcschema.c from Kafka's definitions) and
 * the generic values decoded from and encoded to them.
 */
typedef enum kc_type
{
	KC_T_BOOL,
	KC_T_INT8,
	KC_T_INT16,
	KC_T_UINT16,
	KC_T_INT32,
	KC_T_UINT32,
	KC_T_INT64,
	KC_T_FLOAT64,
	KC_T_UUID,
	KC_T_STRING,
	KC_T_BYTES,
	KC_T_RECORDS,				/* bytes holding record batches */
	KC_T_STRUCT
} kc_type;

#define KC_F_ARRAY 0x01			/* an array of the type */
#define KC_F_IGNORABLE 0x02		/* may be dropped in versions that lack it */
#define KC_F_DEFNULL 0x04		/* a string whose default is null */

#define KC_VMAX 0x7FFF			/* open-ended version range ("N+") */

typedef struct kc_schema kc_schema;

typedef struct kc_field
{
	const char *name;
	uint8_t		type;			/* kc_type */
	uint8_t		flags;			/* KC_F_* */
	int16_t		vmin,
				vmax;			/* versions that have the field */
	int16_t		nmin,
				nmax;			/* nullable versions, -1 none */
	int16_t		tmin,
				tmax;			/* tagged versions, -1 none */
	int32_t		tag;
	int64_t		idef;			/* default of a number or bool */
	const char *sdef;			/* default of a string (NULL: "" or null) */
	const kc_schema *sub;		/* KC_T_STRUCT: its fields */
} kc_field;

struct kc_schema
{
	const char *name;
	int16_t		nfields;
	const kc_field *fields;
};

typedef struct kc_api
{
	int16_t		key;
	const char *name;
	int16_t		min_version;	/* served versions: only fully implemented ones */
	int16_t		max_version;
	int16_t		flex_min;		/* first flexible version, -1 none */
	const kc_schema *request;
	const kc_schema *response;
} kc_api;

extern const kc_api kc_apis[];
extern const int kc_napis;

typedef struct kc_struct kc_struct;
typedef struct kc_value kc_value;

typedef struct kc_array
{
	int32_t		n;				/* -1: null array */
	kc_value   *items;
} kc_array;

struct kc_value
{
	union
	{
		int64_t		i;			/* bool and integers */
		double		f;
		uint8_t		uuid[16];
		kc_bytes	b;			/* string, bytes, records */
		kc_struct  *s;
		kc_array	a;
	}			u;
};

/* A tagged field the table does not know, kept for re-encoding. */
typedef struct kc_unknown_tag
{
	uint32_t	tag;
	kc_bytes	data;
} kc_unknown_tag;

struct kc_struct
{
	const kc_schema *schema;
	kc_value   *f;				/* schema->nfields values, indexed by KCF_* */
	int32_t		nunknown;
	kc_unknown_tag *unknown;
};

/* Limits a decoder enforces besides the arena's cap. */
typedef struct kc_limits
{
	int32_t		max_array;		/* elements in one array */
	int32_t		max_bytes;		/* length of one string or bytes value */
	int32_t		max_depth;		/* nesting of structs */
	int32_t		max_tags;		/* tagged fields in one struct */
} kc_limits;

extern const kc_limits kc_default_limits;

#endif							/* EVENTLOG_KAFKA_KCTYPES_H */
