/*
 * Tests of the server configuration: defaults, the file, ZTIAM_*
 * variables and flags, in rising precedence, and refusal of bad values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "cli/cli.h"

static char *
write_file(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/ztiam-conf-XXXXXX");
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_cli_config__defaults(void **state)
{
	char *argv[] = { NULL };
	zt_config c;

	unsetenv("ZTIAM_LISTEN");
	unsetenv("ZTIAM_DATA");
	unsetenv("ZTIAM_DB");
	unsetenv("ZTIAM_CONFIG");
	assert_int_equal(zt_config_load(&c, 0, argv), ZT_OK);
	assert_string_equal(c.listen, "127.0.0.1:8080");
	assert_string_equal(c.data, "./var");
	assert_string_equal(c.db, "./var/ztiam.db");
	assert_int_equal(c.max_body, 1 << 20);
	assert_int_equal(c.idle_timeout, 60);
	zt_config_free(&c);
}

static void
test_cli_config__precedence(void **state)
{
	char *path = write_file("# comment\nlisten = 127.0.0.1:1111\n"
	    "data = /tmp/from-file\nmax-body = 64KiB\n\n");
	char arg0[] = "--listen", arg1[] = "127.0.0.1:3333";
	char *argv[] = { arg0, arg1, NULL };
	zt_config c;

	setenv("ZTIAM_CONFIG", path, 1);
	setenv("ZTIAM_LISTEN", "127.0.0.1:2222", 1);
	setenv("ZTIAM_DATA", "/tmp/from-env", 1);
	assert_int_equal(zt_config_load(&c, 2, argv), ZT_OK);
	assert_string_equal(c.listen, "127.0.0.1:3333");	/* flag */
	assert_string_equal(c.data, "/tmp/from-env");		/* env */
	assert_int_equal(c.max_body, 65536);			/* file */
	assert_string_equal(c.db, "/tmp/from-env/ztiam.db");
	zt_config_free(&c);
	unsetenv("ZTIAM_CONFIG");
	unsetenv("ZTIAM_LISTEN");
	unsetenv("ZTIAM_DATA");
	unlink(path);
}

static void
test_cli_config__rejects(void **state)
{
	char a0[] = "--bogus", a1[] = "1";
	char b0[] = "--max-body=lots";
	char c0[] = "--tls-cert", c1[] = "x.pem";
	char *argv1[] = { a0, a1, NULL }, *argv2[] = { b0, NULL };
	char *argv3[] = { c0, c1, NULL };
	char *path = write_file("listen 127.0.0.1:1\n");
	zt_config c;

	assert_int_equal(zt_config_load(&c, 2, argv1), ZT_EINVAL);
	zt_config_free(&c);
	assert_int_equal(zt_config_load(&c, 1, argv2), ZT_EINVAL);
	zt_config_free(&c);
	assert_int_equal(zt_config_load(&c, 2, argv3), ZT_EINVAL);
	zt_config_free(&c);
	memset(&c, 0, sizeof(c));
	assert_int_equal(zt_config_read_file(&c, path), ZT_EINVAL);
	zt_config_free(&c);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_config__defaults),
		cmocka_unit_test(test_cli_config__precedence),
		cmocka_unit_test(test_cli_config__rejects),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
