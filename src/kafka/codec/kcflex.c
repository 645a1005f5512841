/*
 * kcflex.c: the two encodings of strings, bytes and arrays, and tagged
 * fields.
 *
 * Classic versions prefix a string with an int16 length, bytes and arrays
 * with an int32 length, -1 meaning null.  Flexible versions (KIP-482) use
 * an unsigned varint of length + 1, 0 meaning null, and end every struct
 * with a tagged-field section: a count, then per field its tag, its size
 * and its data, in ascending tag order.
 *
 * A length is checked against the bytes left before anything is taken
 * from the input, so a huge length costs nothing.
 */
#include <string.h>

#include "eventlog/kafka/kcmsg.h"

static kc_err
read_len(kc_reader *r, int flexible, int wide, int nullable, int32_t *len)
{
	kc_err		e;

	if (flexible)
	{
		uint32_t	u;

		if ((e = kc_read_uvarint(r, &u)) != KC_OK)
			return e;
		if (u > (uint32_t) INT32_MAX)
			return KC_ERR_TOO_LONG;
		*len = (int32_t) u - 1;
	}
	else if (wide)
	{
		if ((e = kc_read_i32(r, len)) != KC_OK)
			return e;
	}
	else
	{
		int16_t		l;

		if ((e = kc_read_i16(r, &l)) != KC_OK)
			return e;
		*len = l;
	}
	if (*len < -1)
		return KC_ERR_NEGATIVE_LENGTH;
	if (*len == -1 && !nullable)
		return KC_ERR_NULL;
	return KC_OK;
}

static kc_err
read_blob(kc_reader *r, int flexible, int wide, int nullable, int32_t max_len,
		  kc_bytes *out)
{
	int32_t		len;
	kc_err		e;

	if ((e = read_len(r, flexible, wide, nullable, &len)) != KC_OK)
		return e;
	out->len = len;
	out->data = NULL;
	if (len == -1)
		return KC_OK;
	if (len > max_len)
		return KC_ERR_TOO_LONG;
	if ((size_t) len > kc_reader_left(r))
		return KC_ERR_TRUNCATED;
	return kc_read_raw(r, (size_t) len, &out->data);
}

kc_err
kc_read_string(kc_reader *r, int flexible, int nullable, int32_t max_len,
			   kc_bytes *out)
{
	return read_blob(r, flexible, 0, nullable, max_len, out);
}

kc_err
kc_read_bytes(kc_reader *r, int flexible, int nullable, int32_t max_len,
			  kc_bytes *out)
{
	return read_blob(r, flexible, 1, nullable, max_len, out);
}

kc_err
kc_read_array_len(kc_reader *r, int flexible, int nullable, int32_t max_n,
				  int32_t *n)
{
	kc_err		e;

	if ((e = read_len(r, flexible, 1, nullable, n)) != KC_OK)
		return e;
	if (*n > max_n)
		return KC_ERR_TOO_LONG;
	/* every element takes at least one byte in the encodings served */
	if (*n > 0 && (size_t) *n > kc_reader_left(r))
		return KC_ERR_TRUNCATED;
	return KC_OK;
}

static kc_err
write_len(kc_writer *w, int flexible, int wide, int32_t len)
{
	if (len < -1)
		return KC_ERR_INVALID;
	if (flexible)
		return kc_write_uvarint(w, (uint32_t) (len + 1));
	if (wide)
		return kc_write_i32(w, len);
	if (len > INT16_MAX)
		return KC_ERR_UNREPRESENTABLE;
	return kc_write_i16(w, (int16_t) len);
}

kc_err
kc_write_string(kc_writer *w, int flexible, kc_bytes s)
{
	kc_err		e;

	if ((e = write_len(w, flexible, 0, s.len)) != KC_OK)
		return e;
	return s.len > 0 ? kc_write_raw(w, s.data, (size_t) s.len) : KC_OK;
}

kc_err
kc_write_bytes(kc_writer *w, int flexible, kc_bytes b)
{
	kc_err		e;

	if ((e = write_len(w, flexible, 1, b.len)) != KC_OK)
		return e;
	return b.len > 0 ? kc_write_raw(w, b.data, (size_t) b.len) : KC_OK;
}

kc_err
kc_write_array_len(kc_writer *w, int flexible, int32_t n)
{
	return write_len(w, flexible, 1, n);
}

kc_err
kc_read_tag_count(kc_reader *r, int32_t max_tags, uint32_t *n)
{
	kc_err		e;

	if ((e = kc_read_uvarint(r, n)) != KC_OK)
		return e;
	/* each tagged field takes at least two bytes (tag, size) */
	if (*n > (uint32_t) max_tags || *n > kc_reader_left(r) / 2)
		return KC_ERR_TAG;
	return KC_OK;
}

kc_err
kc_read_tag(kc_reader *r, uint32_t *tag, kc_reader *data)
{
	uint32_t	size;
	const uint8_t *p;
	kc_err		e;

	if ((e = kc_read_uvarint(r, tag)) != KC_OK)
		return e;
	if ((e = kc_read_uvarint(r, &size)) != KC_OK)
		return e;
	if (size > kc_reader_left(r))
		return KC_ERR_TRUNCATED;
	if ((e = kc_read_raw(r, size, &p)) != KC_OK)
		return e;
	kc_reader_init(data, p, size);
	return KC_OK;
}

kc_err
kc_write_no_tags(kc_writer *w)
{
	return kc_write_uvarint(w, 0);
}

kc_bytes
kc_cstr(const char *s)
{
	kc_bytes	b;

	b.data = (const uint8_t *) s;
	b.len = s ? (int32_t) strlen(s) : -1;
	return b;
}
