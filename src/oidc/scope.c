/*
 * scope.c: what a request asks for, as RFC 6749 3.3 scopes and RFC 8707
 * resource indicators, checked the same way at every endpoint that takes
 * them (token, device authorization, pushed requests, authorization).
 */
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"

bool
zt_scope_syntax_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > ZT_CLIENT_SCOPE_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' ? (i == 0 || i + 1 == n || s[i + 1] == ' ') :
		    (c < 0x21 || c > 0x7e || c == '"' || c == '\\'))
			return false;
	}
	return true;
}

bool
zt_scope_within(const char *want, const char *have)
{
	const char *w = want, *h, *end;
	size_t n;

	while (*w != '\0') {
		if ((n = strcspn(w, " ")) == 0)
			return false;
		for (h = have; *h != '\0'; h = *end ? end + 1 : end) {
			end = h + strcspn(h, " ");
			if ((size_t)(end - h) == n && strncmp(h, w, n) == 0)
				break;
		}
		if (*h == '\0')
			return false;
		w += n;
		if (*w == ' ')
			w++;
	}
	return true;
}

bool
zt_resource_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > ZT_CLIENT_URI_MAX || strchr(s, '#') != NULL)
		return false;
	/* RFC 3986 3.1: a scheme, then ':' and something. */
	for (i = 0; i < n && s[i] != ':'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (i > 0 && ((s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '+' || s[i] == '-' || s[i] == '.'))))
			return false;
	if (i == 0 || i == n || s[i + 1] == '\0')
		return false;
	for (; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

int
zt_oauth_audience_read(json_t **out, const zt_form *f, bool audience_ok,
    zt_oauth_error *e)
{
	json_t *list = json_array();
	size_t i;

	*out = NULL;
	if (list == NULL)
		return zt_oauth_fail(e, 500, "server_error", "out of memory");
	for (i = 0; i < f->n; i++) {
		const char *name = f->p[i].name, *v = f->p[i].value;
		bool is_res = strcmp(name, "resource") == 0;

		if (!is_res && !(audience_ok && strcmp(name, "audience") == 0))
			continue;
		if (v[0] == '\0')
			continue;
		if ((is_res && !zt_resource_ok(v)) ||
		    strlen(v) > ZT_CLIENT_URI_MAX) {
			json_decref(list);
			return zt_oauth_fail(e, 400, "invalid_target", "a "
			    "resource is an absolute URI without a fragment");
		}
		if (json_array_size(list) == ZT_OAUTH_RESOURCES_MAX) {
			json_decref(list);
			return zt_oauth_fail(e, 400, "invalid_target", "at "
			    "most %d resources and audiences",
			    ZT_OAUTH_RESOURCES_MAX);
		}
		json_array_append_new(list, json_string(v));
	}
	if (json_array_size(list) == 0)
		json_decref(list);
	else if (json_array_size(list) == 1) {
		*out = json_incref(json_array_get(list, 0));
		json_decref(list);
	} else
		*out = list;
	return ZT_OK;
}
