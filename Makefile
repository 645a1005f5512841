# pg_eventlog: PGXS build.  See README.md for the two top-level commands.

MODULE_big = pg_eventlog
# One folder per layer (README "How it works" and "Layers"): storage knows pages, WAL
# and visibility only; am, catalog, api and consume build on it.
STORAGE_OBJS = \
	src/storage/elpage.o \
	src/storage/elvisibility.o \
	src/storage/elwal.o \
	src/storage/eldecode.o \
	src/storage/elappend.o \
	src/storage/elscan.o \
	src/storage/elvacuum.o
OBJS = \
	src/pg_eventlog.o \
	$(STORAGE_OBJS) \
	src/am/elam.o \
	src/am/hooks.o \
	src/catalog/topic.o \
	src/catalog/topicdump.o \
	src/api/produce.o \
	src/api/pending.o \
	src/api/fetch.o \
	src/api/notify.o \
	src/api/murmur2.o \
	src/api/sqlargs.o \
	src/api/stats.o \
	src/api/quota.o \
	src/consume/groupassign.o \
	src/consume/groupslots.o \
	src/consume/groupoffsets.o \
	src/consume/groupfuncs.o \
	src/consume/viewdef.o \
	src/consume/viewapply.o \
	src/maint/compact.o \
	src/maint/retention.o \
	src/maint/sched.o \
	src/maint/worker.o \
	src/util/subxact.o

EXTENSION = pg_eventlog
DATA = pg_eventlog--0.1.sql
PGFILEDESC = "pg_eventlog - Kafka-style event log stored by its own table access method"

# pg_regress and pg_isolation_regress each start their own throwaway cluster
# with the library preloaded (test/eventlog.conf), so no running server and
# no root are needed; only initdb's refusal to run as root matters.
REGRESS = setup partitioner topic produce export fetch group group_limits group_rights stats_quota group_roles group_balance am_surface offsets visibility catalog_reads retention compaction views views_hostile bad_args hostile
REGRESS_OPTS = --outputdir=test/results \
	--temp-instance=test/tmp_regress --temp-config=test/eventlog.conf
ISOLATION = reverse_commit abort_subxact topic_ddl prepare_refused group_assign group_handoff group_commit group_lag unique_index freeze_in_progress topic_cache_snapshot roll_race view_refresh compact_race compact_xid_order index_vacuum
ISOLATION_OPTS = --inputdir=test --outputdir=test/results_iso \
	--temp-instance=test/tmp_iso --temp-config=test/eventlog.conf
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = test/results test/results_iso test/tmp_regress test/tmp_iso \
	tmp_check test/tmp_check log

PG_CPPFLAGS = -I$(srcdir)/src/include
PG_CFLAGS = -Wall -Wmissing-prototypes -Wpointer-arith -Werror=vla
ifdef WERROR
PG_CFLAGS += -Werror
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild everything when a header changes.
$(OBJS): $(wildcard $(srcdir)/src/include/eventlog/*.h)

# Layers (README "Layers"): storage works from segment lists and tuple
# descriptors, so that WAL redo, rm_decode, background workers and relcache
# paths can use it.  Its files may include, directly or through other
# headers, only the storage headers below and no SPI; nor may they call SPI.
# The preprocessor lists every header a file really reads (-MM), so an
# indirect include is caught too.  Runs before storage objects are built
# (order-only: it never forces a rebuild), so `make` fails on a violation.
STORAGE_HEADERS = elpage.h elstore.h elvisibility.h elwal.h eventlog.h
STORAGE_SRCS = $(STORAGE_OBJS:.o=.c)

.PHONY: check-layers
check-layers:
	@status=0; \
	for f in $(addprefix $(srcdir)/,$(STORAGE_SRCS)); do \
		deps=$$($(CC) $(CPPFLAGS) -MM "$$f") || exit 1; \
		for h in $$(printf '%s\n' $$deps | grep -E '(^|/)(executor/spi\.h|eventlog/[^/]+\.h)$$'); do \
			case "$$h" in \
				*/executor/spi.h|executor/spi.h) bad=1 ;; \
				*) bad=1; for ok in $(STORAGE_HEADERS); do \
					case "$$h" in */eventlog/$$ok|eventlog/$$ok) bad=0 ;; esac; done ;; \
			esac; \
			if [ $$bad = 1 ]; then \
				echo "check-layers: $$f reads $$h, which storage must not use" >&2; status=1; \
			fi; \
		done; \
		if grep -nE '\bSPI_[a-z]' "$$f" >&2; then \
			echo "check-layers: $$f calls SPI" >&2; status=1; \
		fi; \
	done; \
	exit $$status

$(STORAGE_OBJS): | check-layers
