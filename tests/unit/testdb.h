/*
 * The database of a unit test: SQLite in a new temporary file, or the
 * PostgreSQL named by ZTIAM_TEST_DB (a "postgres..." URL), emptied.
 */
#ifndef ZT_TESTDB_H
#define ZT_TESTDB_H

#include <stddef.h>

#include "store/store.h"

/*
 * Opens the test database, empty, and runs the migrations of `sets`.
 * On PostgreSQL the public schema is dropped and made again, so each
 * test starts from nothing whatever an earlier one left.  NULL on
 * failure, with the reason on stderr.
 */
zt_db *testdb_open(const zt_migration_set *const *sets, size_t nsets);
/* Closes it and removes the SQLite file. */
void testdb_close(zt_db *db);

#endif
