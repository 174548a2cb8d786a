/*
 * lex.c: the Cedar policy tokenizer and string-literal decoder.
 *
 * The input has been checked to be UTF-8 without NUL bytes.  Whitespace
 * and `//` comments separate tokens.  Identifiers are [_a-zA-Z][_a-zA-Z0-9]*
 * (keywords are identifiers here; the parser tells them apart).  Integer
 * literals are unsigned decimal digits up to 2^63, which only a leading
 * minus sign makes valid.  Strings are kept raw between their quotes and
 * decoded later, because a `like` pattern decodes them differently.
 */
#include <stdio.h>
#include <string.h>

#include "policy/lex.h"

void
zp_lex_init(zp_lexer *lx, const char *s, size_t n)
{
	memset(lx, 0, sizeof(*lx));
	lx->s = s;
	lx->n = n;
	lx->line = 1;
}

static void
skip_space(zp_lexer *lx)
{
	char c;

	while (lx->pos < lx->n) {
		c = lx->s[lx->pos];
		if (c == '\n') {
			lx->line++;
			lx->line_start = ++lx->pos;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->pos++;
		} else if (c == '/' && lx->pos + 1 < lx->n &&
		    lx->s[lx->pos + 1] == '/') {
			while (lx->pos < lx->n && lx->s[lx->pos] != '\n')
				lx->pos++;
		} else {
			break;
		}
	}
}

static bool
is_ident_byte(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
lex_int(zp_lexer *lx, zp_token *t)
{
	uint64_t v = 0;

	while (lx->pos < lx->n && lx->s[lx->pos] >= '0' &&
	    lx->s[lx->pos] <= '9') {
		v = v * 10 + (uint64_t)(lx->s[lx->pos++] - '0');
		if (v > (uint64_t)INT64_MAX + 1) {
			snprintf(lx->err, sizeof(lx->err),
			    "integer literal out of range");
			return ZT_EINVAL;
		}
	}
	t->kind = T_INT;
	t->ival = v;
	return ZT_OK;
}

/* Strings may span lines; a backslash always takes the next byte with it,
 * so an escaped quote does not end the string. */
static int
lex_str(zp_lexer *lx, zp_token *t)
{
	size_t start = ++lx->pos;

	while (lx->pos < lx->n && lx->s[lx->pos] != '"') {
		if (lx->s[lx->pos] == '\\')
			lx->pos++;
		else if (lx->s[lx->pos] == '\n') {
			lx->line++;
			lx->line_start = lx->pos + 1;
		}
		lx->pos++;
	}
	if (lx->pos >= lx->n) {
		snprintf(lx->err, sizeof(lx->err), "unterminated string");
		return ZT_EINVAL;
	}
	t->kind = T_STR;
	t->p = lx->s + start;
	t->n = (uint32_t)(lx->pos++ - start);
	return ZT_OK;
}

/* One- and two-byte punctuation. */
static int
lex_punct(zp_lexer *lx, zp_token *t)
{
	static const struct { const char *s; uint8_t kind; } tab[] = {
		{ "::", T_DCOLON }, { "==", T_EQ }, { "!=", T_NE },
		{ "<=", T_LE }, { ">=", T_GE }, { "&&", T_AND }, { "||", T_OR },
		{ "(", T_LPAREN }, { ")", T_RPAREN }, { "[", T_LBRACK },
		{ "]", T_RBRACK }, { "{", T_LBRACE }, { "}", T_RBRACE },
		{ ",", T_COMMA }, { ";", T_SEMI }, { ":", T_COLON },
		{ ".", T_DOT }, { "@", T_AT }, { "?", T_QUESTION },
		{ "<", T_LT }, { ">", T_GT }, { "!", T_NOT }, { "-", T_MINUS },
		{ "+", T_PLUS }, { "*", T_STAR },
	};
	size_t i, len, left = lx->n - lx->pos;
	unsigned char c = (unsigned char)lx->s[lx->pos];

	for (i = 0; i < ZT_ARRAY_LEN(tab); i++) {
		len = strlen(tab[i].s);
		if (len <= left &&
		    memcmp(lx->s + lx->pos, tab[i].s, len) == 0) {
			t->kind = tab[i].kind;
			t->n = (uint32_t)len;
			lx->pos += len;
			return ZT_OK;
		}
	}
	if (c >= 0x21 && c < 0x7f)
		snprintf(lx->err, sizeof(lx->err), "unexpected '%c'", c);
	else
		snprintf(lx->err, sizeof(lx->err), "unexpected byte 0x%02x",
		    c);
	return ZT_EINVAL;
}

int
zp_lex(zp_lexer *lx, zp_token *t)
{
	char c;

	skip_space(lx);
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = (int)(lx->pos - lx->line_start) + 1;
	t->p = lx->s + lx->pos;
	if (lx->pos >= lx->n) {
		t->kind = T_EOF;
		return ZT_OK;
	}
	c = lx->s[lx->pos];
	if (c >= '0' && c <= '9')
		return lex_int(lx, t);
	if (c == '"')
		return lex_str(lx, t);
	if (is_ident_byte(c)) {
		while (lx->pos < lx->n && is_ident_byte(lx->s[lx->pos]))
			lx->pos++;
		t->kind = T_IDENT;
		t->n = (uint32_t)(lx->s + lx->pos - t->p);
		return ZT_OK;
	}
	return lex_punct(lx, t);
}

/* ---- string escapes -------------------------------------------------- */

static size_t
utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int
hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \u{H..H}: one to six hex digits naming a Unicode scalar value. */
static int
esc_unicode(uint32_t *cp, const char *p, uint32_t n, uint32_t *i)
{
	uint32_t v = 0, d = 0;

	if (*i >= n || p[*i] != '{')
		return ZT_EINVAL;
	for ((*i)++; *i < n && p[*i] != '}'; (*i)++, d++) {
		if (d >= 6 || hexdig(p[*i]) < 0)
			return ZT_EINVAL;
		v = v * 16 + (uint32_t)hexdig(p[*i]);
	}
	if (*i >= n || d == 0 || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return ZT_EINVAL;
	(*i)++;
	*cp = v;
	return ZT_OK;
}

/* Decodes the escape after a backslash at p[*i]; *star is set for \*
 * when stars are allowed. */
static int
esc_one(uint32_t *cp, bool *star, const char *p, uint32_t n, uint32_t *i,
    bool pattern)
{
	char c = p[(*i)++];
	int h, l;

	*star = false;
	switch (c) {
	case 'n':	*cp = '\n'; return ZT_OK;
	case 'r':	*cp = '\r'; return ZT_OK;
	case 't':	*cp = '\t'; return ZT_OK;
	case '0':	*cp = 0; return ZT_OK;
	case '\\':	*cp = '\\'; return ZT_OK;
	case '\'':	*cp = '\''; return ZT_OK;
	case '"':	*cp = '"'; return ZT_OK;
	case 'x':
		if (*i + 2 > n || (h = hexdig(p[*i])) < 0 || h > 7 ||
		    (l = hexdig(p[*i + 1])) < 0)
			return ZT_EINVAL;
		*i += 2;
		*cp = (uint32_t)(h * 16 + l);
		return ZT_OK;
	case 'u':
		return esc_unicode(cp, p, n, i);
	case '*':
		if (!pattern)
			return ZT_EINVAL;
		*star = true;
		*cp = '*';
		return ZT_OK;
	default:
		return ZT_EINVAL;
	}
}

/*
 * Decodes p[0..n) into `out` (at most n bytes: every escape is at least as
 * long as its UTF-8 result).  With `marks` (patterns), marks[k] is set
 * for each output byte that is a wildcard: a `*` written as is or by
 * another escape (\u{2a}, \x2a), as in Cedar; only `\*` is a literal star.
 */
static int
decode(char *out, uint32_t *outn, bool *marks, const char *p, uint32_t n,
    char *err, size_t errlen)
{
	uint32_t i = 0, o = 0, cp;
	bool star;

	while (i < n) {
		if (p[i] != '\\') {
			if (marks != NULL)
				marks[o] = p[i] == '*';
			out[o++] = p[i++];
			continue;
		}
		i++;
		if (i >= n || esc_one(&cp, &star, p, n, &i,
		    marks != NULL) != ZT_OK) {
			snprintf(err, errlen, "invalid escape in string");
			return ZT_EINVAL;
		}
		if (marks != NULL)
			marks[o] = !star && cp == '*';
		o += (uint32_t)utf8_put(out + o, cp);
	}
	*outn = o;
	return ZT_OK;
}

int
zp_unescape(zp_str *out, zp_arena *a, const char *p, uint32_t n,
    char *err, size_t errlen)
{
	char *buf;

	if ((buf = zp_alloc(a, (size_t)n + 1)) == NULL)
		return ZT_ENOMEM;
	if (decode(buf, &out->n, NULL, p, n, err, errlen) != ZT_OK)
		return ZT_EINVAL;
	buf[out->n] = '\0';
	out->p = buf;
	return ZT_OK;
}

int
zp_pattern_compile(const zp_pattern **out, zp_arena *a, const char *p,
    uint32_t n, char *err, size_t errlen)
{
	zp_pattern *pat;
	uint32_t len, i, k = 0;
	bool *marks;
	char *buf;

	buf = zp_alloc(a, (size_t)n + 1);
	marks = zp_alloc(a, (size_t)n + 1);
	pat = zp_alloc(a, sizeof(*pat) + ((size_t)n + 1) * sizeof(zp_patel));
	if (buf == NULL || marks == NULL || pat == NULL)
		return ZT_ENOMEM;
	if (decode(buf, &len, marks, p, n, err, errlen) != ZT_OK)
		return ZT_EINVAL;

	/* Runs of literal bytes become one element; runs of wildcards one
	 * wildcard, since "**" matches what "*" does. */
	for (i = 0; i < len; i++) {
		if (marks[i]) {
			if (k == 0 || !pat->el[k - 1].star)
				pat->el[k++].star = true;
			continue;
		}
		if (k == 0 || pat->el[k - 1].star) {
			pat->el[k].star = false;
			pat->el[k].lit.p = buf + i;
			pat->el[k++].lit.n = 0;
		}
		pat->el[k - 1].lit.n++;
	}
	pat->n = k;
	*out = pat;
	return ZT_OK;
}
