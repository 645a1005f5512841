/*
 * elam.h
 *		The eventlog table access method: what it refuses, and how.
 */
#ifndef EVENTLOG_ELAM_H
#define EVENTLOG_ELAM_H

#include "utils/rel.h"

typedef enum ElModification
{
	EL_MOD_UPDATE,
	EL_MOD_DELETE,
	EL_MOD_MERGE,
	EL_MOD_ON_CONFLICT,
	EL_MOD_LOCK,
	EL_MOD_TRUNCATE
} ElModification;

extern void el_refuse_modification(ElModification what, Relation rel);

#endif							/* EVENTLOG_ELAM_H */
