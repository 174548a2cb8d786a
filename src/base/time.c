/*
 * Clocks and RFC 3339 timestamps.  Stored times are integer milliseconds
 * since the epoch (UTC); text forms appear only at the edges (JSON, logs).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

int64_t
zt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
zt_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
zt_time_format(char out[32], int64_t ms)
{
	/* Every log line and record stamps the time: each thread keeps
	 * the last second it formatted and adds only the milliseconds. */
	static _Thread_local time_t last = (time_t)-1;
	static _Thread_local char head[26];
	static _Thread_local size_t n;
	time_t secs = (time_t)(ms / 1000);
	unsigned frac = (unsigned)(ms % 1000) % 1000u;
	struct tm tm;

	if (secs != last || n == 0) {
		gmtime_r(&secs, &tm);
		n = strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
		last = secs;
	}
	memcpy(out, head, n);
	out[n] = '.';
	out[n + 1] = (char)('0' + frac / 100);
	out[n + 2] = (char)('0' + frac / 10 % 10);
	out[n + 3] = (char)('0' + frac % 10);
	out[n + 4] = 'Z';
	out[n + 5] = '\0';
}

/* Accepts YYYY-MM-DDTHH:MM:SS[.fff]Z (UTC only; offsets are refused so a
 * stored time never depends on a local zone). */
json_t *
zt_time_json(int64_t ms)
{
	char s[32];

	zt_time_format(s, ms);
	return json_string(s);
}

int
zt_time_parse(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p;
	int frac = 0, digits = 0;

	if (strlen(s) < 20)
		return zt_error_set(ZT_EINVAL, "not an RFC 3339 UTC time");
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return zt_error_set(ZT_EINVAL, "not an RFC 3339 UTC time");
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return zt_error_set(ZT_EINVAL, "empty fraction");
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (p[0] != 'Z' || p[1] != '\0')
		return zt_error_set(ZT_EINVAL, "time must end in Z (UTC)");
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return ZT_OK;
}
