/*
 * Unit tests of base/: encodings, strict JSON, parsing helpers, UTF-8,
 * buffers with limits and log escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "base/base.h"

static void
test_base_encode__b64url_round_trip(void **state)
{
	uint8_t in[256], out[256];
	char enc[400];
	size_t n;
	long m;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (uint8_t)n;
	for (n = 0; n <= sizeof(in); n++) {
		assert_int_equal(zt_b64url_encode(enc, in, n),
		    zt_b64url_len(n));
		m = zt_b64url_decode(out, enc, strlen(enc));
		assert_int_equal(m, (long)n);
		assert_memory_equal(in, out, n);
	}
}

static void
test_base_encode__b64url_rejects(void **state)
{
	uint8_t out[16];

	assert_int_equal(zt_b64url_decode(out, "AAA=", 4), -1);	/* pad */
	assert_int_equal(zt_b64url_decode(out, "A+B/", 4), -1);	/* std */
	assert_int_equal(zt_b64url_decode(out, "A", 1), -1);	/* length */
	assert_int_equal(zt_b64url_decode(out, "AB", 2), -1);	/* bits */
	assert_int_equal(zt_b64url_decode(out, "AQ", 2), 1);
}

static void
test_base_encode__hex(void **state)
{
	uint8_t raw[3] = { 0x00, 0xab, 0xff }, back[3];
	char hex[7];

	zt_hex_encode(hex, raw, 3);
	assert_string_equal(hex, "00abff");
	assert_int_equal(zt_hex_decode(back, 3, "00ABff"), ZT_OK);
	assert_memory_equal(raw, back, 3);
	assert_int_equal(zt_hex_decode(back, 3, "00abf"), ZT_EINVAL);
	assert_int_equal(zt_hex_decode(back, 3, "00abfg"), ZT_EINVAL);
}

static void
test_base_encode__random_ids_differ(void **state)
{
	char a[32], b[32];

	assert_int_equal(zt_random_id(a, sizeof(a), 16), ZT_OK);
	assert_int_equal(zt_random_id(b, sizeof(b), 16), ZT_OK);
	assert_int_equal(strlen(a), 22);
	assert_string_not_equal(a, b);
	assert_int_equal(zt_random_id(a, 8, 16), ZT_EINVAL);
}

/* Ids come from a per-thread pool: none repeats across refills, and a
 * child of fork() does not hand out the ids its parent goes on to. */
static void
test_base_encode__random_id_pool_fork(void **state)
{
	char seen[200][24], parent[24], child[24] = "";
	int fds[2], status;
	size_t i, j;
	pid_t pid;

	for (i = 0; i < 200; i++) {
		assert_int_equal(zt_random_id(seen[i], sizeof(seen[i]), 12),
		    ZT_OK);
		for (j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (zt_random_id(child, sizeof(child), 12) < 0 ||
		    write(fds[1], child, sizeof(child)) != sizeof(child))
			_exit(1);
		_exit(0);
	}
	assert_int_equal(zt_random_id(parent, sizeof(parent), 12), ZT_OK);
	assert_int_equal(read(fds[0], child, sizeof(child)), sizeof(child));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_not_equal(parent, child);
	close(fds[0]);
	close(fds[1]);
}

static void
test_base_encode__sha256_and_ct_equal(void **state)
{
	uint8_t d[ZT_SHA256_LEN];
	char hex[2 * ZT_SHA256_LEN + 1];

	zt_sha256(d, "abc", 3);
	zt_hex_encode(hex, d, sizeof(d));
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_true(zt_ct_equal("abcd", "abcd", 4));
	assert_false(zt_ct_equal("abcd", "abce", 4));
}

static void
test_base_str__parse_i64(void **state)
{
	int64_t v;

	assert_int_equal(zt_parse_i64("42", 0, 100, &v), ZT_OK);
	assert_int_equal(v, 42);
	assert_int_equal(zt_parse_i64("-5", -10, 10, &v), ZT_OK);
	assert_int_equal(zt_parse_i64("101", 0, 100, &v), ZT_EINVAL);
	assert_int_equal(zt_parse_i64("4x", 0, 100, &v), ZT_EINVAL);
	assert_int_equal(zt_parse_i64(" 4", 0, 100, &v), ZT_EINVAL);
	assert_int_equal(zt_parse_i64("", 0, 100, &v), ZT_EINVAL);
	assert_int_equal(zt_parse_i64("99999999999999999999", 0, INT64_MAX,
	    &v), ZT_EINVAL);
}

static void
test_base_str__durations_and_sizes(void **state)
{
	int64_t s;
	size_t b;

	assert_int_equal(zt_parse_duration("90", &s), ZT_OK);
	assert_int_equal(s, 90);
	assert_int_equal(zt_parse_duration("15m", &s), ZT_OK);
	assert_int_equal(s, 900);
	assert_int_equal(zt_parse_duration("7d", &s), ZT_OK);
	assert_int_equal(s, 604800);
	assert_int_equal(zt_parse_duration("7w", &s), ZT_EINVAL);
	assert_int_equal(zt_parse_duration("-1s", &s), ZT_EINVAL);
	assert_int_equal(zt_parse_size("1MiB", &b), ZT_OK);
	assert_int_equal(b, 1 << 20);
	assert_int_equal(zt_parse_size("16KiB", &b), ZT_OK);
	assert_int_equal(b, 16384);
	assert_int_equal(zt_parse_size("1TB", &b), ZT_EINVAL);
}

static void
test_base_str__utf8(void **state)
{
	assert_true(zt_utf8_valid("plain", 5));
	assert_true(zt_utf8_valid("caf\xc3\xa9", 5));
	assert_true(zt_utf8_valid("\xf0\x9f\x94\x91", 4));
	assert_false(zt_utf8_valid("\xc3", 1));		/* truncated */
	assert_false(zt_utf8_valid("\xc0\xaf", 2));		/* overlong */
	assert_false(zt_utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	assert_false(zt_utf8_valid("\xf4\x90\x80\x80", 4));	/* > 10FFFF */
	assert_false(zt_utf8_valid("a\0b", 3));		/* NUL */
	assert_false(zt_utf8_valid("\xff", 1));
}

static void
test_base_str__sanitize(void **state)
{
	char out[16];

	zt_str_sanitize(out, "a\nb\x01\xff", 5, 10);
	assert_string_equal(out, "a?b??");
	zt_str_sanitize(out, "abcdefghijkl", 12, 4);
	assert_string_equal(out, "abcd...");
}

static void
test_base_time__format_parse(void **state)
{
	char s[32];
	int64_t ms;

	zt_time_format(s, 1796318522123LL);
	assert_string_equal(s, "2026-12-03T17:22:02.123Z");
	/* The same second again, the next one, and one far before. */
	zt_time_format(s, 1796318522009LL);
	assert_string_equal(s, "2026-12-03T17:22:02.009Z");
	zt_time_format(s, 1796318523990LL);
	assert_string_equal(s, "2026-12-03T17:22:03.990Z");
	zt_time_format(s, 0);
	assert_string_equal(s, "1970-01-01T00:00:00.000Z");
	zt_time_format(s, 1796318522123LL);
	assert_string_equal(s, "2026-12-03T17:22:02.123Z");
	assert_int_equal(zt_time_parse(s, &ms), ZT_OK);
	assert_int_equal(ms, 1796318522123LL);
	assert_int_equal(zt_time_parse("2026-12-03T17:22:02Z", &ms), ZT_OK);
	assert_int_equal(ms, 1796318522000LL);
	assert_int_equal(zt_time_parse("2026-12-03T17:22:02+01:00", &ms),
	    ZT_EINVAL);
	assert_int_equal(zt_time_parse("yesterday", &ms), ZT_EINVAL);
}

static void
test_base_buf__limit(void **state)
{
	zt_buf b = ZT_BUF_INIT(8);

	assert_int_equal(zt_buf_adds(&b, "1234"), ZT_OK);
	assert_int_equal(zt_buf_addf(&b, "%d", 5678), ZT_OK);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(zt_buf_addc(&b, 'x'), ZT_ETOOBIG);
	assert_string_equal(b.data, "12345678");	/* unchanged */
	zt_buf_free(&b);
	assert_null(b.data);
}

static void
test_base_json__strict_decode(void **state)
{
	const char *name = NULL;
	int64_t n = 0;
	bool flag = false, have_flag = true;
	json_t *v;
	zt_json_field f[] = {
		{ "name", ZT_J_STRING, true, &name, NULL },
		{ "n", ZT_J_INT, false, &n, NULL },
		{ "flag", ZT_J_BOOL, false, &flag, &have_flag },
	};

	assert_int_equal(zt_json_parse(&v, "{\"name\":\"x\",\"n\":3}", 18, 8),
	    ZT_OK);
	assert_int_equal(zt_json_decode(v, f, 3), ZT_OK);
	assert_string_equal(name, "x");
	assert_int_equal(n, 3);
	assert_false(have_flag);
	json_decref(v);

	v = json_loads("{\"name\":\"x\",\"extra\":1}", 0, NULL);
	assert_int_equal(zt_json_decode(v, f, 3), ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "unknown field \"extra\""));
	json_decref(v);

	v = json_loads("{\"name\":7}", 0, NULL);
	assert_int_equal(zt_json_decode(v, f, 3), ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "must be a string"));
	json_decref(v);

	v = json_loads("{\"n\":1}", 0, NULL);
	assert_int_equal(zt_json_decode(v, f, 3), ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "required"));
	json_decref(v);
}

static void
test_base_json__parse_rejects(void **state)
{
	char deep[200];
	json_t *v;
	int i;

	assert_int_equal(zt_json_parse(&v, "{\"a\":1,\"a\":2}", 13, 8),
	    ZT_EINVAL);
	assert_int_equal(zt_json_parse(&v, "{\"a\":\"\xff\"}", 9, 8),
	    ZT_EINVAL);
	assert_int_equal(zt_json_parse(&v, "{\"a\":", 5, 8), ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "line 1"));
	assert_int_equal(zt_json_parse(&v, "", 0, 8), ZT_EINVAL);
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	for (i = 40; i < 80; i++)
		deep[i] = ']';
	assert_int_equal(zt_json_parse(&v, deep, 80, 32), ZT_EINVAL);
	assert_int_equal(zt_json_parse(&v, deep + 10, 60, 32), ZT_OK);
	json_decref(v);
}

static void
test_base_log__escapes_and_truncates(void **state)
{
	char path[] = "/tmp/ztiam-log-XXXXXX", line[2048];
	char big[1000];
	FILE *f;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	zt_log_setup(ZT_LOG_INFO, ZT_LOG_JSON, fd);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("hello", ZS("evil", "x\"}\n{\"forged\":1"), ZI("n", 7),
	    ZS("big", big));
	log_debug("hidden");
	zt_log_setup(ZT_LOG_INFO, ZT_LOG_LOGFMT, fd);
	log_warn("second line", ZS("k", "two words"), ZB("ok", 1));
	close(fd);
	f = fopen(path, "r");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "\"evil\":\"x\\\"}\\n{\\\"forged\\\":1\""));
	assert_non_null(strstr(line, "\"n\":7"));
	assert_non_null(strstr(line, "aaa...\""));
	assert_true(strlen(line) < 600);
	json_t *v = json_loads(line, 0, NULL);
	assert_non_null(v);
	json_decref(v);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "level=warn msg=\"second line\""));
	assert_non_null(strstr(line, "k=\"two words\" ok=true"));
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	zt_log_setup(ZT_LOG_INFO, ZT_LOG_JSON, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_encode__b64url_round_trip),
		cmocka_unit_test(test_base_encode__b64url_rejects),
		cmocka_unit_test(test_base_encode__hex),
		cmocka_unit_test(test_base_encode__random_ids_differ),
		cmocka_unit_test(test_base_encode__random_id_pool_fork),
		cmocka_unit_test(test_base_encode__sha256_and_ct_equal),
		cmocka_unit_test(test_base_str__parse_i64),
		cmocka_unit_test(test_base_str__durations_and_sizes),
		cmocka_unit_test(test_base_str__utf8),
		cmocka_unit_test(test_base_str__sanitize),
		cmocka_unit_test(test_base_time__format_parse),
		cmocka_unit_test(test_base_buf__limit),
		cmocka_unit_test(test_base_json__strict_decode),
		cmocka_unit_test(test_base_json__parse_rejects),
		cmocka_unit_test(test_base_log__escapes_and_truncates),
	};

	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
