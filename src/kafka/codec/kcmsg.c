/*
 * kcmsg.c: decoding and encoding of request and response bodies by walking
 * the generated message tables (kcschema.c), for every served version.
 *
 * Decoding: every field of the version is read in table order, fields
 * tagged in that version from the tagged-field section (ascending tags,
 * each field's data consumed exactly); fields the version lacks take their
 * defaults, so the server reads any field of any version.  Unknown tags
 * are kept and written back.  Lengths and counts are checked against the
 * input and the limits before anything is allocated; all memory comes from
 * the caller's arena.
 *
 * Encoding: the same walk; a value the version cannot carry (a non-default
 * value in a field it lacks and that is not ignorable, a null where the
 * version allows none) is KC_ERR_UNREPRESENTABLE or KC_ERR_NULL rather
 * than silently lost.  Tagged fields at their defaults are omitted.
 */
#include <string.h>

#include "eventlog/kafka/kcmsg.h"

#define IN(v, lo, hi) ((lo) >= 0 && (v) >= (lo) && (v) <= (hi))

static int
field_present(const kc_field *f, int16_t v)
{
	return IN(v, f->vmin, f->vmax);
}

static int
field_tagged(const kc_field *f, int16_t v, int flexible)
{
	return flexible && f->tag >= 0 && IN(v, f->tmin, f->tmax);
}

static int
field_nullable(const kc_field *f, int16_t v)
{
	return IN(v, f->nmin, f->nmax);
}

const kc_api *
kc_find_api(int16_t key)
{
	for (int i = 0; i < kc_napis; i++)
		if (kc_apis[i].key == key)
			return &kc_apis[i];
	return NULL;
}

int
kc_version_flexible(const kc_api *api, int16_t version)
{
	return api->flex_min >= 0 && version >= api->flex_min;
}

/* ---- defaults ---- */

static kc_err set_default(kc_arena *a, const kc_field *f, kc_value *v, int depth);

static kc_struct *
new_struct(kc_arena *a, const kc_schema *schema, int depth)
{
	kc_struct  *s;

	if (depth > 64)
		return NULL;
	s = kc_alloc(a, sizeof(kc_struct));
	if (s == NULL)
		return NULL;
	s->schema = schema;
	s->f = kc_alloc_array(a, schema->nfields ? schema->nfields : 1, sizeof(kc_value));
	if (s->f == NULL)
		return NULL;
	for (int i = 0; i < schema->nfields; i++)
		if (set_default(a, &schema->fields[i], &s->f[i], depth) != KC_OK)
			return NULL;
	return s;
}

kc_struct *
kc_new_struct(kc_arena *a, const kc_schema *schema)
{
	return new_struct(a, schema, 0);
}

static kc_err
set_default(kc_arena *a, const kc_field *f, kc_value *v, int depth)
{
	memset(v, 0, sizeof(*v));
	if (f->flags & KC_F_ARRAY)
	{
		v->u.a.n = 0;
		v->u.a.items = NULL;
		return KC_OK;
	}
	switch ((kc_type) f->type)
	{
		case KC_T_STRING:
			if (f->sdef)
				v->u.b = kc_cstr(f->sdef);
			else if (f->flags & KC_F_DEFNULL)
				v->u.b.len = -1;
			else
				v->u.b = kc_cstr("");
			break;
		case KC_T_BYTES:
			v->u.b = kc_cstr("");
			break;
		case KC_T_RECORDS:
			v->u.b.len = -1;
			break;
		case KC_T_STRUCT:
			v->u.s = new_struct(a, f->sub, depth + 1);
			if (v->u.s == NULL)
				return KC_ERR_NOMEM;
			break;
		case KC_T_FLOAT64:
			v->u.f = 0;
			break;
		case KC_T_UUID:
			break;
		default:
			v->u.i = f->idef;
			break;
	}
	return KC_OK;
}

kc_value *
kc_new_array(kc_arena *a, kc_struct *s, int idx, int32_t n)
{
	const kc_field *f = &s->schema->fields[idx];
	kc_value   *items;

	if (n < 0 || !(f->flags & KC_F_ARRAY))
		return NULL;
	items = kc_alloc_array(a, n ? (size_t) n : 1, sizeof(kc_value));
	if (items == NULL)
		return NULL;
	if (f->type == KC_T_STRUCT)
		for (int32_t i = 0; i < n; i++)
			if ((items[i].u.s = kc_new_struct(a, f->sub)) == NULL)
				return NULL;
	s->f[idx].u.a.n = n;
	s->f[idx].u.a.items = items;
	return items;
}

static int	struct_equal(const kc_struct *x, const kc_struct *y, int16_t v,
						 int tagged_only_defaults);

static int
bytes_equal(kc_bytes x, kc_bytes y)
{
	if (x.len != y.len)
		return 0;
	return x.len <= 0 || memcmp(x.data, y.data, (size_t) x.len) == 0;
}

static int
elem_equal(const kc_field *f, const kc_value *x, const kc_value *y, int16_t v)
{
	switch ((kc_type) f->type)
	{
		case KC_T_STRING:
		case KC_T_BYTES:
		case KC_T_RECORDS:
			return bytes_equal(x->u.b, y->u.b);
		case KC_T_UUID:
			return memcmp(x->u.uuid, y->u.uuid, 16) == 0;
		case KC_T_FLOAT64:
			return memcmp(&x->u.f, &y->u.f, sizeof(double)) == 0;
		case KC_T_STRUCT:
			return struct_equal(x->u.s, y->u.s, v, 0);
		default:
			return x->u.i == y->u.i;
	}
}

static int
value_equal(const kc_field *f, const kc_value *x, const kc_value *y, int16_t v)
{
	if (f->flags & KC_F_ARRAY)
	{
		if (x->u.a.n != y->u.a.n)
			return 0;
		for (int32_t i = 0; i < x->u.a.n; i++)
			if (!elem_equal(f, &x->u.a.items[i], &y->u.a.items[i], v))
				return 0;
		return 1;
	}
	return elem_equal(f, x, y, v);
}

/* is v the field's default (what a version lacking the field implies)? */
static int
is_default(const kc_field *f, const kc_value *v, int16_t version)
{
	if (f->flags & KC_F_ARRAY)
		return v->u.a.n == 0;
	switch ((kc_type) f->type)
	{
		case KC_T_STRING:
			if (f->sdef)
				return bytes_equal(v->u.b, kc_cstr(f->sdef));
			if (f->flags & KC_F_DEFNULL)
				return v->u.b.len == -1;
			return v->u.b.len == 0;
		case KC_T_BYTES:
			return v->u.b.len == 0;
		case KC_T_RECORDS:
			return v->u.b.len == -1;
		case KC_T_UUID:
			for (int i = 0; i < 16; i++)
				if (v->u.uuid[i])
					return 0;
			return 1;
		case KC_T_FLOAT64:
			return v->u.f == 0;
		case KC_T_STRUCT:
			if (v->u.s == NULL)
				return 1;
			if (v->u.s->nunknown)
				return 0;
			for (int i = 0; i < f->sub->nfields; i++)
				if (field_present(&f->sub->fields[i], version) &&
					!is_default(&f->sub->fields[i], &v->u.s->f[i], version))
					return 0;
			return 1;
		default:
			return v->u.i == f->idef;
	}
}

static int
struct_equal(const kc_struct *x, const kc_struct *y, int16_t v, int unused)
{
	(void) unused;
	if (x == NULL || y == NULL)
		return x == y;
	if (x->schema != y->schema || x->nunknown != y->nunknown)
		return 0;
	for (int i = 0; i < x->schema->nfields; i++)
	{
		const kc_field *f = &x->schema->fields[i];

		if (field_present(f, v) && !value_equal(f, &x->f[i], &y->f[i], v))
			return 0;
	}
	for (int32_t i = 0; i < x->nunknown; i++)
		if (x->unknown[i].tag != y->unknown[i].tag ||
			!bytes_equal(x->unknown[i].data, y->unknown[i].data))
			return 0;
	return 1;
}

int
kc_struct_equal(const kc_struct *x, const kc_struct *y, int16_t version)
{
	return struct_equal(x, y, version, 0);
}

/* ---- decoding ---- */

typedef struct dctx
{
	int16_t		version;
	int			flexible;
	kc_arena   *a;
	const kc_limits *lim;
} dctx;

static kc_err decode_struct(kc_reader *r, const kc_schema *schema, dctx *c,
							int depth, kc_struct **out);

static kc_err
decode_elem(kc_reader *r, const kc_field *f, int nullable, dctx *c, int depth,
			kc_value *v)
{
	kc_err		e;
	int8_t		i8;
	int16_t		i16;
	uint16_t	u16;
	int32_t		i32;
	uint32_t	u32;
	const uint8_t *p;

	switch ((kc_type) f->type)
	{
		case KC_T_BOOL:
			if ((e = kc_read_i8(r, &i8)) != KC_OK)
				return e;
			if (i8 != 0 && i8 != 1)
				return KC_ERR_INVALID;
			v->u.i = i8;
			return KC_OK;
		case KC_T_INT8:
			e = kc_read_i8(r, &i8);
			v->u.i = i8;
			return e;
		case KC_T_INT16:
			e = kc_read_i16(r, &i16);
			v->u.i = i16;
			return e;
		case KC_T_UINT16:
			e = kc_read_u16(r, &u16);
			v->u.i = u16;
			return e;
		case KC_T_INT32:
			e = kc_read_i32(r, &i32);
			v->u.i = i32;
			return e;
		case KC_T_UINT32:
			e = kc_read_u32(r, &u32);
			v->u.i = u32;
			return e;
		case KC_T_INT64:
			return kc_read_i64(r, &v->u.i);
		case KC_T_FLOAT64:
			return kc_read_f64(r, &v->u.f);
		case KC_T_UUID:
			if ((e = kc_read_raw(r, 16, &p)) != KC_OK)
				return e;
			memcpy(v->u.uuid, p, 16);
			return KC_OK;
		case KC_T_STRING:
			return kc_read_string(r, c->flexible, nullable, c->lim->max_bytes, &v->u.b);
		case KC_T_BYTES:
		case KC_T_RECORDS:
			return kc_read_bytes(r, c->flexible, nullable, c->lim->max_bytes, &v->u.b);
		case KC_T_STRUCT:
			return decode_struct(r, f->sub, c, depth + 1, &v->u.s);
	}
	return KC_ERR_INVALID;
}

static kc_err
decode_value(kc_reader *r, const kc_field *f, dctx *c, int depth, kc_value *v)
{
	int			nullable = field_nullable(f, c->version);
	kc_err		e;

	if (f->flags & KC_F_ARRAY)
	{
		int32_t		n;

		if ((e = kc_read_array_len(r, c->flexible, nullable, c->lim->max_array, &n)) != KC_OK)
			return e;
		v->u.a.n = n;
		v->u.a.items = NULL;
		if (n <= 0)
			return KC_OK;
		v->u.a.items = kc_alloc_array(c->a, (size_t) n, sizeof(kc_value));
		if (v->u.a.items == NULL)
			return KC_ERR_NOMEM;
		for (int32_t i = 0; i < n; i++)
			if ((e = decode_elem(r, f, 0, c, depth, &v->u.a.items[i])) != KC_OK)
				return e;
		return KC_OK;
	}
	return decode_elem(r, f, nullable, c, depth, v);
}

static kc_err
decode_struct(kc_reader *r, const kc_schema *schema, dctx *c, int depth,
			  kc_struct **out)
{
	kc_struct  *s;
	kc_err		e;

	if (depth > c->lim->max_depth)
		return KC_ERR_TOO_LONG;
	s = kc_alloc(c->a, sizeof(kc_struct));
	if (s == NULL)
		return KC_ERR_NOMEM;
	s->schema = schema;
	s->f = kc_alloc_array(c->a, schema->nfields ? schema->nfields : 1, sizeof(kc_value));
	if (s->f == NULL)
		return KC_ERR_NOMEM;
	*out = s;

	for (int i = 0; i < schema->nfields; i++)
	{
		const kc_field *f = &schema->fields[i];

		if (!field_present(f, c->version) || field_tagged(f, c->version, c->flexible))
		{
			/* defaults; a struct default is built only when not read below */
			if (f->type == KC_T_STRUCT && !(f->flags & KC_F_ARRAY) &&
				field_tagged(f, c->version, c->flexible))
				continue;
			if ((e = set_default(c->a, f, &s->f[i], depth)) != KC_OK)
				return e;
			continue;
		}
		if ((e = decode_value(r, f, c, depth, &s->f[i])) != KC_OK)
			return e;
	}

	if (c->flexible)
	{
		uint32_t	ntags;
		int64_t		last = -1;
		uint8_t		seen[64];
		int32_t		nunknown = 0;

		memset(seen, 0, sizeof(seen));
		if ((e = kc_read_tag_count(r, c->lim->max_tags, &ntags)) != KC_OK)
			return e;
		if (ntags > 0)
		{
			s->unknown = kc_alloc_array(c->a, ntags, sizeof(kc_unknown_tag));
			if (s->unknown == NULL)
				return KC_ERR_NOMEM;
		}
		for (uint32_t t = 0; t < ntags; t++)
		{
			uint32_t	tag;
			kc_reader	data;
			int			found = -1;

			if ((e = kc_read_tag(r, &tag, &data)) != KC_OK)
				return e;
			if ((int64_t) tag <= last)
				return KC_ERR_TAG;
			last = tag;
			for (int i = 0; i < schema->nfields && i < 64; i++)
				if (schema->fields[i].tag == (int32_t) tag &&
					field_tagged(&schema->fields[i], c->version, 1))
					found = i;
			if (found < 0)
			{
				s->unknown[nunknown].tag = tag;
				s->unknown[nunknown].data.data = data.p;
				s->unknown[nunknown].data.len = (int32_t) kc_reader_left(&data);
				nunknown++;
				continue;
			}
			seen[found] = 1;
			if ((e = decode_value(&data, &schema->fields[found], c, depth,
								  &s->f[found])) != KC_OK)
				return e;
			if (kc_reader_left(&data) != 0)
				return KC_ERR_TAG;
		}
		s->nunknown = nunknown;
		/* tagged structs not sent: their defaults */
		for (int i = 0; i < schema->nfields && i < 64; i++)
		{
			const kc_field *f = &schema->fields[i];

			if (!seen[i] && f->type == KC_T_STRUCT && !(f->flags & KC_F_ARRAY) &&
				field_tagged(f, c->version, 1) &&
				(e = set_default(c->a, f, &s->f[i], depth)) != KC_OK)
				return e;
		}
	}
	return KC_OK;
}

kc_err
kc_decode_struct(kc_reader *r, const kc_schema *schema, int16_t version,
				 int flexible, kc_arena *a, const kc_limits *lim,
				 kc_struct **out)
{
	dctx		c;

	c.version = version;
	c.flexible = flexible;
	c.a = a;
	c.lim = lim ? lim : &kc_default_limits;
	*out = NULL;
	return decode_struct(r, schema, &c, 0, out);
}

/* ---- encoding ---- */

static kc_err encode_struct(kc_writer *w, const kc_struct *s, int16_t v,
							int flexible, int depth);

static kc_err
encode_elem(kc_writer *w, const kc_field *f, int nullable, const kc_value *val,
			int16_t v, int flexible, int depth)
{
	switch ((kc_type) f->type)
	{
		case KC_T_BOOL:
			if (val->u.i != 0 && val->u.i != 1)
				return KC_ERR_INVALID;
			return kc_write_i8(w, (int8_t) val->u.i);
		case KC_T_INT8:
			if (val->u.i < INT8_MIN || val->u.i > INT8_MAX)
				return KC_ERR_INVALID;
			return kc_write_i8(w, (int8_t) val->u.i);
		case KC_T_INT16:
			if (val->u.i < INT16_MIN || val->u.i > INT16_MAX)
				return KC_ERR_INVALID;
			return kc_write_i16(w, (int16_t) val->u.i);
		case KC_T_UINT16:
			if (val->u.i < 0 || val->u.i > UINT16_MAX)
				return KC_ERR_INVALID;
			return kc_write_u16(w, (uint16_t) val->u.i);
		case KC_T_INT32:
			if (val->u.i < INT32_MIN || val->u.i > INT32_MAX)
				return KC_ERR_INVALID;
			return kc_write_i32(w, (int32_t) val->u.i);
		case KC_T_UINT32:
			if (val->u.i < 0 || val->u.i > (int64_t) UINT32_MAX)
				return KC_ERR_INVALID;
			return kc_write_u32(w, (uint32_t) val->u.i);
		case KC_T_INT64:
			return kc_write_i64(w, val->u.i);
		case KC_T_FLOAT64:
			return kc_write_f64(w, val->u.f);
		case KC_T_UUID:
			return kc_write_raw(w, val->u.uuid, 16);
		case KC_T_STRING:
			if (val->u.b.len == -1 && !nullable)
				return KC_ERR_NULL;
			return kc_write_string(w, flexible, val->u.b);
		case KC_T_BYTES:
		case KC_T_RECORDS:
			if (val->u.b.len == -1 && !nullable)
				return KC_ERR_NULL;
			return kc_write_bytes(w, flexible, val->u.b);
		case KC_T_STRUCT:
			if (val->u.s == NULL)
				return KC_ERR_NULL;
			return encode_struct(w, val->u.s, v, flexible, depth + 1);
	}
	return KC_ERR_INVALID;
}

static kc_err
encode_value(kc_writer *w, const kc_field *f, const kc_value *val, int16_t v,
			 int flexible, int depth)
{
	int			nullable = field_nullable(f, v);
	kc_err		e;

	if (f->flags & KC_F_ARRAY)
	{
		if (val->u.a.n == -1 && !nullable)
			return KC_ERR_NULL;
		if ((e = kc_write_array_len(w, flexible, val->u.a.n)) != KC_OK)
			return e;
		for (int32_t i = 0; i < val->u.a.n; i++)
			if ((e = encode_elem(w, f, 0, &val->u.a.items[i], v, flexible, depth)) != KC_OK)
				return e;
		return KC_OK;
	}
	return encode_elem(w, f, nullable, val, v, flexible, depth);
}

/* write one tagged field: tag, size, data */
static kc_err
encode_tagged(kc_writer *w, uint32_t tag, const kc_field *f,
			  const kc_value *val, const kc_bytes *raw, int16_t v, int depth)
{
	kc_writer	count;
	kc_err		e;

	kc_writer_init(&count, NULL, 0);
	if (raw)
		count.len = (size_t) raw->len;
	else if ((e = encode_value(&count, f, val, v, 1, depth)) != KC_OK)
		return e;
	if (count.len > UINT32_MAX)
		return KC_ERR_TOO_LONG;
	if ((e = kc_write_uvarint(w, tag)) != KC_OK ||
		(e = kc_write_uvarint(w, (uint32_t) count.len)) != KC_OK)
		return e;
	if (raw)
		return kc_write_raw(w, raw->data, (size_t) raw->len);
	return encode_value(w, f, val, v, 1, depth);
}

static kc_err
encode_struct(kc_writer *w, const kc_struct *s, int16_t v, int flexible,
			  int depth)
{
	const kc_schema *schema = s->schema;
	kc_err		e;
	uint32_t	ntags = 0;
	int64_t		last;

	if (depth > 64)
		return KC_ERR_TOO_LONG;
	for (int i = 0; i < schema->nfields; i++)
	{
		const kc_field *f = &schema->fields[i];

		if (!field_present(f, v))
		{
			if (!(f->flags & KC_F_IGNORABLE) && !is_default(f, &s->f[i], v))
				return KC_ERR_UNREPRESENTABLE;
			continue;
		}
		if (field_tagged(f, v, flexible))
		{
			if (!is_default(f, &s->f[i], v))
				ntags++;
			continue;
		}
		if ((e = encode_value(w, f, &s->f[i], v, flexible, depth)) != KC_OK)
			return e;
	}
	if (!flexible)
		return s->nunknown ? KC_ERR_UNREPRESENTABLE : KC_OK;

	ntags += (uint32_t) s->nunknown;
	if ((e = kc_write_uvarint(w, ntags)) != KC_OK)
		return e;
	/* ascending tag order over known and unknown tagged fields */
	last = -1;
	for (uint32_t t = 0; t < ntags; t++)
	{
		int64_t		best = INT64_MAX;
		int			bi = -1,
					bu = -1;

		for (int i = 0; i < schema->nfields; i++)
		{
			const kc_field *f = &schema->fields[i];

			if (field_present(f, v) && field_tagged(f, v, 1) &&
				f->tag > last && f->tag < best && !is_default(f, &s->f[i], v))
			{
				best = f->tag;
				bi = i;
			}
		}
		for (int32_t u = 0; u < s->nunknown; u++)
			if ((int64_t) s->unknown[u].tag > last &&
				(int64_t) s->unknown[u].tag < best)
			{
				best = s->unknown[u].tag;
				bu = u;
				bi = -1;
			}
		if (best == INT64_MAX)
			return KC_ERR_TAG;	/* duplicate tags */
		if (bu >= 0)
			e = encode_tagged(w, (uint32_t) best, NULL, NULL,
							  &s->unknown[bu].data, v, depth);
		else
			e = encode_tagged(w, (uint32_t) best, &schema->fields[bi],
							  &s->f[bi], NULL, v, depth);
		if (e != KC_OK)
			return e;
		last = best;
	}
	return KC_OK;
}

kc_err
kc_encode_struct(kc_writer *w, const kc_struct *s, int16_t version,
				 int flexible)
{
	return encode_struct(w, s, version, flexible, 0);
}
