/*
 * extn.c: Cedar's two extension types this module supports, ipaddr and
 * decimal, parsed from their string forms.
 *
 * ipaddr: an IPv4 dotted quad (four decimal octets, no leading zeros) or
 * an IPv6 address (up to eight groups of one to four hex digits, one "::"
 * standing for at least one zero group; no embedded dotted quad such as
 * "::ffff:1.2.3.4", which Cedar refuses), either followed by "/prefix" (decimal, no leading zeros, at most
 * 32 or 128).  No prefix means a single address (/32 or /128).  Host bits
 * below the prefix are kept, as Cedar keeps them, so 10.0.0.1/24 and
 * 10.0.0.0/24 are different values that cover the same range.
 *
 * decimal: an optional '-', one or more digits, '.', then one to four
 * digits; the value is kept as a 64-bit count of ten-thousandths, and a
 * value that does not fit is an error.
 *
 * datetime: an instant kept as milliseconds since 1970-01-01T00:00:00Z
 * (Unix time, days of 86,400 s, proleptic Gregorian calendar).  Five
 * forms: "YYYY-MM-DD", then "T" "hh:mm:ss", optionally ".SSS" (exactly
 * three digits), then "Z" or a "+hhmm" / "-hhmm" offset (hh < 24, mm <
 * 60) that is subtracted to give UTC.  Years have four digits; months,
 * days (leap years included), hours, minutes and seconds are checked, so
 * there is no second 60.
 *
 * duration: an optional '-', then one or more quantity-unit pairs in the
 * order d, h, m, s, ms, each unit at most once ("1d2h3m4s5ms", "-10h",
 * "5d3ms"); quantities are decimal digits.  Kept as milliseconds; a total
 * outside 64 bits is an error.
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
 * 16-bit groups.  An empty input gives zero groups.  A dotted quad in
 * place of the last two groups is refused, as Cedar refuses it. */
static int
v6_groups(uint16_t *g, int *ng, int max, const char *s, size_t n)
{
	size_t i = 0;
	int v, d;

	*ng = 0;
	while (i < n) {
		v = 0;
		for (d = 0; i < n && hexval(s[i]) >= 0 && d < 5; d++, i++)
			v = v * 16 + hexval(s[i]);
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

/* ---- datetime and duration ------------------------------------------ */

#define MS_PER_DAY 86400000LL

/* Reads exactly `nd` decimal digits at s[*i]. */
static bool
fixed_digits(unsigned *out, const char *s, size_t n, size_t *i, int nd)
{
	unsigned v = 0;
	int k;

	if (*i + (size_t)nd > n)
		return false;
	for (k = 0; k < nd; k++) {
		if (s[*i] < '0' || s[*i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[(*i)++] - '0');
	}
	*out = v;
	return true;
}

static bool
lit_char(const char *s, size_t n, size_t *i, char c)
{
	if (*i >= n || s[*i] != c)
		return false;
	(*i)++;
	return true;
}

static bool
leap_year(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
month_days(unsigned y, unsigned m)
{
	static const unsigned char days[] = { 31, 28, 31, 30, 31, 30, 31,
	    31, 30, 31, 30, 31 };

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d: count in 400-year eras (146,097 days
 * each) from 0000-03-01, so that February, with its leap day, ends the
 * counting year. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* "YYYY-MM-DD" into days since the epoch. */
static bool
parse_date(int64_t *days, const char *s, size_t n, size_t *i)
{
	unsigned y, m, d;

	if (!fixed_digits(&y, s, n, i, 4) || !lit_char(s, n, i, '-') ||
	    !fixed_digits(&m, s, n, i, 2) || !lit_char(s, n, i, '-') ||
	    !fixed_digits(&d, s, n, i, 2))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return false;
	*days = days_from_civil(y, m, d);
	return true;
}

/* "hh:mm:ss[.SSS]" into milliseconds into the day. */
static bool
parse_clock(int64_t *ms, const char *s, size_t n, size_t *i)
{
	unsigned h, m, sec, frac = 0;

	if (!fixed_digits(&h, s, n, i, 2) || !lit_char(s, n, i, ':') ||
	    !fixed_digits(&m, s, n, i, 2) || !lit_char(s, n, i, ':') ||
	    !fixed_digits(&sec, s, n, i, 2))
		return false;
	if (h > 23 || m > 59 || sec > 59)
		return false;
	if (*i < n && s[*i] == '.' && (++*i, !fixed_digits(&frac, s, n, i,
	    3)))
		return false;
	*ms = ((int64_t)h * 3600 + m * 60 + sec) * 1000 + frac;
	return true;
}

/* "Z" or "(+|-)hhmm" into the offset from UTC in milliseconds. */
static bool
parse_zone(int64_t *off, const char *s, size_t n, size_t *i)
{
	unsigned h, m;
	bool neg;

	if (lit_char(s, n, i, 'Z')) {
		*off = 0;
		return true;
	}
	if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
		return false;
	neg = s[(*i)++] == '-';
	if (!fixed_digits(&h, s, n, i, 2) || !fixed_digits(&m, s, n, i, 2) ||
	    h > 23 || m > 59)
		return false;
	*off = ((int64_t)h * 60 + m) * 60000 * (neg ? -1 : 1);
	return true;
}

int
zp_datetime_parse(int64_t *out, const char *s, size_t n)
{
	int64_t days, ms = 0, off = 0;
	size_t i = 0;

	if (!parse_date(&days, s, n, &i))
		return ZT_EINVAL;
	if (i < n && (!lit_char(s, n, &i, 'T') ||
	    !parse_clock(&ms, s, n, &i) || !parse_zone(&off, s, n, &i)))
		return ZT_EINVAL;
	if (i != n)
		return ZT_EINVAL;
	/* Four-digit years keep this well inside 64 bits. */
	*out = days * MS_PER_DAY + ms - off;
	return ZT_OK;
}

int
zp_duration_parse(int64_t *out, const char *s, size_t n)
{
	static const struct { const char *u; int64_t ms; } units[] = {
		{ "d", MS_PER_DAY }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	size_t i = 0, start, next = 0, k;
	int64_t total = 0, q;
	bool neg = false;

	if (i < n && s[i] == '-') {
		neg = true;
		i++;
	}
	if (i == n)
		return ZT_EINVAL;

	/* Sums negatively so that the most negative duration fits. */
	while (i < n) {
		q = 0;
		for (start = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (__builtin_mul_overflow(q, 10, &q) ||
			    __builtin_sub_overflow(q, s[i] - '0', &q))
				return ZT_EINVAL;
		if (i == start)
			return ZT_EINVAL;
		/* The unit: "ms", or one of d, h, m, s. */
		if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's')
			k = 4;
		else if (i < n && memchr("dhms", s[i], 4) != NULL)
			k = (size_t)((const char *)memchr("dhms", s[i], 4) -
			    "dhms");
		else
			return ZT_EINVAL;
		if (k < next)
			return ZT_EINVAL;
		i += strlen(units[k].u);
		next = k + 1;
		if (__builtin_mul_overflow(q, units[k].ms, &q) ||
		    __builtin_add_overflow(total, q, &total))
			return ZT_EINVAL;
	}
	if (!neg && total == INT64_MIN)
		return ZT_EINVAL;
	*out = neg ? total : -total;
	return ZT_OK;
}

int
zp_datetime_to_date(int64_t *out, int64_t t)
{
	int64_t r = t % MS_PER_DAY;

	if (r < 0)
		return __builtin_sub_overflow(t, r + MS_PER_DAY, out) ?
		    ZT_EINVAL : ZT_OK;
	*out = t - r;
	return ZT_OK;
}

int64_t
zp_datetime_to_time(int64_t t)
{
	int64_t r = t % MS_PER_DAY;

	return r < 0 ? r + MS_PER_DAY : r;
}
