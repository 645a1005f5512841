/*
 * kcheader.c: frames (an int32 size, then the message), request headers
 * (v1: api key, api version, correlation id, nullable client id; v2 adds a
 * tagged-field section, used with flexible request versions) and response
 * headers (v0: correlation id; v1 adds tagged fields, except for
 * ApiVersions, whose responses keep v0 so that a client that does not yet
 * know our versions can read them).
 */
#include "eventlog/kafka/kcmsg.h"

kc_err
kc_frame_size(const uint8_t *buf, size_t len, int32_t max_size, int32_t *size)
{
	if (len < KC_FRAME_HDR)
		return KC_ERR_TRUNCATED;
	*size = kc_get_i32(buf);
	if (*size <= 0 || *size > max_size)
		return KC_ERR_FRAME_SIZE;
	return KC_OK;
}

static int
response_header_flexible(int16_t api_key, int flexible)
{
	return flexible && api_key != KC_API_APIVERSIONS;
}

/* a header's tagged-field section, checked and skipped */
static kc_err
skip_tags(kc_reader *r, const kc_limits *lim)
{
	uint32_t	ntags;
	kc_err		e;

	if ((e = kc_read_tag_count(r, lim->max_tags, &ntags)) != KC_OK)
		return e;
	for (uint32_t i = 0; i < ntags; i++)
	{
		uint32_t	tag;
		kc_reader	data;

		if ((e = kc_read_tag(r, &tag, &data)) != KC_OK)
			return e;
	}
	return KC_OK;
}

kc_err
kc_decode_request(const uint8_t *frame, size_t len, kc_arena *a,
				  const kc_limits *lim, kc_request *req)
{
	kc_reader	r;
	kc_err		e;

	if (lim == NULL)
		lim = &kc_default_limits;
	req->api_key = -1;
	req->api_version = -1;
	req->correlation_id = 0;
	req->client_id.data = NULL;
	req->client_id.len = -1;
	req->api = NULL;
	req->flexible = 0;
	req->body = NULL;

	kc_reader_init(&r, frame, len);
	if ((e = kc_read_i16(&r, &req->api_key)) != KC_OK ||
		(e = kc_read_i16(&r, &req->api_version)) != KC_OK ||
		(e = kc_read_i32(&r, &req->correlation_id)) != KC_OK)
		return e;
	/* the client id stays a classic nullable string in header v2 too */
	if ((e = kc_read_string(&r, 0, 1, lim->max_bytes, &req->client_id)) != KC_OK)
		return e;
	req->api = kc_find_api(req->api_key);
	if (req->api == NULL)
		return KC_ERR_UNSUPPORTED_API;
	if (req->api_version < req->api->min_version ||
		req->api_version > req->api->max_version)
		return KC_ERR_UNSUPPORTED_VERSION;
	req->flexible = kc_version_flexible(req->api, req->api_version);
	/* request header v2 defines no tagged field: skip them */
	if (req->flexible && (e = skip_tags(&r, lim)) != KC_OK)
		return e;
	if ((e = kc_decode_struct(&r, req->api->request, req->api_version,
							  req->flexible, a, lim, &req->body)) != KC_OK)
		return e;
	if (kc_reader_left(&r) != 0)
		return KC_ERR_TRAILING;
	return KC_OK;
}

/* encode header (by callback) + body twice: once to size, once to write */
typedef kc_err (*header_fn) (kc_writer *w, const void *arg);

static kc_err
encode_frame(kc_arena *a, header_fn header, const void *arg,
			 const kc_struct *body, int16_t version, int flexible,
			 uint8_t **out, size_t *len)
{
	kc_writer	w;
	kc_err		e;
	uint8_t    *buf;

	kc_writer_init(&w, NULL, 0);
	if ((e = header(&w, arg)) != KC_OK ||
		(e = kc_encode_struct(&w, body, version, flexible)) != KC_OK)
		return e;
	if (w.len > INT32_MAX - KC_FRAME_HDR)
		return KC_ERR_TOO_LONG;
	buf = kc_alloc(a, w.len + KC_FRAME_HDR);
	if (buf == NULL)
		return KC_ERR_NOMEM;
	kc_put_i32(buf, (int32_t) w.len);
	kc_writer_init(&w, buf + KC_FRAME_HDR, w.len);
	if ((e = header(&w, arg)) != KC_OK ||
		(e = kc_encode_struct(&w, body, version, flexible)) != KC_OK)
		return e;
	*out = buf;
	*len = w.len + KC_FRAME_HDR;
	return KC_OK;
}

static kc_err
request_header(kc_writer *w, const void *arg)
{
	const kc_request *req = arg;
	kc_err		e;

	if ((e = kc_write_i16(w, req->api_key)) != KC_OK ||
		(e = kc_write_i16(w, req->api_version)) != KC_OK ||
		(e = kc_write_i32(w, req->correlation_id)) != KC_OK ||
		(e = kc_write_string(w, 0, req->client_id)) != KC_OK)
		return e;
	return req->flexible ? kc_write_no_tags(w) : KC_OK;
}

kc_err
kc_encode_request(kc_arena *a, const kc_request *req, uint8_t **out,
				  size_t *len)
{
	const kc_api *api = kc_find_api(req->api_key);
	kc_request	r = *req;

	if (api == NULL)
		return KC_ERR_UNSUPPORTED_API;
	if (req->api_version < api->min_version || req->api_version > api->max_version)
		return KC_ERR_UNSUPPORTED_VERSION;
	if (req->body == NULL || req->body->schema != api->request)
		return KC_ERR_INVALID;
	r.flexible = kc_version_flexible(api, req->api_version);
	return encode_frame(a, request_header, &r, req->body, req->api_version,
						r.flexible, out, len);
}

typedef struct resp_hdr
{
	int32_t		correlation_id;
	int			tagged;
} resp_hdr;

static kc_err
response_header(kc_writer *w, const void *arg)
{
	const resp_hdr *h = arg;
	kc_err		e;

	if ((e = kc_write_i32(w, h->correlation_id)) != KC_OK)
		return e;
	return h->tagged ? kc_write_no_tags(w) : KC_OK;
}

kc_err
kc_encode_response(kc_arena *a, int16_t api_key, int16_t api_version,
				   int32_t correlation_id, const kc_struct *body,
				   uint8_t **out, size_t *len)
{
	const kc_api *api = kc_find_api(api_key);
	resp_hdr	h;
	int			flexible;

	if (api == NULL)
		return KC_ERR_UNSUPPORTED_API;
	if (api_version < api->min_version || api_version > api->max_version)
		return KC_ERR_UNSUPPORTED_VERSION;
	if (body == NULL || body->schema != api->response)
		return KC_ERR_INVALID;
	flexible = kc_version_flexible(api, api_version);
	h.correlation_id = correlation_id;
	h.tagged = response_header_flexible(api_key, flexible);
	return encode_frame(a, response_header, &h, body, api_version, flexible,
						out, len);
}

kc_err
kc_decode_response(const uint8_t *frame, size_t len, int16_t api_key,
				   int16_t api_version, kc_arena *a, const kc_limits *lim,
				   int32_t *correlation_id, kc_struct **body)
{
	const kc_api *api = kc_find_api(api_key);
	kc_reader	r;
	kc_err		e;
	int			flexible;

	if (lim == NULL)
		lim = &kc_default_limits;
	if (api == NULL)
		return KC_ERR_UNSUPPORTED_API;
	if (api_version < api->min_version || api_version > api->max_version)
		return KC_ERR_UNSUPPORTED_VERSION;
	flexible = kc_version_flexible(api, api_version);
	kc_reader_init(&r, frame, len);
	if ((e = kc_read_i32(&r, correlation_id)) != KC_OK)
		return e;
	if (response_header_flexible(api_key, flexible) &&
		(e = skip_tags(&r, lim)) != KC_OK)
		return e;
	if ((e = kc_decode_struct(&r, api->response, api_version, flexible, a,
							  lim, body)) != KC_OK)
		return e;
	return kc_reader_left(&r) ? KC_ERR_TRAILING : KC_OK;
}

kc_struct *
kc_apiversions_body(kc_arena *a, int16_t error_code)
{
	kc_struct  *s = kc_new_struct(a, kc_find_api(KC_API_APIVERSIONS)->response);
	kc_value   *keys;

	if (s == NULL)
		return NULL;
	s->f[KCF_ApiVersionsResponse_ErrorCode].u.i = error_code;
	keys = kc_new_array(a, s, KCF_ApiVersionsResponse_ApiKeys, kc_napis);
	if (keys == NULL)
		return NULL;
	for (int i = 0; i < kc_napis; i++)
	{
		kc_struct  *k = keys[i].u.s;

		k->f[KCF_ApiVersionsResponse_ApiVersion_ApiKey].u.i = kc_apis[i].key;
		k->f[KCF_ApiVersionsResponse_ApiVersion_MinVersion].u.i = kc_apis[i].min_version;
		k->f[KCF_ApiVersionsResponse_ApiVersion_MaxVersion].u.i = kc_apis[i].max_version;
	}
	return s;
}
