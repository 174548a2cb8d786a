/*
 * parse.h: the parser state shared by parse.c (policies and scopes) and
 * parse_expr.c (expressions).
 */
#ifndef ZT_POLICY_PARSE_H
#define ZT_POLICY_PARSE_H

#include "policy/lex.h"

typedef struct zp_parser {
	zp_lexer lx;
	zp_token tok;		/* the current, not yet consumed, token */
	zp_arena *a;
	zt_policy_error *err;	/* never NULL inside the parser */
	bool failed;		/* only the first fault is reported */
	int depth;		/* of zp_parse_expr calls under way */
} zp_parser;

/* Records a fault at token `t` (the first one wins); returns ZT_EINVAL. */
int zp_perr(zp_parser *p, const zp_token *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int zp_next(zp_parser *p);
/* Consumes a token of `kind`, or fails naming `what` was expected. */
int zp_expect(zp_parser *p, uint8_t kind, const char *what);
bool zp_is_kw(const zp_token *t, const char *kw);
/* true, false, if, then, else, in, is, like, has, __cedar. */
bool zp_reserved(const zp_token *t);
/* Reads an identifier that may not be a reserved word. */
int zp_ident(zp_parser *p, zp_str *out, const char *what);
/* Reads `Path :: "id"` after the first identifier has been read into
 * `first`; the current token is the first "::". */
int zp_entity_tail(zp_parser *p, const zp_uid **out, zp_str first);
/* Reads a type path `A::B::C` into one string. */
int zp_parse_path(zp_parser *p, zp_str *out);
/* Copies the identifiers and "::" of a path in s[..end), dropping the
 * spaces and comments the source may have between them. */
int zp_path_copy(zp_parser *p, zp_str *out, const char *s, const char *end);
int zp_parse_expr(zp_expr **out, zp_parser *p);
/* The function or method called `name`: its zp_fn and its number of
 * arguments, the receiver included; ZT_ENOTFOUND if there is none. */
int zp_fn_find(const char *name, size_t n, uint8_t *fn, uint8_t *nargs);

#endif
