/*
 * The API client behind `ztiam <noun> <verb>`: one libcurl request per
 * command, JSON in and out, and output as a table for people or as JSON
 * (--json) for scripts.  The server URL and token come from flags or the
 * environment; on the server's own machine the bootstrap token file is the
 * fallback, so the README's tour works without copying secrets around.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/base.h"
#include "cli/cli.h"

/* Responses are small JSON documents; this bounds a hostile server. */
#define CLIENT_MAX_RESPONSE (64u << 20)

const char *
zt_cli_take_opt(int *argc, char **argv, const char *name)
{
	size_t n = strlen(name);
	const char *v = NULL;
	int i, drop = 0;

	for (i = 0; i < *argc; i++) {
		if (strncmp(argv[i], "--", 2) || strncmp(argv[i] + 2, name, n))
			continue;
		if (argv[i][2 + n] == '=') {
			v = argv[i] + 3 + n;
			drop = 1;
		} else if (argv[i][2 + n] == '\0' && i + 1 < *argc) {
			v = argv[i + 1];
			drop = 2;
		} else
			continue;
		break;
	}
	if (v) {
		memmove(&argv[i], &argv[i + drop],
		    (size_t)(*argc - i - drop + 1) * sizeof(*argv));
		*argc -= drop;
	}
	return v;
}

bool
zt_cli_take_flag(int *argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i < *argc; i++)
		if (strncmp(argv[i], "--", 2) == 0 &&
		    strcmp(argv[i] + 2, name) == 0) {
			memmove(&argv[i], &argv[i + 1],
			    (size_t)(*argc - i) * sizeof(*argv));
			(*argc)--;
			return true;
		}
	return false;
}

static char *
read_token_file(void)
{
	const char *data = getenv("ZTIAM_DATA");
	char path[4096], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bootstrap-token",
	    data && *data ? data : "./var");
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return line[0] ? strdup(line) : NULL;
}

int
zt_client_init(zt_client *c, int argc, char **argv)
{
	const char *v;

	memset(c, 0, sizeof(*c));
	c->json = zt_cli_take_flag(&argc, argv, "json");
	if ((v = zt_cli_take_opt(&argc, argv, "server")) == NULL &&
	    (v = getenv("ZTIAM_SERVER")) == NULL)
		v = "http://127.0.0.1:8080";
	c->server = v;
	c->cacert = zt_cli_take_opt(&argc, argv, "cacert");
	if ((v = zt_cli_take_opt(&argc, argv, "token")) == NULL)
		v = getenv("ZTIAM_TOKEN");
	c->token = v && *v ? strdup(v) : read_token_file();
	return argc;
}

void
zt_client_free(zt_client *c)
{
	if (c->token) {
		zt_wipe(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = NULL;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	zt_buf *b = arg;

	return zt_buf_add(b, p, size * n) == ZT_OK ? size * n : 0;
}

/* One request: `body` is sent as JSON, or `upload` (a file) as is. */
static int
client_request(zt_client *c, const char *method, const char *path,
    json_t *body, const char *content_type, FILE *upload, long upload_len,
    json_t **out)
{
	zt_buf resp = ZT_BUF_INIT(CLIENT_MAX_RESPONSE);
	struct curl_slist *hdrs = NULL;
	char url[4096], hdr[160], *auth = NULL, *text = NULL;
	long status = -1;
	CURLcode rc;
	CURL *h;

	*out = NULL;
	snprintf(url, sizeof(url), "%s%s", c->server, path);
	if ((h = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->client_cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
	}
	if (c->token) {
		size_t n = strlen(c->token) + sizeof("Authorization: Bearer ");

		auth = malloc(n);
		snprintf(auth, n, "Authorization: Bearer %s", c->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (c->if_match) {
		snprintf(hdr, sizeof(hdr), "If-Match: \"%.40s\"", c->if_match);
		hdrs = curl_slist_append(hdrs, hdr);
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	} else if (upload) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, hdr);
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READDATA, upload);
		curl_easy_setopt(h, CURLOPT_INFILESIZE, upload_len);
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	if ((rc = curl_easy_perform(h)) != CURLE_OK)
		fprintf(stderr, "ztiam: %s: %s\n", c->server,
		    curl_easy_strerror(rc));
	else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (resp.len)
			*out = json_loadb(resp.data, resp.len, 0, NULL);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (auth) {
		zt_wipe(auth, strlen(auth));
		free(auth);
	}
	free(text);
	zt_buf_free(&resp);
	return (int)status;
}

int
zt_client_call(zt_client *c, const char *method, const char *path,
    json_t *body, json_t **out)
{
	return client_request(c, method, path, body, NULL, NULL, 0, out);
}

int
zt_client_upload(zt_client *c, const char *method, const char *path,
    const char *content_type, const char *file, json_t **out)
{
	FILE *f;
	long len;
	int status;

	*out = NULL;
	if ((f = fopen(file, "rb")) == NULL) {
		fprintf(stderr, "ztiam: %s: cannot open\n", file);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	status = client_request(c, method, path, NULL, content_type, f, len,
	    out);
	fclose(f);
	return status;
}

void
zt_client_print_error(int status, json_t *doc)
{
	const char *detail, *code;

	if (status < 0)
		return;	/* the transport error was printed already */
	detail = json_string_value(json_object_get(doc, "detail"));
	code = json_string_value(json_object_get(doc, "code"));
	fprintf(stderr, "ztiam: HTTP %d%s%s%s%s\n", status,
	    code ? " " : "", code ? code : "", detail ? ": " : "",
	    detail ? detail : "");
}

static void
cell_text(char *out, size_t n, json_t *v)
{
	if (v == NULL || json_is_null(v))
		snprintf(out, n, "-");
	else if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
	else {
		char *s = json_dumps(v, JSON_COMPACT);

		snprintf(out, n, "%s", s ? s : "?");
		free(s);
	}
}

void
zt_client_print_table(const zt_client *c, json_t *items,
    const char *const *cols, size_t ncols)
{
	size_t widths[16] = { 0 }, i, j, len;
	char cell[256];
	json_t *row;

	if (c->json) {
		json_dumpf(items, stdout, JSON_INDENT(2));
		putchar('\n');
		return;
	}
	if (ncols > ZT_ARRAY_LEN(widths))
		ncols = ZT_ARRAY_LEN(widths);
	for (j = 0; j < ncols; j++)
		widths[j] = strlen(cols[j]);
	json_array_foreach(items, i, row)
		for (j = 0; j < ncols; j++) {
			cell_text(cell, sizeof(cell), json_object_get(row,
			    cols[j]));
			if ((len = strlen(cell)) > widths[j])
				widths[j] = len;
		}
	for (j = 0; j < ncols; j++) {
		for (len = 0; cols[j][len]; len++)
			putchar(cols[j][len] >= 'a' && cols[j][len] <= 'z' ?
			    cols[j][len] - 32 : cols[j][len] == '_' ? ' ' :
			    cols[j][len]);
		printf("%*s", j + 1 < ncols ? (int)(widths[j] - len + 2) : 0,
		    "");
	}
	putchar('\n');
	json_array_foreach(items, i, row) {
		for (j = 0; j < ncols; j++) {
			cell_text(cell, sizeof(cell), json_object_get(row,
			    cols[j]));
			printf(j + 1 < ncols ? "%-*s  " : "%-*s\n",
			    j + 1 < ncols ? (int)widths[j] : 0, cell);
		}
	}
}
