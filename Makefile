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
DATA = pg_eventlog--1.0.sql pg_eventlog--0.1.sql pg_eventlog--0.1--1.0.sql
PGFILEDESC = "pg_eventlog - Kafka-style event log stored by its own table access method"

# pg_regress and pg_isolation_regress each start their own throwaway cluster
# with the library preloaded (test/eventlog.conf), so no running server and
# no root are needed; only initdb's refusal to run as root matters.
REGRESS = setup partitioner topic produce export fetch group group_limits group_rights stats_quota group_roles group_balance am_surface offsets visibility catalog_reads retention compaction views views_hostile bad_args hostile
REGRESS_OPTS = --outputdir=test/results \
	--temp-instance=test/tmp_regress --temp-config=test/eventlog.conf
ISOLATION = reverse_commit abort_subxact topic_ddl prepare_refused group_assign group_handoff group_commit group_lag group_rights_race unique_index freeze_in_progress topic_cache_snapshot roll_race pending_roll rr_log_start view_refresh view_drop_topic compact_race compact_xid_order index_vacuum
ISOLATION_OPTS = --inputdir=test --outputdir=test/results_iso \
	--temp-instance=test/tmp_iso --temp-config=test/eventlog.conf
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = test/results test/results_iso test/tmp_regress test/tmp_iso \
	tmp_check test/tmp_check log $(KC_PROGRAMS)

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

# The Kafka wire codec (src/kafka/codec, docs/kafka-codec.md): plain C99
# without PostgreSQL, not linked into pg_eventlog.so yet.  Its unit tests,
# capture helper and fuzzer build as ordinary programs.
KC_SRCS = $(sort $(wildcard $(srcdir)/src/kafka/codec/*.c))
KC_HDRS = $(wildcard $(srcdir)/src/include/eventlog/kafka/*.h)
KC_LIBS = -lz -lsnappy -llz4 -lzstd
KC_CC ?= cc
KC_CFLAGS ?= -std=c99 -O1 -g -Wall -Wextra -Wmissing-prototypes \
	-Wpointer-arith -Werror=vla -Werror
KC_CPPFLAGS = -I$(srcdir)/src/include
KC_PROGRAMS = test/kafka/kctest test/kafka/kcrespond test/kafka/kcfuzz
KC_FUZZ_SECONDS ?= 60

test/kafka/kctest: $(srcdir)/test/kafka/kctest.c $(KC_SRCS) $(KC_HDRS)
	$(KC_CC) $(KC_CFLAGS) $(KC_CPPFLAGS) -o $@ $(srcdir)/test/kafka/kctest.c $(KC_SRCS) $(KC_LIBS)

test/kafka/kcrespond: $(srcdir)/test/kafka/kcrespond.c $(KC_SRCS) $(KC_HDRS)
	$(KC_CC) $(KC_CFLAGS) $(KC_CPPFLAGS) -o $@ $(srcdir)/test/kafka/kcrespond.c $(KC_SRCS) $(KC_LIBS)

# libFuzzer with AddressSanitizer and UBSan (apt-get install clang)
test/kafka/kcfuzz: $(srcdir)/test/kafka/kcfuzz.c $(KC_SRCS) $(KC_HDRS)
	clang -std=c99 -g -O1 -Wall -Werror -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined $(KC_CPPFLAGS) -o $@ \
		$(srcdir)/test/kafka/kcfuzz.c $(KC_SRCS) $(KC_LIBS)

.PHONY: check-kafka-codec check-kafka-clients fuzz-kafka-codec
check-kafka-codec: test/kafka/kctest
	test/kafka/kctest $(srcdir)/test/kafka/fixtures

# Real clients (kcat, python3-confluent-kafka) against kcrespond: they must
# accept the codec's responses and send the captured requests again.
check-kafka-clients: test/kafka/kcrespond
	python3 $(srcdir)/test/kafka/capture.py --check $(srcdir)/test/kafka/fixtures

# A bounded run seeded with the captured frames; longer:
#   make fuzz-kafka-codec KC_FUZZ_SECONDS=3600
fuzz-kafka-codec: test/kafka/kcfuzz
	rm -rf test/kafka/fuzz-corpus && mkdir -p test/kafka/fuzz-corpus
	for f in $(srcdir)/test/kafka/fixtures/*.hex; do \
		perl -0777 -ne 's/\s+//g; print pack("H*", $$_)' "$$f" \
			> test/kafka/fuzz-corpus/$$(basename "$$f" .hex); done
	test/kafka/kcfuzz -max_total_time=$(KC_FUZZ_SECONDS) -max_len=65536 \
		-rss_limit_mb=1024 -timeout=10 -print_final_stats=1 test/kafka/fuzz-corpus

# Source tarball of the committed tree (HEAD, or DIST_REF=<commit or tag>),
# named after the control file's default_version, written to DIST_DIR (the
# current directory by default): pg_eventlog-<version>.tar.gz, one top
# directory pg_eventlog-<version>/, buildable with PGXS (TAP 063 builds it).
DIST_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(srcdir)/pg_eventlog.control)
DIST_NAME = pg_eventlog-$(DIST_VERSION)
DIST_REF ?= HEAD
DIST_DIR ?= .

.PHONY: dist
dist:
	git -C $(srcdir) archive --format=tar.gz --prefix=$(DIST_NAME)/ \
		-o $(abspath $(DIST_DIR))/$(DIST_NAME).tar.gz $(DIST_REF)
	@echo "$(abspath $(DIST_DIR))/$(DIST_NAME).tar.gz"
