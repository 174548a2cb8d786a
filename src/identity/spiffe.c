/*
 * spiffe.c: the SPIFFE ID parser.
 *
 * Grammar accepted (SPIFFE ID specification, section 2):
 *
 *   spiffe-id    = "spiffe://" trust-domain *( "/" segment )
 *   trust-domain = 1*255( %x61-7A / DIGIT / "." / "-" / "_" )
 *   segment      = 1*( ALPHA / DIGIT / "." / "-" / "_" ), not "." or ".."
 *
 * and at most 2048 bytes in all.  The scheme is matched in lower case
 * only; there is no percent-encoding, port, user info, query or fragment,
 * since none of ':', '@', '%', '?' or '#' is in either alphabet.  The input
 * is untrusted (certificates, request paths, the Workload API), so it is
 * read once, left to right, each byte checked before it is copied, and
 * the first fault is reported by its kind and byte offset without echoing
 * the input.
 */
#include <string.h>

#include "identity/identity_int.h"

#define SCHEME "spiffe://"

static bool
td_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '-' || c == '_';
}

static bool
seg_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* Names the fault of a byte that is in neither alphabet. */
static int
bad_byte(const char *part, unsigned char c, size_t at)
{
	if (c == ':')
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: %s may not hold "
		    "a port or ':' (byte %zu)", part, at);
	if (c == '@')
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: %s may not hold "
		    "user info or '@' (byte %zu)", part, at);
	if (c == '?' || c == '#')
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: no query or "
		    "fragment allowed (byte %zu)", at);
	if (c == '%')
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: no percent-"
		    "encoding allowed (byte %zu)", at);
	if (c >= 'A' && c <= 'Z')
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: %s must be lower "
		    "case (byte %zu)", part, at);
	return zt_error_set(ZT_EINVAL, "SPIFFE ID: %s holds a character "
	    "outside [a-zA-Z0-9._-] (byte %zu)", part, at);
}

/* Reads the trust domain from s[*i] up to '/' or the end. */
static int
parse_td(zt_spiffe_id *out, const char *s, size_t n, size_t *i)
{
	size_t start = *i;

	for (; *i < n && s[*i] != '/'; (*i)++) {
		if (!td_byte((unsigned char)s[*i]))
			return bad_byte("trust domain", (unsigned char)s[*i],
			    *i);
		if (*i - start >= ZT_SPIFFE_TD_MAX)
			return zt_error_set(ZT_EINVAL, "SPIFFE ID: trust "
			    "domain longer than %d bytes", ZT_SPIFFE_TD_MAX);
	}
	if (*i == start)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: trust domain is "
		    "empty");
	if (out != NULL) {
		memcpy(out->trust_domain, s + start, *i - start);
		out->trust_domain[*i - start] = '\0';
	}
	return ZT_OK;
}

/* Reads "/segment" repeated from s[i] to the end. */
static int
parse_path(zt_spiffe_id *out, const char *s, size_t n, size_t i)
{
	size_t start = i, seg, nsegs = 0;

	while (i < n) {
		/* s[i] is '/' here: parse_td stops only there or at n. */
		seg = ++i;
		while (i < n && s[i] != '/') {
			if (!seg_byte((unsigned char)s[i]))
				return bad_byte("path segment",
				    (unsigned char)s[i], i);
			i++;
		}
		nsegs++;
		if (i == seg)
			return zt_error_set(ZT_EINVAL, "SPIFFE ID: path "
			    "segment %zu is empty%s", nsegs, i == n ?
			    " (trailing '/')" : "");
		if ((i - seg == 1 && s[seg] == '.') ||
		    (i - seg == 2 && s[seg] == '.' && s[seg + 1] == '.'))
			return zt_error_set(ZT_EINVAL, "SPIFFE ID: path "
			    "segment %zu is \".\" or \"..\"", nsegs);
	}
	if (out != NULL) {
		memcpy(out->path, s + start, n - start);
		out->path[n - start] = '\0';
		out->nsegs = nsegs;
	}
	return ZT_OK;
}

int
zt_spiffe_id_parse(zt_spiffe_id *out, const char *s, size_t n)
{
	size_t i = sizeof(SCHEME) - 1;
	int err;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (s == NULL || n == 0)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: empty");
	if (n > ZT_SPIFFE_ID_MAX)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: longer than %d "
		    "bytes", ZT_SPIFFE_ID_MAX);
	if (n < i || memcmp(s, SCHEME, i) != 0)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: must start with "
		    "\"" SCHEME "\"");
	if ((err = parse_td(out, s, n, &i)) < 0)
		return err;
	return parse_path(out, s, n, i);
}

int
zt_spiffe_id_validate(const char *s)
{
	if (s == NULL)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: empty");
	/* strnlen: a string past the limit is refused without reading it
	 * all. */
	return zt_spiffe_id_parse(NULL, s, strnlen(s, ZT_SPIFFE_ID_MAX + 1));
}

int
zt_spiffe_td_validate(const char *td)
{
	size_t i = 0, n;

	if (td == NULL || (n = strnlen(td, ZT_SPIFFE_TD_MAX + 1)) == 0)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: trust domain is "
		    "empty");
	/* The same rules as inside an ID, without the ID around it. */
	for (i = 0; i < n; i++)
		if (td[i] == '/' || !td_byte((unsigned char)td[i]))
			return bad_byte("trust domain", (unsigned char)td[i],
			    i);
	if (n > ZT_SPIFFE_TD_MAX)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID: trust domain "
		    "longer than %d bytes", ZT_SPIFFE_TD_MAX);
	return ZT_OK;
}

int
zt_identity_config_check(const zt_identity_config *cfg)
{
	if (cfg == NULL || cfg->trust_domain == NULL)
		return ZT_OK;
	return zt_spiffe_td_validate(cfg->trust_domain);
}
