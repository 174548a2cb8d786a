/*
 * Structured logging: one line per event, as JSON or logfmt, written with a
 * single write(2) so lines from worker threads never interleave.  Each line
 * has the time, level, message, the request id the thread is serving (if
 * any) and typed fields.  String values are escaped and cut at
 * LOG_VALUE_MAX bytes, so a hostile path or name cannot flood or forge log
 * lines.  Callers never pass secrets, tokens or passwords as fields.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/base.h"

/* A value longer than this is cut: long enough for a path or an error
 * message, short enough that one line stays well under PIPE_BUF. */
#define LOG_VALUE_MAX 256
#define LOG_LINE_MAX 4096

static enum zt_log_level log_min = ZT_LOG_INFO;
static enum zt_log_format log_fmt = ZT_LOG_JSON;
static int log_fd = 2;
static _Thread_local char log_rid[72];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
zt_log_setup(enum zt_log_level min, enum zt_log_format fmt, int fd)
{
	log_min = min;
	log_fmt = fmt;
	log_fd = fd;
}

int
zt_log_parse_level(const char *s, enum zt_log_level *out)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum zt_log_level)i;
			return ZT_OK;
		}
	return zt_error_set(ZT_EINVAL, "log level must be debug, info, "
	    "warn or error");
}

int
zt_log_parse_format(const char *s, enum zt_log_format *out)
{
	if (strcmp(s, "json") == 0)
		*out = ZT_LOG_JSON;
	else if (strcmp(s, "logfmt") == 0)
		*out = ZT_LOG_LOGFMT;
	else
		return zt_error_set(ZT_EINVAL, "log format must be json or "
		    "logfmt");
	return ZT_OK;
}

bool
zt_log_enabled(enum zt_log_level lvl)
{
	return lvl >= log_min;
}

void
zt_log_set_request_id(const char *rid)
{
	if (rid == NULL)
		log_rid[0] = '\0';
	else
		snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

/* Appends `s` quoted and escaped; bytes that are not valid UTF-8 become
 * '?'.  Truncation is silent past the buffer limit. */
static void
log_quote(zt_buf *b, const char *s)
{
	size_t n = strlen(s), i, room;
	bool utf8;

	if (n > LOG_VALUE_MAX)
		n = LOG_VALUE_MAX;
	utf8 = zt_utf8_valid(s, n);
	zt_buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t run = i;

		/* A run of bytes that need no escape goes in at once. */
		while (run < n && (unsigned char)s[run] >= 0x20 &&
		    s[run] != '"' && s[run] != '\\' && s[run] != 0x7f &&
		    ((unsigned char)s[run] < 0x80 || utf8))
			run++;
		if (run > i) {
			/* Up to the line's limit, as byte by byte would. */
			room = b->max > b->len ? b->max - b->len : 0;
			zt_buf_add(b, s + i, run - i < room ? run - i : room);
			i = run - 1;
		} else if (c == '"' || c == '\\') {
			zt_buf_addc(b, '\\');
			zt_buf_addc(b, (char)c);
		} else if (c == '\n')
			zt_buf_adds(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			zt_buf_addf(b, "\\u%04x", c);
		else if (c >= 0x80 && !utf8)
			zt_buf_addc(b, '?');
		else
			zt_buf_addc(b, (char)c);
	}
	if (strlen(s) > LOG_VALUE_MAX)
		zt_buf_adds(b, "...");
	zt_buf_addc(b, '"');
}

/* logfmt leaves simple values bare and quotes the rest. */
static bool
logfmt_bare(const char *s)
{
	if (*s == '\0' || strlen(s) > LOG_VALUE_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void
log_pair(zt_buf *b, const zt_field *f)
{
	bool json = log_fmt == ZT_LOG_JSON;

	if (json) {
		zt_buf_addc(b, ',');
		log_quote(b, f->key);
		zt_buf_addc(b, ':');
	} else
		zt_buf_addf(b, " %s=", f->key);
	switch (f->kind) {
	case ZT_F_STR:
		if (f->s == NULL)
			zt_buf_adds(b, json ? "null" : "\"\"");
		else if (!json && logfmt_bare(f->s))
			zt_buf_adds(b, f->s);
		else
			log_quote(b, f->s);
		break;
	case ZT_F_INT:
		zt_buf_addf(b, "%lld", f->i);
		break;
	case ZT_F_DBL:
		zt_buf_addf(b, "%.6g", f->d);
		break;
	case ZT_F_BOOL:
		zt_buf_adds(b, f->i ? "true" : "false");
		break;
	case ZT_F_END:
		break;
	}
}

void
zt_log_emit(enum zt_log_level lvl, const char *msg, ...)
{
	static _Thread_local char space[LOG_LINE_MAX + 1];
	zt_buf b = { space, 0, sizeof(space), LOG_LINE_MAX - 2 };
	char ts[32];
	zt_field f;
	va_list ap;

	space[0] = '\0';
	zt_time_format(ts, zt_now_ms());
	if (log_fmt == ZT_LOG_JSON) {
		zt_buf_addf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
		    level_names[lvl]);
		log_quote(&b, msg);
	} else {
		zt_buf_addf(&b, "ts=%s level=%s msg=", ts, level_names[lvl]);
		log_quote(&b, msg);
	}
	if (log_rid[0])
		log_pair(&b, &ZS("request_id", log_rid));
	va_start(ap, msg);
	for (;;) {
		f = va_arg(ap, zt_field);
		if (f.kind == ZT_F_END)
			break;
		log_pair(&b, &f);
	}
	va_end(ap);
	/* The limit kept two bytes free for the closing brace and newline. */
	b.max = LOG_LINE_MAX;
	if (log_fmt == ZT_LOG_JSON)
		zt_buf_addc(&b, '}');
	zt_buf_addc(&b, '\n');
	if (write(log_fd, b.data, b.len) < 0) {
		/* Nowhere left to report it. */
	}
}
