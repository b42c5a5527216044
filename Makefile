# durable_tasks — PGXS build
#
#   make                      build the shared library
#   make install              install library and SQL scripts
#   make installcheck         pg_regress + isolation suites against a running server
#   bash test/run             everything, on a throwaway cluster (see README)

MODULE_big = durable_tasks
OBJS = \
	src/durable_tasks.o \
	src/args.o \
	src/acl.o \
	src/spi_util.o \
	src/srf.o \
	src/state.o \
	src/queue.o \
	src/layout.o \
	src/plans.o \
	src/admin.o \
	src/options.o \
	src/uuid7.o \
	src/spawn.o \
	src/claim.o \
	src/finish.o \
	src/fingerprint.o \
	src/keyprobe.o \
	src/leaseprobe.o \
	src/cancel.o \
	src/bulk.o \
	src/await.o \
	src/checkpoint.o \
	src/stats.o \
	src/sleep.o \
	src/events.o \
	src/cleanup.o \
	src/task.o

EXTENSION = durable_tasks
DATA = \
	sql/durable_tasks--1.0.sql \
	sql/durable_tasks--1.0--1.1.sql \
	sql/durable_tasks--1.1.sql \
	sql/durable_tasks--1.1--1.2.sql

PGFILEDESC = "durable_tasks - durable task queue with deduplicated spawns"

REGRESS = setup queue spawn claim finish cancel dedup fingerprint badinput search_path hardening await bulk checkpoint privileges stats cleanup sleep events
REGRESS_OPTS = --load-extension=durable_tasks

ISOLATION = claim_race claim_floor lease_expiry complete_race dedup_concurrent dedup_rollback dedup_repeatable_read dedup_serializable dedup_release_race cancel_race queue_settings key_index_reindex queue_defaults_rc dedup_delete_race drop_queue_race parent_lock_race await_task_wake spawn_tasks_race checkpoint_stale grant_race cleanup_hit_race cleanup_concurrent sleep_cancel_race sleep_lease_race event_race event_wait_cancel event_xact_snapshot await_cancel_race
ISOLATION_OPTS = --inputdir=test --outputdir=test --load-extension=durable_tasks

PG_CONFIG ?= pg_config

# Our code builds warning-free under -Wall -Wextra -Werror.  The server's
# headers are not -Wextra clean (unused parameters in inline functions), so
# they are included as system headers.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CFLAGS += -Wall -Wextra -Werror
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object depends on the shared
# header.
$(OBJS): src/durable_tasks.h
