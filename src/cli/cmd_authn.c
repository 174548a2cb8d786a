/*
 * `ztiam account password|totp|recovery-codes` and `ztiam session`: the
 * credentials and sessions of accounts through the REST API.
 *
 * A password never comes from argv, where `ps` and shell history would
 * show it: it is read from standard input (one line) or, on a terminal,
 * typed twice at a prompt with echo off.  Buffers that held it are wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/base.h"
#include "cli/cli.h"

/* Longer than the server's 256-byte cap, so an over-long password gets
 * the server's message rather than a silent cut. */
#define PW_READ_MAX 1024

static int
authn_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam account password set --account ID "
	    "(password on stdin or prompted)\n"
	    "       ztiam account password delete --account ID\n"
	    "       ztiam account totp enroll --account ID [--qr FILE.svg]\n"
	    "       ztiam account totp confirm --account ID --code NNNNNN\n"
	    "       ztiam account totp delete --account ID\n"
	    "       ztiam account recovery-codes --account ID\n"
	    "       ztiam session list --identity ID\n"
	    "       ztiam session revoke SESSION_ID\n"
	    "       ztiam session revoke --identity ID   (all of them)\n"
	    "common: --tenant T (ZTIAM_TENANT) --server URL --token T "
	    "--json\n");
	return 2;
}

bool
zt_cmd_authn_has(const char *noun, int argc, char **argv)
{
	if (strcmp(noun, "session") == 0)
		return true;
	return strcmp(noun, "account") == 0 && argc > 0 &&
	    (strcmp(argv[0], "password") == 0 ||
	    strcmp(argv[0], "totp") == 0 ||
	    strcmp(argv[0], "recovery-codes") == 0);
}

/* Reads one line into `buf` from `f`, without its newline. */
static int
read_line(FILE *f, char *buf, size_t n)
{
	size_t len;

	if (fgets(buf, (int)n, f) == NULL)
		return ZT_EINVAL;
	len = strlen(buf);
	if (len == n - 1 && buf[len - 1] != '\n')
		return zt_error_set(ZT_ETOOBIG, "password too long");
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return ZT_OK;
}

/* Prompts on the terminal with echo off. */
static int
prompt(const char *what, char *buf, size_t n)
{
	struct termios old, quiet;
	int err;

	fprintf(stderr, "%s", what);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) < 0)
		return zt_error_set(ZT_ERR, "cannot read the terminal");
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	err = read_line(stdin, buf, n);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return err;
}

static int
read_password(char *buf, size_t n)
{
	char again[PW_READ_MAX + 2];
	int err;

	if (!isatty(STDIN_FILENO))
		return read_line(stdin, buf, n);
	if ((err = prompt("New password: ", buf, n)) < 0 ||
	    (err = prompt("Repeat it: ", again, sizeof(again))) < 0)
		goto out;
	if (strcmp(buf, again) != 0)
		err = zt_error_set(ZT_EINVAL, "the two entries differ");
out:
	zt_wipe(again, sizeof(again));
	return err;
}

/* "/v1/tenants/<t>/<kind>/<id><rest>", each value escaped. */
static int
path_of(char *out, size_t n, const char *tenant, const char *kind,
    const char *id, const char *rest)
{
	char *t, *i;
	int len;

	if (tenant == NULL) {
		fprintf(stderr, "ztiam: --tenant (or ZTIAM_TENANT) is "
		    "required\n");
		return ZT_EINVAL;
	}
	if (id == NULL)
		return ZT_EINVAL;
	t = curl_easy_escape(NULL, tenant, 0);
	i = curl_easy_escape(NULL, id, 0);
	len = snprintf(out, n, "/v1/tenants/%s/%s/%s%s", t ? t : "", kind,
	    i ? i : "", rest);
	curl_free(t);
	curl_free(i);
	return len > 0 && (size_t)len < n ? ZT_OK : ZT_ETOOBIG;
}

/* Calls and checks the status; prints the error and returns 1 if not. */
static int
call(zt_client *c, const char *method, const char *path, json_t *body,
    int want, json_t **resp)
{
	int status = zt_client_call(c, method, path, body, resp);

	if (status != want) {
		zt_client_print_error(status, *resp);
		json_decref(*resp);
		*resp = NULL;
		return 1;
	}
	return 0;
}

static void
print_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
}

static int
password_cmd(zt_client *c, const char *tenant, const char *verb,
    const char *account)
{
	char pw[PW_READ_MAX + 2], path[512];
	json_t *body, *resp = NULL;
	int rc;

	if (path_of(path, sizeof(path), tenant, "accounts", account,
	    "/password") < 0)
		return authn_usage();
	if (strcmp(verb, "delete") == 0) {
		rc = call(c, "DELETE", path, NULL, 204, &resp);
		json_decref(resp);
		return rc;
	}
	if (strcmp(verb, "set") != 0)
		return authn_usage();
	if (read_password(pw, sizeof(pw)) < 0) {
		fprintf(stderr, "ztiam: %s\n", zt_error_msg());
		zt_wipe(pw, sizeof(pw));
		return 1;
	}
	body = json_pack("{s:s}", "password", pw);
	zt_wipe(pw, sizeof(pw));
	if (body == NULL) {
		fprintf(stderr, "ztiam: the password must be UTF-8\n");
		return 1;
	}
	rc = call(c, "PUT", path, body, 204, &resp);
	json_decref(body);
	json_decref(resp);
	if (rc == 0 && !c->json)
		printf("password set for account %s\n", account);
	return rc;
}

static int
write_file(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "ztiam: cannot write %s\n", file);
		return 1;
	}
	return 0;
}

static int
totp_cmd(zt_client *c, const char *tenant, const char *verb,
    const char *account, const char *code, const char *qr)
{
	char path[512];
	json_t *resp = NULL, *body;
	int rc = 1;

	if (strcmp(verb, "enroll") == 0) {
		if (path_of(path, sizeof(path), tenant, "accounts", account,
		    "/totp") < 0 || call(c, "POST", path, NULL, 201, &resp))
			return 1;
		if (c->json)
			print_json(resp);
		else
			printf("secret: %s\nuri:    %s\n(shown once; confirm "
			    "with a first code: ztiam account totp confirm)\n",
			    json_string_value(json_object_get(resp, "secret")),
			    json_string_value(json_object_get(resp, "uri")));
		rc = qr ? write_file(qr, json_string_value(json_object_get(
		    resp, "qr_svg"))) : 0;
	} else if (strcmp(verb, "confirm") == 0 && code) {
		if (path_of(path, sizeof(path), tenant, "accounts", account,
		    "/totp/confirm") < 0)
			return authn_usage();
		body = json_pack("{s:s}", "code", code);
		rc = call(c, "POST", path, body, 204, &resp);
		json_decref(body);
		if (rc == 0 && !c->json)
			printf("TOTP active for account %s\n", account);
	} else if (strcmp(verb, "delete") == 0) {
		if (path_of(path, sizeof(path), tenant, "accounts", account,
		    "/totp") < 0)
			return authn_usage();
		rc = call(c, "DELETE", path, NULL, 204, &resp);
	} else
		return authn_usage();
	json_decref(resp);
	return rc;
}

static int
recovery_cmd(zt_client *c, const char *tenant, const char *account)
{
	char path[512];
	json_t *resp = NULL, *v;
	size_t i;

	if (path_of(path, sizeof(path), tenant, "accounts", account,
	    "/recovery-codes") < 0)
		return authn_usage();
	if (call(c, "POST", path, NULL, 201, &resp))
		return 1;
	if (c->json)
		print_json(resp);
	else {
		json_array_foreach(json_object_get(resp, "codes"), i, v)
			printf("%s\n", json_string_value(v));
		printf("(each code works once; they are shown only now)\n");
	}
	json_decref(resp);
	return 0;
}

static const char *const session_cols[] = {
	"id", "account_id", "amr", "created_at", "last_seen", "client_addr",
};

static int
session_cmd(zt_client *c, const char *tenant, const char *verb,
    const char *identity, int argc, char **argv)
{
	char path[512];
	json_t *resp = NULL;
	int rc;

	if (strcmp(verb, "list") == 0 && identity && argc == 0) {
		if (path_of(path, sizeof(path), tenant, "identities", identity,
		    "/sessions") < 0 || call(c, "GET", path, NULL, 200, &resp))
			return 1;
		zt_client_print_table(c, json_object_get(resp, "items"),
		    session_cols, ZT_ARRAY_LEN(session_cols));
		json_decref(resp);
		return 0;
	}
	if (strcmp(verb, "revoke") != 0)
		return authn_usage();
	if (identity && argc == 0) {
		if (path_of(path, sizeof(path), tenant, "identities", identity,
		    "/sessions") < 0 || call(c, "DELETE", path, NULL, 200,
		    &resp))
			return 1;
		if (!c->json)
			printf("revoked %lld sessions\n", (long long)
			    json_integer_value(json_object_get(resp,
			    "revoked")));
		else
			print_json(resp);
		json_decref(resp);
		return 0;
	}
	if (identity || argc != 1 || path_of(path, sizeof(path), tenant,
	    "sessions", argv[0], "") < 0)
		return authn_usage();
	rc = call(c, "DELETE", path, NULL, 204, &resp);
	if (rc == 0 && !c->json)
		printf("revoked %s\n", argv[0]);
	json_decref(resp);
	return rc;
}

int
zt_cmd_authn(const char *noun, int argc, char **argv)
{
	const char *tenant, *account, *identity, *code, *qr, *what, *verb;
	zt_client c;
	int rc = 2;

	if (argc < 1)
		return authn_usage();
	argc = zt_client_init(&c, argc, argv);
	if (argc < 0)
		return 2;
	tenant = zt_cli_take_opt(&argc, argv, "tenant");
	if (tenant == NULL)
		tenant = getenv("ZTIAM_TENANT");
	account = zt_cli_take_opt(&argc, argv, "account");
	identity = zt_cli_take_opt(&argc, argv, "identity");
	code = zt_cli_take_opt(&argc, argv, "code");
	qr = zt_cli_take_opt(&argc, argv, "qr");

	if (strcmp(noun, "session") == 0 && argc >= 1)
		rc = session_cmd(&c, tenant, argv[0], identity, argc - 1,
		    argv + 1);
	else if (strcmp(noun, "account") == 0 && argc >= 1 && account) {
		what = argv[0];
		verb = argc >= 2 ? argv[1] : "";
		if (strcmp(what, "recovery-codes") == 0 && argc == 1)
			rc = recovery_cmd(&c, tenant, account);
		else if (strcmp(what, "password") == 0 && argc == 2)
			rc = password_cmd(&c, tenant, verb, account);
		else if (strcmp(what, "totp") == 0 && argc == 2)
			rc = totp_cmd(&c, tenant, verb, account, code, qr);
		else
			rc = authn_usage();
	} else
		rc = authn_usage();
	zt_client_free(&c);
	return rc;
}
