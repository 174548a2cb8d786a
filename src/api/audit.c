/*
 * /v1/audit: the audit trail, page by page (cursor = the last sequence
 * number seen).  A tenant token reads its tenant's records only.
 */
#include <stdio.h>

#include "api/api_int.h"
#include "audit/audit.h"
#include "base/base.h"

/* A page is bounded so one request cannot pull the whole trail. */
#define AUDIT_PAGE_MAX 1000

static void
audit_list(zt_req *req)
{
	const zt_principal *p = api_principal(req);
	int64_t after = 0, limit = 100, next;
	json_t *items;
	int err;

	if (!api_query_int(req, "after", 0, INT64_MAX, &after) ||
	    !api_query_int(req, "limit", 1, AUDIT_PAGE_MAX, &limit))
		return;
	/* A unit administrator's view of the trail is its own actions:
	 * records about the rest of the tenant would show objects that every
	 * other route hides from it. */
	err = zt_audit_list(api_db(req), p->system ? NULL : p->tenant,
	    p->unit[0] ? p->actor : NULL, after, (int)limit, &items, &next);
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	zt_reply_json(req, 200, json_pack("{s:o, s:I}", "items", items,
	    "next", (json_int_t)next));
}

int
api_audit_routes(zt_http *srv)
{
	return zt_http_route(srv, ZT_GET, "/v1/audit", audit_list,
	    "audit.list", 0);
}
