#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "testdb.h"

/* One test database at a time: cmocka runs setups and tests in turn. */
static char path[64];

zt_db *
testdb_open(const zt_migration_set *const *sets, size_t nsets)
{
	const char *url = getenv("ZTIAM_TEST_DB");
	zt_db *db;
	int fd;

	if (url == NULL || strncmp(url, "postgres", 8) != 0) {
		snprintf(path, sizeof(path), "/tmp/ztiam-test-XXXXXX");
		if ((fd = mkstemp(path)) < 0) {
			perror("mkstemp");
			return NULL;
		}
		close(fd);
		url = path;
	}
	if (zt_db_open(&db, url) < 0) {
		fprintf(stderr, "open: %s\n", zt_error_msg());
		return NULL;
	}
	if ((zt_db_driver(db) == ZT_DB_POSTGRES && zt_db_exec(db,
	    "DROP SCHEMA public CASCADE; CREATE SCHEMA public") < 0) ||
	    zt_store_migrate(db, sets, nsets) < 0) {
		fprintf(stderr, "migrate: %s\n", zt_error_msg());
		testdb_close(db);
		return NULL;
	}
	return db;
}

void
testdb_close(zt_db *db)
{
	zt_db_close(db);
	if (path[0] != '\0')
		unlink(path);
	path[0] = '\0';
}
