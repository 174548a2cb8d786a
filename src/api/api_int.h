/* Shared by the handler files of api/; not part of the module's interface. */
#ifndef ZT_API_INT_H
#define ZT_API_INT_H

#include "api/api.h"

/* The worker's database and the authenticated principal of `req`. */
static inline zt_db *
api_db(zt_req *req)
{
	return ((zt_worker *)zt_req_worker(req))->db;
}

static inline const zt_principal *
api_principal(zt_req *req)
{
	return &((zt_worker *)zt_req_worker(req))->principal;
}

/* The audit actor for a change made by `req`. */
static inline zt_actor
api_actor(zt_req *req)
{
	const zt_principal *p = api_principal(req);

	return (zt_actor){ p->actor, p->system ? NULL : p->tenant,
	    zt_req_id(req) };
}

/* Reads an optional integer query parameter in [min, max]; replies 400 and
 * returns false when it is malformed. */
bool api_query_int(zt_req *req, const char *name, int64_t min, int64_t max,
    int64_t *out);

int api_ops_routes(zt_http *srv);
int api_token_routes(zt_http *srv);
int api_audit_routes(zt_http *srv);

#endif
