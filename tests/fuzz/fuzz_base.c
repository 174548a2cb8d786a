/*
 * libFuzzer harness for the small parsers of base/ that see untrusted text:
 * base64url, hex, UTF-8 validation, RFC 3339 times, sizes, durations,
 * integers and the sanitiser used to quote input in messages.  The first
 * byte picks the parser; the rest is its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, out[300];
	uint8_t raw[256];
	int64_t i64;
	size_t sz;
	long n;

	if (size < 1 || size > 256)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 8) {
	case 0:
		n = zt_b64url_decode(raw, s, size - 1);
		if (n >= 0) {
			char enc[400];

			zt_b64url_encode(enc, raw, (size_t)n);
			/* Canonical decoding: encoding gives the input back. */
			if (strlen(enc) != size - 1 || memcmp(enc, s, size - 1))
				abort();
		}
		break;
	case 1:
		zt_hex_decode(raw, (size - 1) / 2, s);
		break;
	case 2:
		zt_utf8_valid((const char *)data + 1, size - 1);
		break;
	case 3:
		zt_time_parse(s, &i64);
		break;
	case 4:
		zt_parse_size(s, &sz);
		break;
	case 5:
		zt_parse_duration(s, &i64);
		break;
	case 6:
		zt_parse_i64(s, INT64_MIN, INT64_MAX, &i64);
		break;
	case 7:
		zt_str_sanitize(out, (const char *)data + 1, size - 1, 200);
		break;
	}
	free(s);
	return 0;
}
