/*
 * kccompress.c: the record codecs of RecordBatch v2: gzip (zlib, gzip
 * framing, concatenated members accepted), snappy (raw, as librdkafka
 * writes it, or xerial-framed, as the Java client writes it; we write
 * xerial framing, which every client reads), lz4 (the LZ4 frame format) and
 * zstd (a zstd frame).
 *
 * Decompression never writes more than max_out bytes: the output grows in
 * the arena as data arrives and decoding stops with
 * KC_ERR_DECOMPRESSED_TOO_LARGE at the limit, so a small "bomb" costs at
 * most the limit.  zlib's and zstd's own state is allocated from the arena
 * (under its cap) and zstd's window is bounded by the limit.  Every loop
 * requires progress, so truncated or garbage input ends in
 * KC_ERR_COMPRESSION, never in a hang.
 */
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "eventlog/kafka/kcbatch.h"

/* A growing output buffer in the arena, capped at max. */
typedef struct outbuf
{
	kc_arena   *a;
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	size_t		max;
} outbuf;

static kc_err
out_reserve(outbuf *o, size_t want)
{
	size_t		ncap;
	uint8_t    *n;

	if (o->len + want <= o->cap)
		return KC_OK;
	if (o->len + want > o->max)
	{
		want = o->max - o->len;
		if (want == 0 || o->len + want <= o->cap)
			return o->cap > o->len ? KC_OK : KC_ERR_DECOMPRESSED_TOO_LARGE;
	}
	ncap = o->cap ? o->cap : 4096;
	while (ncap < o->len + want)
		ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
	if (ncap > o->max)
		ncap = o->max;
	n = kc_alloc(o->a, ncap);
	if (n == NULL)
		return KC_ERR_NOMEM;
	if (o->len)
		memcpy(n, o->data, o->len);
	o->data = n;
	o->cap = ncap;
	return KC_OK;
}

/* room to write into, at least 1 byte unless at max */
static kc_err
out_room(outbuf *o, size_t hint)
{
	if (o->cap > o->len)
		return KC_OK;
	if (o->len >= o->max)
		return KC_ERR_DECOMPRESSED_TOO_LARGE;
	return out_reserve(o, hint > o->len ? hint : o->len + 1);
}

static void *
arena_zalloc(void *opaque, unsigned items, unsigned size)
{
	return kc_alloc_array(opaque, items, size);
}

static void
arena_zfree(void *opaque, void *ptr)
{
	(void) opaque;
	(void) ptr;
}

static kc_err
gzip_decompress(const uint8_t *in, size_t inlen, outbuf *o)
{
	z_stream	zs;
	int			rc;
	kc_err		e = KC_OK;

	if (inlen > UINT32_MAX)
		return KC_ERR_TOO_LONG;
	memset(&zs, 0, sizeof(zs));
	zs.zalloc = arena_zalloc;
	zs.zfree = arena_zfree;
	zs.opaque = o->a;
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return KC_ERR_NOMEM;
	zs.next_in = (Bytef *) in;
	zs.avail_in = (uInt) inlen;
	for (;;)
	{
		size_t		before_in = zs.avail_in,
					before_len = o->len;

		if ((e = out_room(o, 4 * inlen)) != KC_OK)
			break;
		zs.next_out = o->data + o->len;
		zs.avail_out = (uInt) ((o->cap - o->len) > UINT32_MAX ? UINT32_MAX : o->cap - o->len);
		{
			uInt		room = zs.avail_out;

			rc = inflate(&zs, Z_NO_FLUSH);
			o->len += room - zs.avail_out;
		}
		if (rc == Z_STREAM_END)
		{
			if (zs.avail_in == 0)
				break;
			/* another gzip member follows */
			if (inflateReset(&zs) != Z_OK)
			{
				e = KC_ERR_COMPRESSION;
				break;
			}
			continue;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
		{
			e = rc == Z_MEM_ERROR ? KC_ERR_NOMEM : KC_ERR_COMPRESSION;
			break;
		}
		if (zs.avail_in == before_in && o->len == before_len)
		{
			/* no progress: input ended inside the stream */
			e = KC_ERR_COMPRESSION;
			break;
		}
	}
	inflateEnd(&zs);
	return e;
}

static kc_err
gzip_compress(const uint8_t *in, size_t inlen, kc_arena *a, uint8_t **out,
			  size_t *outlen)
{
	z_stream	zs;
	uLong		bound;
	int			rc;

	if (inlen > UINT32_MAX / 2)
		return KC_ERR_TOO_LONG;
	memset(&zs, 0, sizeof(zs));
	zs.zalloc = arena_zalloc;
	zs.zfree = arena_zfree;
	zs.opaque = a;
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
					 Z_DEFAULT_STRATEGY) != Z_OK)
		return KC_ERR_NOMEM;
	bound = deflateBound(&zs, (uLong) inlen);
	*out = kc_alloc(a, bound);
	if (*out == NULL)
	{
		deflateEnd(&zs);
		return KC_ERR_NOMEM;
	}
	zs.next_in = (Bytef *) in;
	zs.avail_in = (uInt) inlen;
	zs.next_out = *out;
	zs.avail_out = (uInt) bound;
	rc = deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return rc == Z_STREAM_END ? KC_OK : KC_ERR_COMPRESSION;
}

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

static kc_err
snappy_block(const uint8_t *in, size_t inlen, outbuf *o)
{
	size_t		ulen;

	if (snappy_uncompressed_length((const char *) in, inlen, &ulen) != SNAPPY_OK)
		return KC_ERR_COMPRESSION;
	if (ulen > o->max - o->len)
		return KC_ERR_DECOMPRESSED_TOO_LARGE;
	if (ulen == 0)
		return snappy_validate_compressed_buffer((const char *) in, inlen) == SNAPPY_OK ?
			KC_OK : KC_ERR_COMPRESSION;
	if (out_reserve(o, ulen) != KC_OK || o->cap - o->len < ulen)
		return KC_ERR_NOMEM;
	if (snappy_uncompress((const char *) in, inlen, (char *) o->data + o->len, &ulen) != SNAPPY_OK)
		return KC_ERR_COMPRESSION;
	o->len += ulen;
	return KC_OK;
}

static kc_err
snappy_decompress(const uint8_t *in, size_t inlen, outbuf *o)
{
	size_t		pos = 16;

	if (inlen < 16 || memcmp(in, xerial_magic, 8) != 0)
		return snappy_block(in, inlen, o);
	/* xerial framing: magic, version, compatible version, then blocks */
	while (pos < inlen)
	{
		int32_t		blen;
		kc_err		e;

		if (inlen - pos < 4)
			return KC_ERR_COMPRESSION;
		blen = kc_get_i32(in + pos);
		pos += 4;
		if (blen < 0 || (size_t) blen > inlen - pos)
			return KC_ERR_COMPRESSION;
		if ((e = snappy_block(in + pos, (size_t) blen, o)) != KC_OK)
			return e;
		pos += (size_t) blen;
	}
	return KC_OK;
}

#define XERIAL_BLOCK 32768

static kc_err
snappy_compress_xerial(const uint8_t *in, size_t inlen, kc_arena *a,
					   uint8_t **out, size_t *outlen)
{
	size_t		nblocks = inlen / XERIAL_BLOCK + 1;
	size_t		cap = 16 + nblocks * (4 + snappy_max_compressed_length(XERIAL_BLOCK));
	uint8_t    *buf = kc_alloc(a, cap);
	size_t		pos = 16;

	if (buf == NULL)
		return KC_ERR_NOMEM;
	memcpy(buf, xerial_magic, 8);
	kc_put_i32(buf + 8, 1);
	kc_put_i32(buf + 12, 1);
	for (size_t off = 0; off < inlen; off += XERIAL_BLOCK)
	{
		size_t		n = inlen - off < XERIAL_BLOCK ? inlen - off : XERIAL_BLOCK;
		size_t		clen = cap - pos - 4;

		if (snappy_compress((const char *) in + off, n, (char *) buf + pos + 4, &clen) != SNAPPY_OK)
			return KC_ERR_COMPRESSION;
		kc_put_i32(buf + pos, (int32_t) clen);
		pos += 4 + clen;
	}
	*out = buf;
	*outlen = pos;
	return KC_OK;
}

static kc_err
lz4_decompress(const uint8_t *in, size_t inlen, outbuf *o)
{
	LZ4F_dctx  *dctx;
	size_t		pos = 0;
	size_t		rc = 1;
	kc_err		e = KC_OK;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return KC_ERR_NOMEM;
	while (pos < inlen)
	{
		size_t		src = inlen - pos;
		size_t		dst;

		if ((e = out_room(o, 4 * inlen)) != KC_OK)
			break;
		dst = o->cap - o->len;
		rc = LZ4F_decompress(dctx, o->data + o->len, &dst, in + pos, &src, NULL);
		if (LZ4F_isError(rc))
		{
			e = KC_ERR_COMPRESSION;
			break;
		}
		pos += src;
		o->len += dst;
		if (rc == 0)
		{
			/* end of a frame: another may follow */
			if (pos < inlen)
				LZ4F_resetDecompressionContext(dctx);
			continue;
		}
		if (src == 0 && dst == 0)
		{
			e = KC_ERR_COMPRESSION;
			break;
		}
	}
	/* flush what the context still holds, then require a complete frame */
	while (e == KC_OK && rc != 0)
	{
		size_t		src = 0;
		size_t		dst;

		if ((e = out_room(o, 4 * inlen)) != KC_OK)
			break;
		dst = o->cap - o->len;
		rc = LZ4F_decompress(dctx, o->data + o->len, &dst, in + pos, &src, NULL);
		if (LZ4F_isError(rc) || (rc != 0 && dst == 0))
			e = KC_ERR_COMPRESSION;
		o->len += dst;
	}
	LZ4F_freeDecompressionContext(dctx);
	return e;
}

static kc_err
lz4_compress(const uint8_t *in, size_t inlen, kc_arena *a, uint8_t **out,
			 size_t *outlen)
{
	LZ4F_preferences_t prefs;
	size_t		bound;
	size_t		rc;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	bound = LZ4F_compressFrameBound(inlen, &prefs);
	*out = kc_alloc(a, bound);
	if (*out == NULL)
		return KC_ERR_NOMEM;
	rc = LZ4F_compressFrame(*out, bound, in, inlen, &prefs);
	if (LZ4F_isError(rc))
		return KC_ERR_COMPRESSION;
	*outlen = rc;
	return KC_OK;
}

static void *
arena_zstd_alloc(void *opaque, size_t size)
{
	return kc_alloc(opaque, size);
}

static void
arena_zstd_free(void *opaque, void *ptr)
{
	(void) opaque;
	(void) ptr;
}

static kc_err
zstd_decompress(const uint8_t *in, size_t inlen, outbuf *o)
{
	ZSTD_customMem mem = {arena_zstd_alloc, arena_zstd_free, o->a};
	ZSTD_DCtx  *dctx = ZSTD_createDCtx_advanced(mem);
	ZSTD_inBuffer src = {in, inlen, 0};
	int			wlog = 10;
	size_t		rc = 1;
	kc_err		e = KC_OK;

	if (dctx == NULL)
		return KC_ERR_NOMEM;
	/* no window larger than the output may grow: bounds zstd's memory */
	while (wlog < 27 && ((size_t) 1 << wlog) < o->max)
		wlog++;
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, wlog);
	for (;;)
	{
		ZSTD_outBuffer dst;
		size_t		before_in = src.pos;

		if (src.pos == src.size && rc == 0)
			break;
		if ((e = out_room(o, 4 * inlen)) != KC_OK)
			break;
		dst.dst = o->data + o->len;
		dst.size = o->cap - o->len;
		dst.pos = 0;
		rc = ZSTD_decompressStream(dctx, &dst, &src);
		if (ZSTD_isError(rc))
		{
			ZSTD_ErrorCode zc = ZSTD_getErrorCode(rc);

			/* a window beyond the bound: the output would be too */
			e = zc == ZSTD_error_memory_allocation ? KC_ERR_NOMEM :
				zc == ZSTD_error_frameParameter_windowTooLarge ?
				KC_ERR_DECOMPRESSED_TOO_LARGE : KC_ERR_COMPRESSION;
			break;
		}
		o->len += dst.pos;
		if (src.pos == before_in && dst.pos == 0)
		{
			e = KC_ERR_COMPRESSION;	/* truncated frame */
			break;
		}
	}
	/* the context's memory is in the arena: nothing to free */
	return e;
}

static kc_err
zstd_compress(const uint8_t *in, size_t inlen, kc_arena *a, uint8_t **out,
			  size_t *outlen)
{
	ZSTD_customMem mem = {arena_zstd_alloc, arena_zstd_free, a};
	ZSTD_CCtx  *cctx = ZSTD_createCCtx_advanced(mem);
	size_t		bound = ZSTD_compressBound(inlen);
	size_t		rc;

	if (cctx == NULL)
		return KC_ERR_NOMEM;
	*out = kc_alloc(a, bound);
	if (*out == NULL)
		return KC_ERR_NOMEM;
	rc = ZSTD_compressCCtx(cctx, *out, bound, in, inlen, 3);
	if (ZSTD_isError(rc))
		return KC_ERR_COMPRESSION;
	*outlen = rc;
	return KC_OK;
}

kc_err
kc_decompress(kc_codec codec, const uint8_t *in, size_t inlen, size_t max_out,
			  kc_arena *a, uint8_t **out, size_t *outlen)
{
	outbuf		o = {a, NULL, 0, 0, max_out};
	kc_err		e;

	switch (codec)
	{
		case KC_CODEC_GZIP:
			e = gzip_decompress(in, inlen, &o);
			break;
		case KC_CODEC_SNAPPY:
			e = snappy_decompress(in, inlen, &o);
			break;
		case KC_CODEC_LZ4:
			e = lz4_decompress(in, inlen, &o);
			break;
		case KC_CODEC_ZSTD:
			e = zstd_decompress(in, inlen, &o);
			break;
		case KC_CODEC_NONE:
			if (inlen > max_out)
				return KC_ERR_DECOMPRESSED_TOO_LARGE;
			*out = (uint8_t *) in;
			*outlen = inlen;
			return KC_OK;
		default:
			return KC_ERR_ATTRIBUTES;
	}
	if (e != KC_OK)
		return e;
	*out = o.data ? o.data : (uint8_t *) in;
	*outlen = o.len;
	return KC_OK;
}

kc_err
kc_compress(kc_codec codec, const uint8_t *in, size_t inlen, kc_arena *a,
			uint8_t **out, size_t *outlen)
{
	switch (codec)
	{
		case KC_CODEC_GZIP:
			return gzip_compress(in, inlen, a, out, outlen);
		case KC_CODEC_SNAPPY:
			return snappy_compress_xerial(in, inlen, a, out, outlen);
		case KC_CODEC_LZ4:
			return lz4_compress(in, inlen, a, out, outlen);
		case KC_CODEC_ZSTD:
			return zstd_compress(in, inlen, a, out, outlen);
		case KC_CODEC_NONE:
			*out = (uint8_t *) in;
			*outlen = inlen;
			return KC_OK;
	}
	return KC_ERR_ATTRIBUTES;
}
