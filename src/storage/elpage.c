/*
 * elpage.c
 *		Page layout and record encoding of eventlog segment pages.  See
 *		elpage.h for the format; which runs are visible is elvisibility.c's.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/tupmacs.h"

#include "eventlog/elpage.h"

/* partition and offset: see eventlog.h */
#define EL_NDERIVED_ATTS 2

void
el_page_init(Page page, int64 first_offset, int64 base_ts, TransactionId init_xid,
			 int ts_natts, int64 ts_high)
{
	ElPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(ElPageOpaqueData));
	opaque = ElPageGetOpaque(page);
	opaque->first_offset = first_offset;
	opaque->next_offset = first_offset;
	opaque->base_ts = base_ts;
	opaque->init_xid = init_xid;
	opaque->nrecords = 0;
	opaque->flags = 0;
	opaque->last_run = 0;
	opaque->ts_natts = (uint16) ts_natts;
	opaque->ts_high = ts_high;
	opaque->magic = EL_PAGE_MAGIC;
}

/*
 * A placed record's time (its first column), if not null: stored in full
 * or, with EL_REC_TSDELTA, relative to the page's base_ts.
 */
static bool
entry_time(const char *entry, Size len, int natts, int64 base_ts, int64 *ts)
{
	uint16		hdr;
	Size		fixed = EL_REC_FIXED;

	memcpy(&hdr, entry, 2);
	if (hdr & EL_REC_HASNULLS)
	{
		if (!(((const bits8 *) entry)[EL_REC_FIXED] & 1))
			return false;
		fixed += BITMAPLEN(natts);
	}
	if (hdr & EL_REC_TSDELTA)
	{
		int32		d32;

		if (fixed + 4 > len)
			return false;
		memcpy(&d32, entry + fixed, 4);
		*ts = base_ts + d32;
		return true;
	}
	if (fixed + 8 > len)
		return false;
	memcpy(ts, entry + fixed, 8);
	return true;
}

/*
 * Append encoded entries at pd_lower and update the page counters from
 * them.  The primary and WAL redo both call this with the same bytes, so a
 * replayed page is identical to the original by construction.
 */
void
el_page_apply(Page page, const char *bytes, Size len)
{
	PageHeader	phdr = (PageHeader) page;
	ElPageOpaque opaque = ElPageGetOpaque(page);
	uint16		pos = phdr->pd_lower;
	ElEntryWalk walk;
	ElEntryKind kind;
	Size		epos;
	uint16		elen;

	if (pos + len > phdr->pd_upper)
		elog(PANIC, "eventlog: %zu bytes do not fit at position %u", len, pos);
	if (len > 0)
		memcpy((char *) page + pos, bytes, len);
	el_entry_walk_init(&walk, bytes, len, opaque->next_offset);
	while ((kind = el_entry_walk_next(&walk, &epos, &elen)) != EL_ENTRY_END)
	{
		int64		ts;

		if (kind == EL_ENTRY_BAD)
			elog(PANIC, "eventlog: corrupt entry in append of %zu bytes", len);
		if (kind == EL_ENTRY_IS_RUN)
		{
			opaque->last_run = pos + epos;
			continue;
		}
		if (opaque->ts_natts > 0 &&
			entry_time(bytes + epos, elen, opaque->ts_natts, opaque->base_ts, &ts) &&
			ts > opaque->ts_high)
			opaque->ts_high = ts;
		opaque->nrecords++;
	}
	opaque->next_offset = walk.next_offset;
	phdr->pd_lower = pos + len;
}

/*
 * The storage format version of a page's magic word (elpage.h), or 0 if
 * the word is no eventlog format word at all.
 */
static int
page_format_version(Page page)
{
	uint32		magic;

	if (PageGetSpecialSize(page) < EL_PAGE_MAGIC_POS + sizeof(uint32))
		return 0;
	memcpy(&magic, PageGetSpecialPointer(page) + EL_PAGE_MAGIC_POS, sizeof(uint32));
	if ((magic & 0xFFFFFF00) != EL_PAGE_MAGIC_STEM ||
		(magic & 0xFF) <= EL_PAGE_MAGIC_VBASE)
		return 0;
	return (int) (magic & 0xFF) - EL_PAGE_MAGIC_VBASE;
}

/*
 * Is the page an initialized eventlog page?  An all-zero page is not (yet):
 * a crash can leave such blocks at the end of a chain, and appends reuse
 * them.  Any other page is refused, so that a page of another format (an
 * older or later release) or damage is never read as empty nor overwritten.
 */
bool
el_page_is_valid(Page page)
{
	int			version;

	if (PageIsNew(page))
		return false;
	version = page_format_version(page);
	if (version != 0 &&
		(version < EL_FORMAT_MIN_VERSION || version > EL_FORMAT_VERSION))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("eventlog page is in storage format version %d, this build reads format version %d",
						version, EL_FORMAT_VERSION),
				 errdetail("This build of pg_eventlog reads storage format versions %d to %d.",
						   EL_FORMAT_MIN_VERSION, EL_FORMAT_VERSION),
				 errhint("Install a release of pg_eventlog that reads format version %d (see the compatibility rule in docs/operations.md).",
						 version)));
	if (version != EL_FORMAT_VERSION ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(ElPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("eventlog page is neither empty nor in the page format of this build"),
				 errdetail("The page has %u bytes of special space; this build's pages have %u.",
						   (unsigned) PageGetSpecialSize(page),
						   (unsigned) MAXALIGN(sizeof(ElPageOpaqueData)))));
	return true;
}

/* Run headers are unaligned on the page, hence the memcpy()s. */
void
el_read_run(const char *p, ElRun *run)
{
	uint16		hdr;

	memcpy(&hdr, p, 2);
	run->flags = hdr & ~EL_ENTRY_RUN;
	memcpy(&run->xid, p + 2, 4);
	memcpy(&run->cid, p + 6, 4);
	memcpy(&run->base_offset, p + 10, 8);
}

void
el_write_run(char *p, const ElRun *run)
{
	uint16		hdr = EL_ENTRY_RUN | run->flags;

	memcpy(p, &hdr, 2);
	memcpy(p + 2, &run->xid, 4);
	memcpy(p + 6, &run->cid, 4);
	memcpy(p + 10, &run->base_offset, 8);
}

void
el_entry_walk_init(ElEntryWalk *walk, const char *bytes, Size len, int64 next_offset)
{
	walk->bytes = bytes;
	walk->len = len;
	walk->off = 0;
	walk->next_offset = next_offset;
	walk->offset = -1;
	memset(&walk->run, 0, sizeof(ElRun));
	walk->run_seq = 0;
}

/*
 * The next entry: its position in the bytes and its length, and what it
 * is.  A length that runs past the bytes is reported, never followed, so
 * damage cannot send a reader past the end of a page or a WAL record.
 */
ElEntryKind
el_entry_walk_next(ElEntryWalk *walk, Size *pos, uint16 *len)
{
	uint16		hdr;

	if (walk->off >= walk->len)
		return EL_ENTRY_END;
	*pos = walk->off;
	if (walk->off + 2 > walk->len)
		return EL_ENTRY_BAD;
	memcpy(&hdr, walk->bytes + walk->off, 2);
	if (hdr & EL_ENTRY_RUN)
	{
		if (walk->off + EL_RUN_SIZE > walk->len)
			return EL_ENTRY_BAD;
		el_read_run(walk->bytes + walk->off, &walk->run);
		walk->next_offset = walk->run.base_offset;
		walk->run_seq++;
		walk->off += EL_RUN_SIZE;
		*len = EL_RUN_SIZE;
		return EL_ENTRY_IS_RUN;
	}
	*len = hdr & EL_ENTRY_LENMASK;
	if (*len < EL_REC_FIXED || walk->off + *len > walk->len)
		return EL_ENTRY_BAD;
	walk->offset = walk->next_offset++;
	walk->off += *len;
	return EL_ENTRY_IS_RECORD;
}

void
el_page_iter_init(ElPageIter *it, Page page)
{
	uint16		start = SizeOfPageHeaderData;
	uint16		end = el_page_is_valid(page) ? ((PageHeader) page)->pd_lower : start;

	it->page = page;
	el_entry_walk_init(&it->walk, (const char *) page + start, end - start, -1);
	it->run_seq = 0;
}

/*
 * Step to the next record, consuming run headers on the way.  Returns false
 * at the end of the page.  A corrupt entry is reported rather than
 * followed, so a damaged page cannot send a reader past the page end.
 */
bool
el_page_iter_next(ElPageIter *it, ElRecordRef *rec)
{
	ElEntryKind kind;
	Size		pos;
	uint16		len;

	while ((kind = el_entry_walk_next(&it->walk, &pos, &len)) == EL_ENTRY_IS_RUN)
		it->run_seq = it->walk.run_seq;
	if (kind == EL_ENTRY_END)
		return false;
	pos += SizeOfPageHeaderData;
	if (kind == EL_ENTRY_BAD || it->walk.offset < 0 || it->walk.offset >= EL_MAX_OFFSET)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt eventlog page entry at position %u", (unsigned) pos)));
	rec->offset = it->walk.offset;
	rec->entry = (const char *) it->page + pos;
	rec->len = len;
	rec->pos = pos;
	rec->run = &it->walk.run;
	return true;
}

Size
el_record_size(TupleDesc storedesc, Datum *values, bool *isnull)
{
	bool		hasnulls = false;
	int			i;

	for (i = 0; i < storedesc->natts; i++)
		if (isnull[i])
			hasnulls = true;
	return EL_REC_FIXED + (hasnulls ? BITMAPLEN(storedesc->natts) : 0) +
		heap_compute_data_size(storedesc, values, isnull);
}

/*
 * The bytes a record is charged for by quotas and statistics ("stored
 * record bytes"): its encoded size with every value in full, before
 * compression and TOAST and before its timestamp is compacted for a page.
 * size is el_record_size() of these values; the result differs only for a
 * record with a compressed or TOASTed value, whose size before TOAST (the
 * header of toast_raw_datum_size() bytes) takes its place: only varlena
 * headers are read, nothing is detoasted.  produce() charges this, and so
 * does fetch() (el_entry_charge()), so both count the same bytes.
 */
Size
el_record_charge(TupleDesc storedesc, Datum *values, bool *isnull, Size size)
{
	int			natts = storedesc->natts;
	Datum	   *full = NULL;
	uint32	   *headers = NULL;
	bool		hasnulls = false;
	int			i;

	for (i = 0; i < natts; i++)
	{
		Pointer		p;

		if (isnull[i])
		{
			hasnulls = true;
			continue;
		}
		if (TupleDescAttr(storedesc, i)->attlen != -1)
			continue;
		p = DatumGetPointer(values[i]);
		if (!(VARATT_IS_EXTERNAL_ONDISK(p) || VARATT_IS_EXTERNAL_INDIRECT(p) ||
			  VARATT_IS_COMPRESSED(p)))
			continue;
		if (full == NULL)
		{
			full = palloc(sizeof(Datum) * natts);
			headers = palloc(sizeof(uint32) * natts);
			memcpy(full, values, sizeof(Datum) * natts);
		}
		SET_VARSIZE(&headers[i], toast_raw_datum_size(values[i]));
		full[i] = PointerGetDatum(&headers[i]);
	}
	if (full == NULL)
		return size;
	size = EL_REC_FIXED + (hasnulls ? BITMAPLEN(natts) : 0) +
		heap_compute_data_size(storedesc, full, isnull);
	pfree(full);
	pfree(headers);
	return size;
}

/*
 * Walk a record's attribute data (as heap_fill_tuple() laid it out): with
 * values, point each non-null attribute at its data.  Returns whether a
 * value is compressed or TOASTed.
 */
static bool
walk_data(TupleDesc storedesc, const bits8 *bits, const char *data,
		  Datum *values, bool *isnull)
{
	Size		off = 0;
	bool		extended = false;
	int			i;

	for (i = 0; i < storedesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(storedesc, i);

		if (bits && att_isnull(i, bits))
		{
			if (isnull)
				isnull[i] = true;
			continue;
		}
		if (att->attlen == -1)
		{
			off = att_align_pointer(off, att->attalign, -1, data + off);
			if (VARATT_IS_EXTERNAL(data + off) || VARATT_IS_COMPRESSED(data + off))
				extended = true;
		}
		else
			off = att_align_nominal(off, att->attalign);
		if (values)
		{
			values[i] = PointerGetDatum(data + off);
			isnull[i] = false;
		}
		off = att_addlength_pointer(off, att->attlen, data + off);
	}
	return extended;
}

/*
 * el_record_charge() of a stored record, from its entry (len bytes) and
 * its attribute data as expanded by expand_data() (MAXALIGNed).  The usual
 * record, without a compressed or TOASTed value, costs a walk over its
 * attributes' headers.
 */
Size
el_entry_charge(const char *entry, uint16 len, TupleDesc storedesc,
				const char *data)
{
	uint16		hdr;
	const bits8 *bits = NULL;
	Size		charge = len;
	Datum	   *values;
	bool	   *isnull;

	memcpy(&hdr, entry, 2);
	if (hdr & EL_REC_HASNULLS)
		bits = (const bits8 *) (entry + EL_REC_FIXED);
	/* what the record was before its timestamp was compacted */
	if (hdr & EL_REC_TSDELTA)
		charge += 4;
	if (!walk_data(storedesc, bits, data, NULL, NULL))
		return charge;
	values = palloc(sizeof(Datum) * storedesc->natts);
	isnull = palloc(sizeof(bool) * storedesc->natts);
	(void) walk_data(storedesc, bits, data, values, isnull);
	charge = el_record_charge(storedesc, values, isnull, charge);
	pfree(values);
	pfree(isnull);
	return charge;
}

/*
 * heap_fill_tuple() aligns attributes relative to the buffer address, so
 * the data is laid out in a MAXALIGNed scratch area and copied to the
 * (unaligned) page position; el_record_decode() copies it back to an
 * aligned area before deforming.
 */
void
el_record_encode(char *dst, Size size, TupleDesc storedesc,
				 Datum *values, bool *isnull)
{
	int			natts = storedesc->natts;
	bool		hasnulls = false;
	Size		fixed;
	Size		datalen;
	char	   *data;
	bits8		bits[BITMAPLEN(MaxTupleAttributeNumber)];
	uint16		infomask = 0;
	uint16		hdr = (uint16) size;
	int			i;

	Assert(size <= EL_ENTRY_LENMASK);
	for (i = 0; i < natts; i++)
		if (isnull[i])
			hasnulls = true;
	fixed = EL_REC_FIXED + (hasnulls ? BITMAPLEN(natts) : 0);
	datalen = size - fixed;
	data = palloc0(datalen + 1);
	heap_fill_tuple(storedesc, values, isnull, data, datalen, &infomask,
					hasnulls ? bits : NULL);
	if (hasnulls)
		hdr |= EL_REC_HASNULLS;
	memcpy(dst, &hdr, 2);
	if (hasnulls)
		memcpy(dst + EL_REC_FIXED, bits, BITMAPLEN(natts));
	memcpy(dst + fixed, data, datalen);
	pfree(data);
}

/*
 * Copy a record's attribute data to dst (MAXALIGNed), expanding a
 * compacted timestamp back to its 8 bytes: afterwards dst holds exactly
 * what heap_fill_tuple() produced.  Returns the expanded length.
 */
static Size
expand_data(const char *data, Size len, uint16 hdr, int64 base_ts, char *dst)
{
	if (hdr & EL_REC_TSDELTA)
	{
		int32		delta;
		int64		ts;

		memcpy(&delta, data, 4);
		ts = base_ts + delta;
		memcpy(dst, &ts, 8);
		memcpy(dst + 8, data + 4, len - 4);
		return len + 4;
	}
	memcpy(dst, data, len);
	return len;
}

/*
 * The timestamp at the start of a record's data, if its first column is
 * not null and the record is not yet compacted for a page (the caller
 * knows the first column is a timestamptz).
 */
bool
el_entry_ts(const char *entry, Size len, int natts, int64 *ts)
{
	uint16		hdr;

	memcpy(&hdr, entry, 2);
	if (hdr & EL_REC_TSDELTA)
		return false;			/* already relative to some page */
	return entry_time(entry, len, natts, 0, ts);
}

/*
 * Write the compact form of a record for a page with base_ts into dst:
 * its leading timestamp becomes a 4-byte difference when that fits.
 * Returns the new length, or 0 if the record stays as it is.  Records are
 * encoded before the page they land on is known, so this happens while
 * they are placed (elappend.c).
 */
Size
el_entry_compact(const char *entry, Size len, int natts, int64 base_ts, char *dst)
{
	uint16		hdr;
	Size		fixed = EL_REC_FIXED;
	int64		ts;
	int64		delta;
	int32		d32;

	if (!el_entry_ts(entry, len, natts, &ts))
		return 0;
	delta = ts - base_ts;
	if (delta < PG_INT32_MIN || delta > PG_INT32_MAX)
		return 0;
	memcpy(&hdr, entry, 2);
	if (hdr & EL_REC_HASNULLS)
		fixed += BITMAPLEN(natts);
	hdr = (uint16) ((hdr & ~EL_ENTRY_LENMASK) | EL_REC_TSDELTA | (len - 4));
	memcpy(dst, &hdr, 2);
	memcpy(dst + 2, entry + 2, fixed - 2);
	d32 = (int32) delta;
	memcpy(dst + fixed, &d32, 4);
	memcpy(dst + fixed + 4, entry + fixed + 8, len - fixed - 8);
	return len - 4;
}

/*
 * Deform a record into values/isnull.  By-reference datums point into
 * scratch, which must be MAXALIGNed and at least len bytes long and stay
 * untouched for as long as the datums are used.
 */
void
el_record_decode(const char *entry, uint16 len, TupleDesc storedesc,
				 int64 base_ts, char *scratch, Datum *values, bool *isnull)
{
	int			natts = storedesc->natts;
	uint16		hdr;
	const bits8 *bits = NULL;
	Size		fixed = EL_REC_FIXED;
	Size		off = 0;
	int			i;

	memcpy(&hdr, entry, 2);
	if (hdr & EL_REC_HASNULLS)
	{
		bits = (const bits8 *) (entry + EL_REC_FIXED);
		fixed += BITMAPLEN(natts);
	}
	if (fixed + ((hdr & EL_REC_TSDELTA) ? 4 : 0) > len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt eventlog record of length %u", len)));
	expand_data(entry + fixed, len - fixed, hdr, base_ts, scratch);

	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(storedesc, i);

		if (bits && att_isnull(i, bits))
		{
			values[i] = (Datum) 0;
			isnull[i] = true;
			continue;
		}
		isnull[i] = false;
		if (att->attlen == -1)
			off = att_align_pointer(off, att->attalign, -1, scratch + off);
		else
			off = att_align_nominal(off, att->attalign);
		values[i] = fetchatt(att, scratch + off);
		off = att_addlength_pointer(off, att->attlen, scratch + off);
	}
}

/*
 * Build the topic row (partition, offset, stored columns...) of a record,
 * natts columns in all, as a minimal tuple in buf (MAXALIGNed, at least BLCKSZ + 64 bytes),
 * without deforming it: the derived int4 and int8 take the first 16 bytes
 * of the data area, which keeps the stored columns at an 8-aligned
 * position, exactly where heap_fill_tuple() would have put them; only the
 * null bitmap needs its bits moved by two.  This is the fetch() hot path.
 */
MinimalTuple
el_record_to_minimal(const char *entry, uint16 len, int natts,
					 int32 partition, int64 offset, int64 base_ts, char *buf)
{
	MinimalTuple mt = (MinimalTuple) buf;
	uint16		hdr;
	bool		hasnulls;
	Size		fixed = EL_REC_FIXED;
	Size		hoff;
	Size		datalen;
	char	   *data;
	int			i;

	memcpy(&hdr, entry, 2);
	hasnulls = (hdr & EL_REC_HASNULLS) != 0;
	if (hasnulls)
		fixed += BITMAPLEN(natts - EL_NDERIVED_ATTS);
	if (fixed + ((hdr & EL_REC_TSDELTA) ? 4 : 0) > len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt eventlog record of length %u", len)));

	hoff = MAXALIGN(SizeofMinimalTupleHeader + (hasnulls ? BITMAPLEN(natts) : 0));
	datalen = 16 + (len - fixed) + ((hdr & EL_REC_TSDELTA) ? 4 : 0);
	memset(buf, 0, hoff + 16);
	mt->t_len = hoff + datalen;
	HeapTupleHeaderSetNatts(mt, natts);
	mt->t_hoff = hoff + MINIMAL_TUPLE_OFFSET;
	/* conservative flags: they only switch off shortcuts */
	mt->t_infomask = HEAP_HASVARWIDTH | HEAP_HASEXTERNAL | (hasnulls ? HEAP_HASNULL : 0);
	if (hasnulls)
	{
		const bits8 *sbits = (const bits8 *) (entry + EL_REC_FIXED);

		mt->t_bits[0] = 0x03;	/* partition and offset are never null */
		for (i = EL_NDERIVED_ATTS; i < natts; i++)
		{
			int			j = i - EL_NDERIVED_ATTS;

			if (sbits[j >> 3] & (1 << (j & 7)))
				mt->t_bits[i >> 3] |= (1 << (i & 7));
		}
	}
	data = buf + hoff;
	memcpy(data, &partition, sizeof(int32));
	memcpy(data + 8, &offset, sizeof(int64));
	expand_data(entry + fixed, len - fixed, hdr, base_ts, data + 16);
	return mt;
}
