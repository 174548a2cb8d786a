/* snap.h: the compiled stores and snapshots of activate.c, read by
 * decide.c.  Private to authz/. */
#ifndef ZT_AUTHZ_SNAP_H
#define ZT_AUTHZ_SNAP_H

#include <stdatomic.h>

#include "authz/authz_int.h"

#define AZ_KEY_MAX (ZT_TENANT_ID_MAX + ZT_APPID_MAX + 2)

/* One store, compiled; immutable once published. */
typedef struct az_store {
	_Atomic int refs;
	char key[AZ_KEY_MAX];			/* see make_key */
	char tenant[ZT_TENANT_ID_MAX + 1];
	char appid[ZT_APPID_MAX + 1];		/* "" for a tenant store */
	char ns[ZT_AUTHZ_NS_MAX + 1];
	bool is_tenant;
	uint64_t serial;			/* unique for the process's
						 * life: keys caches */
	int64_t revision;			/* 0: nothing stored yet */
	zt_policy_set *ps;			/* NULL at revision 0 */
	zt_policy_set *roles;			/* the roles' policies, or
						 * NULL when there are none */
	zt_policy_schema *schema;		/* NULL: none */
} az_store;

struct zt_authz_snap {
	_Atomic int refs;
	az_store **stores;			/* sorted by key */
	size_t n;
};

/* The store of an app (`appid`) or of a tenant (`appid` NULL). */
const az_store *az_snap_find(const zt_authz_snap *s, const char *tenant,
    const char *appid);

#endif
