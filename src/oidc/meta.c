/*
 * meta.c: client metadata, checked as a whole and put in normal form.
 *
 * Redirect URIs are where the provider sends a browser with a code in
 * hand, so they are held to the strictest reading of the standards:
 * absolute, no fragment (RFC 6749 3.1.2), no wildcards; https anywhere;
 * http only to a loopback address given as an IP literal (RFC 8252 7.3
 * and 8.3, where "localhost" is not recommended); otherwise a private-use
 * scheme in reverse domain form, such as com.example.app:/cb (RFC 8252
 * 7.1), which rules out javascript:, data: and file: as well.  The
 * authorization endpoint will compare a redirect URI with these byte for
 * byte.  http and https URIs are parsed with libcurl's URL API; a
 * private-use URI is checked here, as libcurl wants "://" after a scheme
 * it does not know.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/base.h"
#include "oidc/oidc.h"

#define GT_CODE		"authorization_code"
#define GT_REFRESH	"refresh_token"
#define GT_CLIENT	"client_credentials"
#define GT_DEVICE	"urn:ietf:params:oauth:grant-type:device_code"
#define GT_EXCHANGE	"urn:ietf:params:oauth:grant-type:token-exchange"

static const char *const grant_types[] = {
	GT_CODE, GT_REFRESH, GT_CLIENT, GT_DEVICE, GT_EXCHANGE, NULL,
};
static const char *const auth_methods[] = {
	"client_secret_basic", "client_secret_post", "private_key_jwt",
	"none", NULL,
};
static const char *const signing_algs[] = { "ES256", "RS256", "EdDSA", NULL };
/* JWK members that carry private or symmetric key material. */
static const char *const private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL,
};

static bool
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static int
bad(const char *field, const char *why)
{
	return zt_error_set(ZT_EINVAL, "field \"%s\": %s", field, why);
}

/* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
static size_t
scheme_len(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (i = 1; s[i] != '\0' && s[i] != ':'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
		    s[i] == '-' || s[i] == '.'))
			return 0;
	return s[i] == ':' ? i : 0;
}

/* Printable ASCII without space, '#' or '*': what may remain of a URI
 * after its scheme.  (A URI with other bytes must be percent-encoded.) */
static bool
uri_chars_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~' || *s == '#' || *s == '*' ||
		    *s == '\\')
			return false;
	return true;
}

static int
web_uri_check(const char *field, const char *uri, bool https)
{
	CURLU *u = curl_url();
	char *host = NULL, *frag = NULL;
	int err = ZT_OK;

	if (u == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0')
		err = bad(field, "not an absolute URI with a host");
	else if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)
		err = bad(field, "a redirect URI has no fragment");
	else if (!https && strcmp(host, "127.0.0.1") != 0 &&
	    strcmp(host, "[::1]") != 0)
		err = bad(field, "http is for the loopback addresses 127.0.0.1 "
		    "and [::1] only; use https");
	curl_free(host);
	curl_free(frag);
	curl_url_cleanup(u);
	return err;
}

static int
uri_check(const char *field, const char *uri)
{
	size_t n = strlen(uri), sl;

	if (n == 0 || n > ZT_CLIENT_URI_MAX)
		return bad(field, "a URI is 1 to 2048 bytes");
	if (!uri_chars_ok(uri))
		return bad(field, "a URI has no spaces, fragments, wildcards "
		    "or characters that are not percent-encoded");
	if ((sl = scheme_len(uri)) == 0)
		return bad(field, "not an absolute URI");
	if ((sl == 4 || sl == 5) && strncasecmp(uri, "https", sl) == 0) {
		/* libcurl reads "https:///x" as host x: be stricter. */
		if (strncmp(uri + sl, "://", 3) != 0 || uri[sl + 3] == '/')
			return bad(field, "not an absolute URI with a host");
		return web_uri_check(field, uri, sl == 5);
	}
	if (memchr(uri, '.', sl) == NULL)
		return bad(field, "a private-use scheme is a reverse domain "
		    "name, such as com.example.app");
	if (uri[sl + 1] == '\0')
		return bad(field, "not an absolute URI");
	return ZT_OK;
}

/* A JSON array of distinct strings, each checked by `check`. */
static int
string_set(json_t **out, const char *field, json_t *in, size_t max,
    int (*check)(const char *field, const char *s))
{
	json_t *v, *w;
	size_t i, j;
	int err;

	if (!json_is_array(in))
		return bad(field, "must be an array of strings");
	if (json_array_size(in) > max)
		return zt_error_set(ZT_EINVAL, "field \"%s\": at most %zu",
		    field, max);
	json_array_foreach(in, i, v) {
		if (!json_is_string(v))
			return bad(field, "must be an array of strings");
		if ((err = check(field, json_string_value(v))) < 0)
			return err;
		for (j = 0; j < i; j++) {
			w = json_array_get(in, j);
			if (strcmp(json_string_value(v),
			    json_string_value(w)) == 0)
				return bad(field, "lists a value twice");
		}
	}
	*out = json_deep_copy(in);
	return *out ? ZT_OK : zt_error_set(ZT_ENOMEM, "out of memory");
}

static int
grant_check(const char *field, const char *s)
{
	if (!in_list(grant_types, s))
		return zt_error_set(ZT_EINVAL, "field \"%s\": \"%.64s\" is "
		    "not a grant type this provider supports", field, s);
	return ZT_OK;
}

static int
response_check(const char *field, const char *s)
{
	return strcmp(s, "code") == 0 ? ZT_OK :
	    bad(field, "only \"code\" is supported");
}

/* RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), joined by
 * single spaces. */
static int
scope_check(const char *s)
{
	size_t i, n = strlen(s);

	if (n > ZT_CLIENT_SCOPE_MAX)
		return bad("scope", "at most 1024 bytes");
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == ' ' ? (i == 0 || i + 1 == n || s[i + 1] == ' ') :
		    (c < 0x21 || c > 0x7e || c == '"' || c == '\\'))
			return bad("scope", "scope tokens of printable ASCII "
			    "(no quote or backslash) joined by single spaces");
	}
	return ZT_OK;
}

/* A public JWK set: {"keys": [{"kty": ...}, ...]}, nothing private. */
static int
jwks_check(json_t *jwks)
{
	const char *const *m;
	json_t *keys, *k;
	char *text;
	size_t i, n;

	if (!json_is_object(jwks) || !json_is_array(keys = json_object_get(
	    jwks, "keys")) || json_array_size(keys) == 0)
		return bad("jwks", "must be a JWK set with at least one key");
	json_array_foreach(keys, i, k) {
		if (!json_is_object(k) ||
		    !json_is_string(json_object_get(k, "kty")))
			return bad("jwks", "every key is an object with \"kty\"");
		for (m = private_members; *m != NULL; m++)
			if (json_object_get(k, *m) != NULL)
				return bad("jwks", "holds private key material; "
				    "register public keys only");
	}
	if ((text = json_dumps(jwks, JSON_COMPACT)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	n = strlen(text);
	free(text);
	if (n > ZT_CLIENT_JWKS_MAX)
		return zt_error_set(ZT_ETOOBIG, "field \"jwks\": over 16 KiB");
	return ZT_OK;
}

/* The fields of a client's metadata as the caller sent them. */
struct meta_in {
	const char *system, *name, *method, *scope, *alg;
	json_t *redirects, *logout, *grants, *responses, *jwks;
	int64_t at_life, rt_life, rt_idle;
	bool dpop, par, first;
	bool has_name, has_scope, has_grants, has_responses;
};

/* Grants, response types and the authentication method must agree. */
static int
meta_consistent(const struct meta_in *m, json_t *grants, json_t *responses,
    json_t *redirects)
{
	bool code = zt_json_set_has(grants, GT_CODE);
	bool pub = strcmp(m->method, "none") == 0;

	if (json_array_size(grants) == 0)
		return bad("grant_types", "at least one");
	if (code != zt_json_set_has(responses, "code"))
		return bad("response_types", "\"code\" goes with the "
		    "authorization_code grant, and only with it");
	if (zt_json_set_has(grants, GT_REFRESH) && !code &&
	    !zt_json_set_has(grants, GT_DEVICE))
		return bad("grant_types", "refresh_token needs "
		    "authorization_code or the device grant");
	if (code && json_array_size(redirects) == 0)
		return bad("redirect_uris", "required for the "
		    "authorization_code grant");
	if (pub && (zt_json_set_has(grants, GT_CLIENT) ||
	    zt_json_set_has(grants, GT_EXCHANGE)))
		return bad("token_endpoint_auth_method", "a public client "
		    "(\"none\") cannot use client_credentials or token "
		    "exchange");
	if ((strcmp(m->method, "private_key_jwt") == 0) != (m->jwks != NULL))
		return bad("jwks", "required with private_key_jwt, and only "
		    "with it");
	return ZT_OK;
}

static int
meta_build(json_t **out, const struct meta_in *m)
{
	json_t *redirects = NULL, *logout = NULL, *grants = NULL;
	json_t *responses = NULL, *empty = json_array();
	int err;

	if (empty == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = string_set(&redirects, "redirect_uris",
	    m->redirects ? m->redirects : empty, ZT_CLIENT_URIS_MAX,
	    uri_check)) < 0 ||
	    (err = string_set(&logout, "post_logout_redirect_uris",
	    m->logout ? m->logout : empty, ZT_CLIENT_URIS_MAX,
	    uri_check)) < 0)
		goto out;
	if (m->has_grants)
		err = string_set(&grants, "grant_types", m->grants, 5,
		    grant_check);
	else
		err = (grants = json_pack("[s]", GT_CODE)) ? ZT_OK :
		    zt_error_set(ZT_ENOMEM, "out of memory");
	if (err < 0)
		goto out;
	if (m->has_responses)
		err = string_set(&responses, "response_types", m->responses, 1,
		    response_check);
	else
		err = (responses = zt_json_set_has(grants, GT_CODE) ?
		    json_pack("[s]", "code") : json_array()) ? ZT_OK :
		    zt_error_set(ZT_ENOMEM, "out of memory");
	if (err < 0 ||
	    (err = meta_consistent(m, grants, responses, redirects)) < 0)
		goto out;
	*out = json_pack("{s:s, s:O, s:O, s:O, s:O, s:s, s:s, s:s,"
	    " s:I, s:I, s:I, s:b, s:b, s:b}",
	    "client_name", m->name ? m->name : "",
	    "redirect_uris", redirects,
	    "post_logout_redirect_uris", logout,
	    "grant_types", grants,
	    "response_types", responses,
	    "token_endpoint_auth_method", m->method,
	    "scope", m->scope,
	    "id_token_signed_response_alg", m->alg,
	    "access_token_lifetime", (json_int_t)m->at_life,
	    "refresh_token_lifetime", (json_int_t)m->rt_life,
	    "refresh_token_idle_lifetime", (json_int_t)m->rt_idle,
	    "dpop_bound_access_tokens", m->dpop,
	    "require_pushed_authorization_requests", m->par,
	    "first_party", m->first);
	if (*out == NULL)
		err = zt_error_set(ZT_ENOMEM, "out of memory");
	else {
		if (m->system != NULL)
			json_object_set_new(*out, "account_system",
			    json_string(m->system));
		if (m->jwks != NULL)
			json_object_set(*out, "jwks", m->jwks);
	}
out:
	json_decref(redirects);
	json_decref(logout);
	json_decref(grants);
	json_decref(responses);
	json_decref(empty);
	return err;
}

int
zt_client_metadata(json_t **out, json_t *in)
{
	struct meta_in m = {
		.method = "client_secret_basic", .scope = "openid profile email",
		.alg = "ES256", .at_life = 600, .rt_life = 30 * 86400,
		.rt_idle = 14 * 86400,
	};
	zt_json_field f[] = {
		{ "account_system", ZT_J_STRING, false, &m.system, NULL },
		{ "client_name", ZT_J_STRING, false, &m.name, &m.has_name },
		{ "redirect_uris", ZT_J_ARRAY, false, &m.redirects, NULL },
		{ "post_logout_redirect_uris", ZT_J_ARRAY, false, &m.logout,
		    NULL },
		{ "grant_types", ZT_J_ARRAY, false, &m.grants, &m.has_grants },
		{ "response_types", ZT_J_ARRAY, false, &m.responses,
		    &m.has_responses },
		{ "token_endpoint_auth_method", ZT_J_STRING, false, &m.method,
		    NULL },
		{ "jwks", ZT_J_OBJECT, false, &m.jwks, NULL },
		{ "scope", ZT_J_STRING, false, &m.scope, &m.has_scope },
		{ "id_token_signed_response_alg", ZT_J_STRING, false, &m.alg,
		    NULL },
		{ "access_token_lifetime", ZT_J_INT, false, &m.at_life, NULL },
		{ "refresh_token_lifetime", ZT_J_INT, false, &m.rt_life, NULL },
		{ "refresh_token_idle_lifetime", ZT_J_INT, false, &m.rt_idle,
		    NULL },
		{ "dpop_bound_access_tokens", ZT_J_BOOL, false, &m.dpop, NULL },
		{ "require_pushed_authorization_requests", ZT_J_BOOL, false,
		    &m.par, NULL },
		{ "first_party", ZT_J_BOOL, false, &m.first, NULL },
	};
	int err;

	*out = NULL;
	if (!json_is_object(in))
		return zt_error_set(ZT_EINVAL, "client metadata is a JSON "
		    "object");
	if ((err = zt_json_decode(in, f, ZT_ARRAY_LEN(f))) < 0)
		return err;
	if (m.name != NULL && (strlen(m.name) > ZT_CLIENT_NAME_MAX ||
	    !zt_utf8_valid(m.name, strlen(m.name))))
		return bad("client_name", "at most 200 bytes of UTF-8");
	if (m.name != NULL) {
		const char *p;

		for (p = m.name; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return bad("client_name", "no control "
				    "characters");
	}
	if (!in_list(auth_methods, m.method))
		return bad("token_endpoint_auth_method", "one of "
		    "client_secret_basic, client_secret_post, "
		    "private_key_jwt, none");
	if (!in_list(signing_algs, m.alg))
		return bad("id_token_signed_response_alg", "one of ES256, "
		    "RS256, EdDSA");
	if ((err = scope_check(m.scope)) < 0 ||
	    (m.jwks != NULL && (err = jwks_check(m.jwks)) < 0))
		return err;
	if (m.at_life < 60 || m.at_life > 86400)
		return bad("access_token_lifetime", "60 to 86400 seconds");
	if (m.rt_life < 300 || m.rt_life > 366 * 86400)
		return bad("refresh_token_lifetime", "300 seconds to 366 "
		    "days");
	if (m.rt_idle < 300 || m.rt_idle > 366 * 86400)
		return bad("refresh_token_idle_lifetime", "300 seconds to 366 "
		    "days");
	return meta_build(out, &m);
}
