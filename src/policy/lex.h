/*
 * lex.h: tokens of the Cedar policy text, for the parser only.
 */
#ifndef ZT_POLICY_LEX_H
#define ZT_POLICY_LEX_H

#include "policy/policy_int.h"

enum zp_tok {
	T_EOF, T_IDENT, T_INT, T_STR,
	T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_LBRACE, T_RBRACE,
	T_COMMA, T_SEMI, T_COLON, T_DCOLON, T_DOT, T_AT, T_QUESTION,
	T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR, T_NOT,
	T_MINUS, T_PLUS, T_STAR,
};

typedef struct zp_token {
	uint8_t kind;		/* enum zp_tok */
	const char *p;		/* its bytes; a string's without quotes */
	uint32_t n;
	uint64_t ival;		/* T_INT: up to 2^63; no sign yet */
	int line, col;
} zp_token;

typedef struct zp_lexer {
	const char *s;
	size_t n;
	size_t pos;
	int line;
	size_t line_start;	/* offset of the current line's first byte */
	char err[128];		/* set when zp_lex fails */
} zp_lexer;

void zp_lex_init(zp_lexer *lx, const char *s, size_t n);
/* Reads the next token; ZT_EINVAL with lx->err and the position in `t`
 * on a byte that starts no token, an unterminated string, or an integer
 * over 2^63. */
int zp_lex(zp_lexer *lx, zp_token *t);

/* Decodes a string token's escapes (\n \r \t \\ \0 \' \" \xHH up to 7F,
 * \u{H...}) into the arena.  ZT_EINVAL with a message in `err`. */
int zp_unescape(zp_str *out, zp_arena *a, const char *p, uint32_t n,
    char *err, size_t errlen);
/* The same for a `like` pattern, where \* is a literal star and * a
 * wildcard. */
int zp_pattern_compile(const zp_pattern **out, zp_arena *a, const char *p,
    uint32_t n, char *err, size_t errlen);

#endif
