/*
 * Unit tests of http/router.c: literal-over-parameter priority with
 * backtracking, parameter capture, 404 against 405 with the allowed
 * methods, the trailing-slash rule, and the patterns zt_router_add
 * refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

enum {
	R_ROOT, R_USERS, R_USER, R_ME, R_USER_KEYS, R_USER_KEY, R_DEL_USER,
	R_ME_DEL_KEYS,
};

static int
setup(void **state)
{
	zt_router *r;

	assert_int_equal(zt_router_new(&r), ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_GET, "/", R_ROOT), ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_GET | ZT_POST, "/v1/users",
	    R_USERS), ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_GET, "/v1/users/{id}", R_USER),
	    ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_GET, "/v1/users/me", R_ME),
	    ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_GET, "/v1/users/{id}/keys",
	    R_USER_KEYS), ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_GET | ZT_DELETE,
	    "/v1/users/{uid}/keys/{kid}", R_USER_KEY), ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_DELETE, "/v1/users/{id}",
	    R_DEL_USER), ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_DELETE, "/v1/users/me/keys",
	    R_ME_DEL_KEYS), ZT_OK);
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	zt_router_free(*state);
	return 0;
}

/* Matches and returns the route (or the error), clearing the match. */
static int
route_of(zt_router *r, unsigned method, const char *path)
{
	zt_route_match m;
	int err;

	err = zt_router_match(r, method, path, &m);
	if (err == ZT_OK)
		err = m.route;
	zt_route_match_clear(&m);
	return err;
}

static void
test_http_router__literal_beats_param(void **state)
{
	zt_router *r = *state;

	assert_int_equal(route_of(r, ZT_GET, "/v1/users/me"), R_ME);
	assert_int_equal(route_of(r, ZT_GET, "/v1/users/42"), R_USER);
	assert_int_equal(route_of(r, ZT_GET, "/"), R_ROOT);
	assert_int_equal(route_of(r, ZT_GET, "/v1/users"), R_USERS);
	assert_int_equal(route_of(r, ZT_POST, "/v1/users"), R_USERS);
}

/* The literal branch "me" has no GET ".../keys": the walk backs up and
 * takes the parameter; and a method only the parameter route has wins
 * over the literal route that lacks it. */
static void
test_http_router__backtracks_to_param(void **state)
{
	zt_router *r = *state;

	assert_int_equal(route_of(r, ZT_GET, "/v1/users/me/keys"),
	    R_USER_KEYS);
	assert_int_equal(route_of(r, ZT_DELETE, "/v1/users/me/keys"),
	    R_ME_DEL_KEYS);
	assert_int_equal(route_of(r, ZT_DELETE, "/v1/users/me"), R_DEL_USER);
}

static void
test_http_router__params_captured(void **state)
{
	zt_router *r = *state;
	zt_route_match m;

	assert_int_equal(zt_router_match(r, ZT_DELETE,
	    "/v1/users/alice smith/keys/k 1", &m), ZT_OK);
	assert_int_equal(m.route, R_USER_KEY);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.params[0].name, "uid");
	assert_string_equal(m.params[0].value, "alice smith");
	assert_string_equal(m.params[1].name, "kid");
	assert_string_equal(m.params[1].value, "k 1");
	zt_route_match_clear(&m);
	assert_int_equal(m.nparams, 0);

	/* Same position, other pattern, other name. */
	assert_int_equal(zt_router_match(r, ZT_GET,
	    "/v1/users/\xc3\xa9t\xc3\xa9", &m), ZT_OK);
	assert_int_equal(m.nparams, 1);
	assert_string_equal(m.params[0].name, "id");
	assert_string_equal(m.params[0].value, "\xc3\xa9t\xc3\xa9");
	zt_route_match_clear(&m);
}

static void
test_http_router__not_found_vs_method(void **state)
{
	zt_router *r = *state;
	zt_route_match m;

	assert_int_equal(zt_router_match(r, ZT_GET, "/v2/users", &m),
	    ZT_ENOTFOUND);
	assert_int_equal(m.route, -1);
	assert_int_equal(m.nparams, 0);
	assert_int_equal(zt_router_match(r, ZT_GET, "/v1/users/1/keys/2/x",
	    &m), ZT_ENOTFOUND);
	assert_int_equal(zt_router_match(r, ZT_GET, "relative", &m),
	    ZT_ENOTFOUND);

	assert_int_equal(zt_router_match(r, ZT_PUT, "/v1/users", &m),
	    ZT_ECONFLICT);
	assert_int_equal(m.allowed, ZT_GET | ZT_POST);
	assert_int_equal(m.nparams, 0);

	/* Both "/v1/users/me" and "/v1/users/{id}" match the path. */
	assert_int_equal(zt_router_match(r, ZT_POST, "/v1/users/me", &m),
	    ZT_ECONFLICT);
	assert_int_equal(m.allowed, ZT_GET | ZT_DELETE);
	zt_route_match_clear(&m);
}

/* "/v1/users/" has an empty last segment: no pattern has one, so it is
 * not "/v1/users", and a parameter never matches an empty segment. */
static void
test_http_router__trailing_slash(void **state)
{
	zt_router *r = *state;

	assert_int_equal(route_of(r, ZT_GET, "/v1/users/"), ZT_ENOTFOUND);
	assert_int_equal(route_of(r, ZT_GET, "/v1/users/me/"), ZT_ENOTFOUND);
	assert_int_equal(route_of(r, ZT_GET, "/v1//users"), ZT_ENOTFOUND);
	assert_int_equal(route_of(r, ZT_GET, "//"), ZT_ENOTFOUND);
	assert_int_equal(route_of(r, ZT_GET, "/v1/users//keys"),
	    ZT_ENOTFOUND);
}

static void
test_http_router__too_many_params(void **state)
{
	zt_router *r = *state;

	assert_int_equal(zt_router_add(r, ZT_GET,
	    "/p/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", 100), ZT_OK);
	assert_int_equal(zt_router_add(r, ZT_GET,
	    "/q/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", 101), ZT_EINVAL);
	assert_int_equal(route_of(r, ZT_GET, "/p/1/2/3/4/5/6/7/8"), 100);
	assert_int_equal(route_of(r, ZT_GET, "/q/1/2/3/4/5/6/7/8/9"),
	    ZT_ENOTFOUND);
}

static void
test_http_router__bad_patterns(void **state)
{
	static const char *const bad[] = {
		"", "v1/x", "//", "/v1//x", "/v1/x/", "/{}", "/{1a}",
		"/{a-b}", "/x{id}", "/{id}x", "/{id", "/a}", "/a%2F",
		"/a?b", "/a#b", "/a\tb", "/{a}/{a}",
		"/{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}",
		"/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
	};
	zt_router *r = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (zt_router_add(r, ZT_GET, bad[i], 200) != ZT_EINVAL)
			fail_msg("pattern \"%s\" was accepted", bad[i]);
	assert_int_equal(zt_router_add(r, ZT_GET, NULL, 200), ZT_EINVAL);
	assert_int_equal(zt_router_add(r, 0, "/ok", 200), ZT_EINVAL);
	assert_int_equal(zt_router_add(r, 1u << 6, "/ok", 200), ZT_EINVAL);
	assert_int_equal(zt_router_add(r, ZT_GET, "/ok", -1), ZT_EINVAL);
	/* The same path and method twice; another method is fine. */
	assert_int_equal(zt_router_add(r, ZT_GET, "/v1/users/{x}", 200),
	    ZT_EEXISTS);
	assert_int_equal(zt_router_add(r, ZT_PUT, "/v1/users/{x}", 201),
	    ZT_OK);
	assert_int_equal(route_of(r, ZT_PUT, "/v1/users/7"), 201);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_http_router__literal_beats_param, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_router__backtracks_to_param, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_router__params_captured, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_router__not_found_vs_method, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_router__trailing_slash, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_router__too_many_params, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_router__bad_patterns, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
