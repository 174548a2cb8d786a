/*
 * ztiam: a zero-trust identity and access management platform.  One
 * binary; the first argument names the command.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: ztiam <command> [arguments]\n\n"
	    "commands:\n"
	    "  serve     run the server (ztiam serve --help)\n"
	    "  token     create, list, get or revoke API tokens\n"
	    "  tenant    create, list or get tenants\n"
	    "  acctsys   create or list account systems of a tenant\n"
	    "  identity  create, list, get, move, import identities...\n"
	    "  account   create, get, enable/disable or delete accounts;\n"
	    "            set passwords, enroll TOTP, make recovery codes\n"
	    "  group     create groups, add and remove members, list them\n"
	    "  org       create, rename, move or delete organization units\n"
	    "  session   list or revoke login sessions\n"
	    "  client    register OAuth clients, rotate their secrets; turn\n"
	    "            dynamic registration on or off\n"
	    "  audit     verify the audit chain, or list records\n"
	    "  keys      list or rotate the server's signing keys\n"
	    "  cert      issue, renew, revoke or list certificates; get a\n"
	    "            JWT-SVID (cert jwt)\n"
	    "  ca        show the CA; rotate its intermediate or its root;\n"
	    "            make a CSR for an upstream CA and import its answer\n"
	    "  policy    evaluate Cedar policies offline (policy eval);\n"
	    "            manage policy stores, validate, run policy tests\n"
	    "  authorize send a decision request to the server; ask which\n"
	    "            actions a user may take, or who may take one\n"
	    "  role      manage an application's roles and their grants\n"
	    "  version   print the version\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *cmd;
	int rc;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("ztiam %s\n", ZTIAM_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return zt_cmd_serve(argc - 2, argv + 2);
	if (strcmp(cmd, "audit") == 0)
		return zt_cmd_audit(argc - 2, argv + 2);
	if (strcmp(cmd, "policy") == 0)
		return zt_cmd_policy(argc - 2, argv + 2);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(cmd, "token") == 0)
		rc = zt_cmd_token(argc - 2, argv + 2);
	else if (strcmp(cmd, "authorize") == 0)
		rc = zt_cmd_authorize(argc - 2, argv + 2);
	else if (strcmp(cmd, "role") == 0)
		rc = zt_cmd_role(argc - 2, argv + 2);
	else if (strcmp(cmd, "keys") == 0)
		rc = zt_cmd_keys(argc - 2, argv + 2);
	else if (strcmp(cmd, "cert") == 0)
		rc = zt_cmd_cert(argc - 2, argv + 2);
	else if (strcmp(cmd, "ca") == 0)
		rc = zt_cmd_ca(argc - 2, argv + 2);
	else if (zt_cmd_authn_has(cmd, argc - 2, argv + 2))
		rc = zt_cmd_authn(cmd, argc - 2, argv + 2);
	else if (zt_cmd_identity_has(cmd))
		rc = zt_cmd_identity(cmd, argc - 2, argv + 2);
	else
		rc = usage();
	curl_global_cleanup();
	return rc;
}
