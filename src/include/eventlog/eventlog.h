/*
 * eventlog.h
 *		Settings and names shared by every pg_eventlog subsystem.
 */
#ifndef EVENTLOG_EVENTLOG_H
#define EVENTLOG_EVENTLOG_H

/* Schemas the extension owns: one relation per topic, and their segments. */
#define EL_SCHEMA				"eventlog"
#define EL_TOPICS_SCHEMA		"eventlog_topics"
#define EL_SEGMENTS_SCHEMA		"eventlog_segments"

/*
 * Every topic relation starts with these two columns; neither is stored:
 * the partition is a property of the segment and the offset follows from
 * the record's position in its run (elpage.h).
 */
#define EL_ATTNUM_PARTITION		1
#define EL_ATTNUM_OFFSET		2
#define EL_NDERIVED				2

/* the stored columns of a topic made by create_topic() */
#define EL_ATTNUM_TS			3
#define EL_ATTNUM_KEY			4
#define EL_ATTNUM_VALUE			5
#define EL_ATTNUM_HEADERS		6

#define EL_MAX_PARTITIONS		1024

/* GUCs */
extern int	el_max_record_bytes;


#endif							/* EVENTLOG_EVENTLOG_H */
