/*
 * base: the helpers every other ztiam module stands on.
 *
 * Errors follow one model everywhere: a function returns an int, 0 (ZT_OK)
 * for success, one of the few named negative codes below for a failure the
 * caller is expected to handle, or ZT_ERR for anything else.  A one-line
 * message for the failure is kept per thread (zt_error_set, zt_error_msg),
 * which suits a server whose worker threads each run their own event loop.
 * Callers pass a code up unchanged rather than overwrite it.
 *
 * Logging is structured: a message plus typed fields, written as JSON lines
 * or logfmt.  Field values are escaped and truncated; no caller passes a
 * secret, token or password as a field.
 */
#ifndef ZT_BASE_H
#define ZT_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- errors ---------------------------------------------------------- */

enum {
	ZT_OK = 0,
	ZT_ERR = -1,		/* anything not listed below */
	ZT_ENOTFOUND = -2,	/* the thing asked for does not exist */
	ZT_EEXISTS = -3,	/* a unique name or key is taken */
	ZT_EINVAL = -4,		/* the input is malformed or out of range */
	ZT_ECONFLICT = -5,	/* a precondition (version, state) failed */
	ZT_ENOMEM = -6,
	ZT_EBUSY = -7,		/* the database or a resource is locked */
	ZT_EFORBIDDEN = -8,	/* the caller may not do this */
	ZT_ETOOBIG = -9,	/* the input exceeds a size limit */
	ZT_EUNAVAIL = -10,	/* a dependency (database) is unreachable */
	ZT_ESTALE = -11,	/* the caller's version is not the current one */
};

/* Sets this thread's error message; returns `code` so a caller can write
 * `return zt_error_set(ZT_EINVAL, "bad %s", what);`. */
int zt_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *zt_error_msg(void);
int zt_error_code(void);
void zt_error_clear(void);
const char *zt_strerror(int code);

/* ---- logging ---------------------------------------------------------- */

enum zt_log_level {
	ZT_LOG_DEBUG, ZT_LOG_INFO, ZT_LOG_WARN, ZT_LOG_ERROR,
};

enum zt_log_format { ZT_LOG_JSON, ZT_LOG_LOGFMT };

enum zt_field_kind { ZT_F_END, ZT_F_STR, ZT_F_INT, ZT_F_DBL, ZT_F_BOOL };

typedef struct zt_field {
	const char *key;
	enum zt_field_kind kind;
	const char *s;
	long long i;
	double d;
} zt_field;

#define ZS(k, v) ((zt_field){ .key = (k), .kind = ZT_F_STR, .s = (v) })
#define ZI(k, v) ((zt_field){ .key = (k), .kind = ZT_F_INT, .i = (v) })
#define ZD(k, v) ((zt_field){ .key = (k), .kind = ZT_F_DBL, .d = (v) })
#define ZB(k, v) ((zt_field){ .key = (k), .kind = ZT_F_BOOL, .i = !!(v) })
#define ZT_FEND ((zt_field){ .key = NULL, .kind = ZT_F_END })

void zt_log_setup(enum zt_log_level min, enum zt_log_format fmt, int fd);
int zt_log_parse_level(const char *s, enum zt_log_level *out);
int zt_log_parse_format(const char *s, enum zt_log_format *out);
bool zt_log_enabled(enum zt_log_level lvl);

/* The request id of the request this thread is serving, or NULL; every log
 * line written while it is set carries it. */
void zt_log_set_request_id(const char *rid);

/* Writes one line: `msg`, then the fields up to ZT_FEND.  Use the macros. */
void zt_log_emit(enum zt_log_level lvl, const char *msg, ...);

#define zt_log(lvl, ...) \
	do { if (zt_log_enabled(lvl)) zt_log_emit(lvl, __VA_ARGS__, ZT_FEND); } while (0)
#define log_debug(...) zt_log(ZT_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  zt_log(ZT_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  zt_log(ZT_LOG_WARN, __VA_ARGS__)
#define log_error(...) zt_log(ZT_LOG_ERROR, __VA_ARGS__)

/* ---- growable byte buffer with its own limit -------------------------- */

typedef struct zt_buf {
	char *data;	/* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;	/* appends past this fail with ZT_ETOOBIG */
} zt_buf;

#define ZT_BUF_INIT(limit) { NULL, 0, 0, (limit) }

int zt_buf_add(zt_buf *b, const void *p, size_t n);
int zt_buf_adds(zt_buf *b, const char *s);
int zt_buf_addf(zt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int zt_buf_addc(zt_buf *b, char c);
void zt_buf_reset(zt_buf *b);
/* Frees the buffer; wipes it first (it may have held a secret). */
void zt_buf_free(zt_buf *b);
/* Hands the data to the caller (free() it) and empties the buffer. */
char *zt_buf_detach(zt_buf *b);

/* ---- encodings, randomness, hashing ----------------------------------- */

/* base64url without padding; `out` needs zt_b64url_len(n) + 1 bytes. */
size_t zt_b64url_len(size_t n);
size_t zt_b64url_encode(char *out, const void *in, size_t n);
/* Returns the decoded length, or -1 on a character outside the alphabet,
 * padding, or a length that no encoding produces.  `out` needs n*3/4+1. */
long zt_b64url_decode(void *out, const char *in, size_t n);

void zt_hex_encode(char *out, const void *in, size_t n); /* 2n+1 bytes */
int zt_hex_decode(void *out, size_t outlen, const char *in);

int zt_random(void *buf, size_t n);
/* A random identifier of `bytes` random bytes in base64url (url-safe). */
int zt_random_id(char *out, size_t outlen, size_t bytes);

#define ZT_SHA256_LEN 32
void zt_sha256(uint8_t out[ZT_SHA256_LEN], const void *in, size_t n);
/* Constant-time equality of two equal-length byte strings. */
bool zt_ct_equal(const void *a, const void *b, size_t n);
/* Wipes memory in a way the compiler may not remove. */
void zt_wipe(void *p, size_t n);

/* ---- time ------------------------------------------------------------- */

int64_t zt_now_ms(void);	/* wall clock, ms since the epoch */
int64_t zt_mono_us(void);	/* monotonic, microseconds */
/* RFC 3339 UTC with milliseconds: 2026-12-03T17:22:02.123Z (25 bytes). */
void zt_time_format(char out[32], int64_t ms);
int zt_time_parse(const char *s, int64_t *ms);
/* The same, as a new JSON string (NULL when out of memory). */
json_t *zt_time_json(int64_t ms);

/* ---- strings ---------------------------------------------------------- */

/* Parses a whole decimal integer in [min, max]; no sign games, no trailing
 * bytes.  Returns ZT_EINVAL otherwise. */
int zt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Parses a duration such as "90s", "15m", "12h", "7d" or a bare number of
 * seconds into seconds. */
int zt_parse_duration(const char *s, int64_t *seconds);
/* Parses a size such as "1MiB", "64KiB", "4096" into bytes. */
int zt_parse_size(const char *s, size_t *bytes);
bool zt_str_has_prefix(const char *s, const char *prefix);
/* Copies at most `max` bytes of `in` for quoting untrusted input in an
 * error or log: control and non-ASCII bytes become '?'.  `out` needs
 * max+4 bytes ("..." marks a cut). */
void zt_str_sanitize(char *out, const char *in, size_t inlen, size_t max);
/* Checks that `s` is valid UTF-8 without NUL bytes. */
bool zt_utf8_valid(const char *s, size_t n);

/* ---- strict JSON decoding ---------------------------------------------- */

/*
 * Decodes a JSON object into C values from a table of fields: a field not
 * in the table, a value of the wrong type, or a missing required field is
 * ZT_EINVAL with a message naming the field.  Strings stay owned by the
 * json_t; copy them if they must outlive it.
 */
enum zt_json_type {
	ZT_J_STRING,	/* const char ** */
	ZT_J_INT,	/* int64_t * */
	ZT_J_BOOL,	/* bool * */
	ZT_J_OBJECT,	/* json_t ** (borrowed) */
	ZT_J_ARRAY,	/* json_t ** (borrowed) */
	ZT_J_ANY,	/* json_t ** (borrowed) */
};

typedef struct zt_json_field {
	const char *name;
	enum zt_json_type type;
	bool required;
	void *out;
	bool *present;	/* optional: set when the field was given */
} zt_json_field;

int zt_json_decode(json_t *obj, const zt_json_field *fields, size_t n);

/* Parses a request body: UTF-8, one JSON value, no duplicate keys, at most
 * `max_depth` levels of nesting.  ZT_EINVAL with a message on failure. */
int zt_json_parse(json_t **out, const char *buf, size_t len, int max_depth);
/* Whether the array `set` holds the string `s`. */
bool zt_json_set_has(json_t *set, const char *s);

#define ZT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
