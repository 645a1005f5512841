/*
 * kcmsg.h: Kafka requests and responses: the length encodings of the
 * classic and flexible (compact, tagged-field) versions, frames, request
 * and response headers, and the decoding and encoding of every served API
 * from the generated tables (kcschema.h).
 */
#ifndef EVENTLOG_KAFKA_KCMSG_H
#define EVENTLOG_KAFKA_KCMSG_H

#include "eventlog/kafka/kctypes.h"
#include "eventlog/kafka/kcschema.h"

/* kcflex.c: strings, bytes and array lengths; tagged-field sections. */
extern kc_err kc_read_string(kc_reader *r, int flexible, int nullable,
							 int32_t max_len, kc_bytes *out);
extern kc_err kc_read_bytes(kc_reader *r, int flexible, int nullable,
							int32_t max_len, kc_bytes *out);
extern kc_err kc_read_array_len(kc_reader *r, int flexible, int nullable,
								int32_t max_n, int32_t *n);
extern kc_err kc_write_string(kc_writer *w, int flexible, kc_bytes s);
extern kc_err kc_write_bytes(kc_writer *w, int flexible, kc_bytes b);
extern kc_err kc_write_array_len(kc_writer *w, int flexible, int32_t n);
/* the size of a tagged-field section, then each field: tag, size, data */
extern kc_err kc_read_tag_count(kc_reader *r, int32_t max_tags, uint32_t *n);
extern kc_err kc_read_tag(kc_reader *r, uint32_t *tag, kc_reader *data);
/* an empty tagged-field section (what most writers need) */
extern kc_err kc_write_no_tags(kc_writer *w);
extern kc_bytes kc_cstr(const char *s);	/* NULL gives a null string */

/* kcmsg.c: the generic walker over the tables. */
extern const kc_api *kc_find_api(int16_t key);
extern int	kc_version_flexible(const kc_api *api, int16_t version);
extern kc_err kc_decode_struct(kc_reader *r, const kc_schema *schema,
							   int16_t version, int flexible, kc_arena *a,
							   const kc_limits *lim, kc_struct **out);
extern kc_err kc_encode_struct(kc_writer *w, const kc_struct *s,
							   int16_t version, int flexible);
/* a struct with every field at its default (for building responses) */
extern kc_struct *kc_new_struct(kc_arena *a, const kc_schema *schema);
/* an array of n structs (or values) in field idx of s; returns its items */
extern kc_value *kc_new_array(kc_arena *a, kc_struct *s, int idx, int32_t n);
/* deep equality of two decoded messages, as seen in a version */
extern int	kc_struct_equal(const kc_struct *x, const kc_struct *y,
							int16_t version);

/* kcheader.c: frames and headers. */
#define KC_FRAME_HDR 4

/*
 * Given the first bytes of a connection's input: KC_OK with *size the
 * frame's body size once the 4-byte prefix is in, else KC_ERR_TRUNCATED;
 * KC_ERR_FRAME_SIZE when the size is negative, zero or above max_size.
 */
extern kc_err kc_frame_size(const uint8_t *buf, size_t len, int32_t max_size,
							int32_t *size);

typedef struct kc_request
{
	int16_t		api_key;
	int16_t		api_version;
	int32_t		correlation_id;
	kc_bytes	client_id;		/* nullable */
	const kc_api *api;			/* NULL: unsupported api key */
	int			flexible;
	kc_struct  *body;			/* NULL unless decoded */
} kc_request;

/*
 * Decode one request frame body (without the size prefix).  On
 * KC_ERR_UNSUPPORTED_API / KC_ERR_UNSUPPORTED_VERSION, api_key, api_version
 * and correlation_id are set so that the server can answer (ApiVersions) or
 * close the connection; on other errors they are set as far as read.
 */
extern kc_err kc_decode_request(const uint8_t *frame, size_t len, kc_arena *a,
								const kc_limits *lim, kc_request *req);

/*
 * Encode a request (for tests and tools): a whole frame, size prefix
 * included, allocated in the arena.
 */
extern kc_err kc_encode_request(kc_arena *a, const kc_request *req,
								uint8_t **out, size_t *len);

/*
 * Encode the response to a request: a whole frame, size prefix included.
 * ApiVersions keeps response header v0 in every version (KIP-511).
 */
extern kc_err kc_encode_response(kc_arena *a, int16_t api_key,
								 int16_t api_version, int32_t correlation_id,
								 const kc_struct *body, uint8_t **out,
								 size_t *len);
extern kc_err kc_decode_response(const uint8_t *frame, size_t len,
								 int16_t api_key, int16_t api_version,
								 kc_arena *a, const kc_limits *lim,
								 int32_t *correlation_id, kc_struct **body);

/*
 * The ApiVersions response body advertising exactly kc_apis[] (version
 * given: the request's, or 0 for the UNSUPPORTED_VERSION answer to an
 * ApiVersions version we do not serve).
 */
extern kc_struct *kc_apiversions_body(kc_arena *a, int16_t error_code);

#endif							/* EVENTLOG_KAFKA_KCMSG_H */
