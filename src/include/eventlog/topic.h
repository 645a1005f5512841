/*
 * topic.h
 *		Topic metadata: the catalog tables eventlog.topic_config and
 *		eventlog.segment_map, and a backend-local cache over them.
 */
#ifndef EVENTLOG_TOPIC_H
#define EVENTLOG_TOPIC_H

#include "access/tupdesc.h"
#include "storage/lockdefs.h"
#include "storage/relfilenode.h"
#include "utils/relcache.h"

#include "eventlog/elstore.h"

typedef struct ElTopic
{
	Oid			relid;			/* the topic relation */
	RelFileNode node;			/* ... and its file, which logical decoding
								 * names (hooks.c refuses rewrites) */
	NameData	name;
	int			nparts;
	ElPartitionStore *parts;	/* what storage needs of each partition */
	TupleDesc	storedesc;		/* stored columns: all but the derived ones */
	int			ts_natts;		/* storedesc->natts if its first column is a
								 * timestamptz (stored compactly), else 0 */
	/* settings (topic_config), with the defaults applied; -1 = none */
	int64		retention_us;
	int64		retention_bytes;
	bool		policy_delete;	/* cleanup_policy includes "delete" */
	bool		policy_compact; /* cleanup_policy includes "compact" */
	int64		delete_retention_us;	/* tombstones kept this long */
	int64		min_compaction_lag_us;	/* records younger stay uncompacted */
	int64		segment_bytes;
	int64		segment_interval_us;
	bool		valid;
} ElTopic;

typedef enum ElRelRole
{
	EL_ROLE_TOPIC,
	EL_ROLE_SEGMENT,
	EL_ROLE_OTHER
} ElRelRole;

extern ElRelRole el_rel_role(Relation rel);

/*
 * The returned entry stays allocated until the end of the transaction even
 * if an invalidation arrives meanwhile (it is then only marked invalid), so
 * callers may keep the pointer while they open segments.
 */
extern ElTopic *el_topic_get(Oid topic_relid, bool missing_ok);
extern void el_topic_missing(const char *name) pg_attribute_noreturn();
extern void el_topic_settled_partitions(ElTopic *topic, TransactionId horizon,
										bool *settled);
extern Oid	el_topic_relid(const char *name, bool missing_ok);
extern Oid	el_topic_lock(const char *name, LOCKMODE lockmode, bool missing_ok);
extern ElTopic *el_topic_open(text *name, LOCKMODE lockmode, Relation *rel);
extern const ElSegment *el_active_segment(ElTopic *topic, int partition);
extern const ElSegment *el_toast_segment(ElTopic *topic, int partition);
extern int	el_append_partition(ElTopic *topic, int partition, char **entries,
								Size *lens, int n, const int64 *wants, int64 *offsets,
								TransactionId xid, CommandId cid);
extern ElTopic *el_topic_reload(Oid relid);
extern void el_topic_cache_init(void);
extern void el_topic_register_callbacks(void);
extern void el_check_partition(ElTopic *topic, int partition);
extern bool el_name_chars_valid(const char *name);

/* see el_catalog_owner_begin() */
typedef struct ElCatalogOwner
{
	Oid			save_userid;
	int			save_sec;
	int			guc_level;
} ElCatalogOwner;

extern void el_catalog_owner_begin(ElCatalogOwner *state);
extern void el_catalog_owner_end(ElCatalogOwner *state);
extern int	el_push_catalog_search_path(void);

/* Topic DDL pieces shared with the topic export (topicdump.c) */
extern void el_check_partition_count(int partitions);
extern void el_check_topic_relation(Relation rel);
extern void el_check_settings(const Datum *values, const bool *isnull);
extern void el_lock_topic_name(const char *topic);
extern void el_spi_exec(const char *sql, int nargs, Oid *types, Datum *values,
						const char *nulls, int expected);
extern void el_create_segment(Oid topic_relid, const char *topic, int partition,
							  int seg_no, int64 base_offset, Oid owner);
extern Oid	el_create_segment_relation(const char *topic, const char *segname,
									   Oid owner);
extern void el_register_segment(Oid segrelid, Oid topic_relid, const char *topic,
								int partition, int seg_no, int64 base_offset);
extern void el_set_segment_owner(Oid segrelid, Oid owner);
extern Oid	el_segment_topic(Oid segrelid);

#endif							/* EVENTLOG_TOPIC_H */
