/*
 * extn.c: Cedar's two extension types this module supports, ipaddr and
 * decimal, parsed from their string forms.
 *
 * ipaddr: an IPv4 dotted quad (four decimal octets, no leading zeros) or
 * an IPv6 address (up to eight groups of one to four hex digits, one "::"
 * standing for at least one zero group, optionally ending in a dotted
 * quad), either followed by "/prefix" (decimal, no leading zeros, at most
 * 32 or 128).  No prefix means a single address (/32 or /128).  Host bits
 * below the prefix are kept, as Cedar keeps them, so 10.0.0.1/24 and
 * 10.0.0.0/24 are different values that cover the same range.
 *
 * decimal: an optional '-', one or more digits, '.', then one to four
 * digits; the value is kept as a 64-bit count of ten-thousandths, and a
 * value that does not fit is an error.
 */
#include <string.h>

#include "policy/policy_int.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads a decimal number of at most `maxdig` digits without a leading
 * zero, up to `max`, from s[*i]. */
static int
read_dec(unsigned *out, const char *s, size_t n, size_t *i, int maxdig,
    unsigned max)
{
	size_t start = *i;
	unsigned v = 0;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9' &&
	    (int)(*i - start) < maxdig)
		v = v * 10 + (unsigned)(s[(*i)++] - '0');
	if (*i == start || (s[start] == '0' && *i - start > 1) || v > max)
		return ZT_EINVAL;
	if (*i < n && s[*i] >= '0' && s[*i] <= '9')
		return ZT_EINVAL;
	*out = v;
	return ZT_OK;
}

static int
parse_v4(uint8_t out[4], const char *s, size_t n)
{
	size_t i = 0;
	unsigned v;
	int k;

	for (k = 0; k < 4; k++) {
		if (k > 0 && (i >= n || s[i++] != '.'))
			return ZT_EINVAL;
		if (read_dec(&v, s, n, &i, 3, 255) != ZT_OK)
			return ZT_EINVAL;
		out[k] = (uint8_t)v;
	}
	return i == n ? ZT_OK : ZT_EINVAL;
}

/* Reads hex groups separated by ':' from s[0..n) into g, at most `max`
 * 16-bit groups; a trailing dotted quad counts as two.  An empty input
 * gives zero groups. */
static int
v6_groups(uint16_t *g, int *ng, int max, const char *s, size_t n)
{
	size_t i = 0, start;
	uint8_t q[4];
	int v, d;

	*ng = 0;
	while (i < n) {
		start = i;
		v = 0;
		for (d = 0; i < n && hexval(s[i]) >= 0 && d < 5; d++, i++)
			v = v * 16 + hexval(s[i]);
		if (i < n && s[i] == '.') {
			/* The rest is an embedded IPv4 address. */
			if (*ng + 2 > max || parse_v4(q, s + start,
			    n - start) != ZT_OK)
				return ZT_EINVAL;
			g[(*ng)++] = (uint16_t)(q[0] << 8 | q[1]);
			g[(*ng)++] = (uint16_t)(q[2] << 8 | q[3]);
			return ZT_OK;
		}
		if (d == 0 || d > 4 || *ng >= max)
			return ZT_EINVAL;
		g[(*ng)++] = (uint16_t)v;
		if (i < n && (s[i++] != ':' || i == n))
			return ZT_EINVAL;
	}
	return ZT_OK;
}

static int
parse_v6(uint8_t out[16], const char *s, size_t n)
{
	uint16_t head[8], tail[8];
	int nh, nt = 0, k;
	const char *dc = NULL;
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == ':' && s[i + 1] == ':') {
			dc = s + i;
			break;
		}
	if (dc == NULL) {
		if (v6_groups(head, &nh, 8, s, n) != ZT_OK || nh != 8)
			return ZT_EINVAL;
	} else {
		/* "::" stands for at least one group of zeros. */
		if (v6_groups(head, &nh, 7, s, (size_t)(dc - s)) != ZT_OK ||
		    v6_groups(tail, &nt, 7 - nh, dc + 2,
		    n - (size_t)(dc - s) - 2) != ZT_OK)
			return ZT_EINVAL;
	}
	memset(out, 0, 16);
	for (k = 0; k < nh; k++) {
		out[2 * k] = (uint8_t)(head[k] >> 8);
		out[2 * k + 1] = (uint8_t)head[k];
	}
	for (k = 0; k < nt; k++) {
		out[16 - 2 * (nt - k)] = (uint8_t)(tail[k] >> 8);
		out[16 - 2 * (nt - k) + 1] = (uint8_t)tail[k];
	}
	return ZT_OK;
}

int
zp_ip_parse(zp_ip *out, const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash != NULL ? (size_t)(slash - s) : n, i;
	unsigned prefix;
	zp_ip ip;

	memset(&ip, 0, sizeof(ip));
	ip.v6 = memchr(s, ':', alen) != NULL;
	if ((ip.v6 ? parse_v6(ip.addr, s, alen) :
	    parse_v4(ip.addr, s, alen)) != ZT_OK)
		return ZT_EINVAL;
	ip.prefix = ip.v6 ? 128 : 32;
	if (slash != NULL) {
		i = alen + 1;
		if (read_dec(&prefix, s, n, &i, 3, ip.prefix) != ZT_OK ||
		    i != n)
			return ZT_EINVAL;
		ip.prefix = (uint8_t)prefix;
	}
	*out = ip;
	return ZT_OK;
}

/* Do a and b agree in their first `bits` bits? */
static bool
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* The range a covers lies within the range `range` covers. */
bool
zp_ip_in_range(const zp_ip *a, const zp_ip *range)
{
	return a->v6 == range->v6 && a->prefix >= range->prefix &&
	    prefix_eq(a->addr, range->addr, range->prefix);
}

bool
zp_ip_is_loopback(const zp_ip *a)
{
	static const zp_ip lo4 = { { 127 }, 8, false };
	static const zp_ip lo6 = { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 1 }, 128, true };

	return zp_ip_in_range(a, a->v6 ? &lo6 : &lo4);
}

bool
zp_ip_is_multicast(const zp_ip *a)
{
	static const zp_ip mc4 = { { 224 }, 4, false };
	static const zp_ip mc6 = { { 0xff }, 8, true };

	return zp_ip_in_range(a, a->v6 ? &mc6 : &mc4);
}

int
zp_decimal_parse(int64_t *out, const char *s, size_t n)
{
	size_t i = 0, start;
	int64_t v = 0;
	bool neg = false;
	int frac = 0;

	if (i < n && s[i] == '-') {
		neg = true;
		i++;
	}
	/* Accumulate negatively so the most negative value fits. */
	for (start = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_sub_overflow(v, s[i] - '0', &v))
			return ZT_EINVAL;
	if (i == start || i >= n || s[i++] != '.')
		return ZT_EINVAL;
	for (start = i; i < n && s[i] >= '0' && s[i] <= '9'; i++, frac++)
		if (frac >= 4 || __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_sub_overflow(v, s[i] - '0', &v))
			return ZT_EINVAL;
	if (frac == 0 || i != n)
		return ZT_EINVAL;
	for (; frac < 4; frac++)
		if (__builtin_mul_overflow(v, 10, &v))
			return ZT_EINVAL;
	if (!neg && v == INT64_MIN)
		return ZT_EINVAL;
	*out = neg ? v : -v;
	return ZT_OK;
}
