/*
 * Tests of the SPIFFE ID parser (identity/spiffe.c) alone, no database:
 * IDs the specification accepts, and one case for each way an ID can be
 * wrong, with the message that names the fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "identity/identity.h"

static void
assert_good(const char *s, const char *td, const char *path, size_t nsegs)
{
	zt_spiffe_id id;

	assert_int_equal(zt_spiffe_id_parse(&id, s, strlen(s)), ZT_OK);
	assert_string_equal(id.trust_domain, td);
	assert_string_equal(id.path, path);
	assert_int_equal(id.nsegs, nsegs);
	assert_int_equal(zt_spiffe_id_validate(s), ZT_OK);
}

/* Fails with ZT_EINVAL and a message containing `why`. */
static void
assert_bad(const char *s, size_t n, const char *why)
{
	zt_spiffe_id id;

	assert_int_equal(zt_spiffe_id_parse(&id, s, n), ZT_EINVAL);
	if (strstr(zt_error_msg(), why) == NULL)
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", s,
		    zt_error_msg(), why);
}

static void
test_identity_spiffe__good(void **state)
{
	assert_good("spiffe://example.org", "example.org", "", 0);
	assert_good("spiffe://example.org/service", "example.org",
	    "/service", 1);
	assert_good("spiffe://td/acme/person/alice", "td",
	    "/acme/person/alice", 3);
	assert_good("spiffe://a_b-c.d9/A.b-C_9/..a/...", "a_b-c.d9",
	    "/A.b-C_9/..a/...", 3);
}

static void
test_identity_spiffe__scheme(void **state)
{
	assert_bad("", 0, "empty");
	assert_bad("SPIFFE://example.org", 20, "must start with");
	assert_bad("https://example.org", 19, "must start with");
	assert_bad("spiffe:/example.org", 19, "must start with");
	assert_bad("spiffe:", 7, "must start with");
}

static void
test_identity_spiffe__trust_domain(void **state)
{
	char td[300], id[400];

	assert_bad("spiffe://", 9, "trust domain is empty");
	assert_bad("spiffe:///path", 14, "trust domain is empty");
	assert_bad("spiffe://Example.org", 20, "lower case");
	assert_bad("spiffe://example.org:8080/x", 27, "port");
	assert_bad("spiffe://user@example.org/x", 27, "user info");
	assert_bad("spiffe://exa%20mple.org", 23, "percent");
	assert_bad("spiffe://ex ample", 17, "outside");

	/* 255 bytes is the most a trust domain may have. */
	memset(td, 'a', 255);
	td[255] = '\0';
	snprintf(id, sizeof(id), "spiffe://%s/x", td);
	assert_int_equal(zt_spiffe_id_validate(id), ZT_OK);
	assert_int_equal(zt_spiffe_td_validate(td), ZT_OK);
	memset(td, 'a', 256);
	td[256] = '\0';
	snprintf(id, sizeof(id), "spiffe://%s/x", td);
	assert_bad(id, strlen(id), "longer than 255");
	assert_int_equal(zt_spiffe_td_validate(td), ZT_EINVAL);
	assert_int_equal(zt_spiffe_td_validate("Bad"), ZT_EINVAL);
	assert_int_equal(zt_spiffe_td_validate("a/b"), ZT_EINVAL);
	assert_int_equal(zt_spiffe_td_validate(""), ZT_EINVAL);
}

static void
test_identity_spiffe__path(void **state)
{
	assert_bad("spiffe://td/", 12, "trailing");
	assert_bad("spiffe://td/a/", 14, "trailing");
	assert_bad("spiffe://td//a", 14, "segment 1 is empty");
	assert_bad("spiffe://td/a//b", 16, "segment 2 is empty");
	assert_bad("spiffe://td/.", 13, "\".\" or \"..\"");
	assert_bad("spiffe://td/a/../b", 18, "\".\" or \"..\"");
	assert_bad("spiffe://td/a?x=1", 17, "query or fragment");
	assert_bad("spiffe://td/a#f", 15, "query or fragment");
	assert_bad("spiffe://td/a%2Fb", 17, "percent");
	assert_bad("spiffe://td/a:b", 15, "':'");
	assert_bad("spiffe://td/caf\xc3\xa9", 17, "outside");
	assert_bad("spiffe://td/a b", 15, "outside");
}

static void
test_identity_spiffe__embedded_nul(void **state)
{
	assert_bad("spiffe://td/a\0b", 15, "outside");
	assert_bad("spiffe://t\0d/a", 14, "outside");
}

static void
test_identity_spiffe__length(void **state)
{
	char *s = malloc(ZT_SPIFFE_ID_MAX + 2);
	size_t i;

	/* "spiffe://td" then "/a" pairs up to exactly 2048 bytes. */
	memcpy(s, "spiffe://td", 11);
	for (i = 11; i + 2 <= ZT_SPIFFE_ID_MAX; i += 2)
		memcpy(s + i, "/a", 2);
	if (i < ZT_SPIFFE_ID_MAX)
		s[i - 1] = 'b', s[i++] = 'c';
	s[i] = '\0';
	assert_int_equal(strlen(s), ZT_SPIFFE_ID_MAX);
	assert_int_equal(zt_spiffe_id_validate(s), ZT_OK);
	s[i] = 'd';
	s[i + 1] = '\0';
	assert_bad(s, ZT_SPIFFE_ID_MAX + 1, "longer than 2048");
	assert_int_equal(zt_spiffe_id_validate(s), ZT_EINVAL);
	free(s);
}

static void
test_identity_spiffe__config(void **state)
{
	zt_identity_config cfg = ZT_IDENTITY_CONFIG_INIT;

	assert_int_equal(zt_identity_config_check(&cfg), ZT_OK);
	cfg.trust_domain = "prod.example.com";
	assert_int_equal(zt_identity_config_check(&cfg), ZT_OK);
	cfg.trust_domain = "prod.example.com:443";
	assert_int_equal(zt_identity_config_check(&cfg), ZT_EINVAL);
	assert_int_equal(zt_spiffe_id_validate(NULL), ZT_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_spiffe__good),
		cmocka_unit_test(test_identity_spiffe__scheme),
		cmocka_unit_test(test_identity_spiffe__trust_domain),
		cmocka_unit_test(test_identity_spiffe__path),
		cmocka_unit_test(test_identity_spiffe__embedded_nul),
		cmocka_unit_test(test_identity_spiffe__length),
		cmocka_unit_test(test_identity_spiffe__config),
	};

	return cmocka_run_group_tests_name("identity_spiffe", tests, NULL,
	    NULL);
}
