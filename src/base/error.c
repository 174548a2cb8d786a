/*
 * Per-thread error state: the code and a one-line message of the last
 * failure on this thread.  Workers each serve one request at a time, so a
 * thread-local slot is enough to carry a reason from the store or a domain
 * module up to the handler that turns it into a problem document.
 */
#include <stdio.h>

#include "base/base.h"

static _Thread_local int err_code;
static _Thread_local char err_msg[256];

int
zt_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	err_code = code;
	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	return code;
}

const char *
zt_error_msg(void)
{
	return err_msg[0] ? err_msg : zt_strerror(err_code);
}

int
zt_error_code(void)
{
	return err_code;
}

void
zt_error_clear(void)
{
	err_code = ZT_OK;
	err_msg[0] = '\0';
}

const char *
zt_strerror(int code)
{
	switch (code) {
	case ZT_OK:		return "no error";
	case ZT_ENOTFOUND:	return "not found";
	case ZT_EEXISTS:	return "already exists";
	case ZT_EINVAL:		return "invalid input";
	case ZT_ECONFLICT:	return "conflict";
	case ZT_ENOMEM:		return "out of memory";
	case ZT_EBUSY:		return "busy";
	case ZT_EFORBIDDEN:	return "forbidden";
	case ZT_ETOOBIG:	return "too large";
	case ZT_EUNAVAIL:	return "unavailable";
	case ZT_ESTALE:		return "version mismatch";
	default:		return "error";
	}
}
