/*
 * schema.h: a Cedar schema in memory, shared by schema.c (which reads
 * Cedar's JSON schema format), validate.c (which type-checks policies
 * against it) and convert.c (which converts request data to its types).
 *
 * Every name is fully qualified ("App::User"); every type reference is
 * resolved when the schema is read, so a type is a tree of zs_type nodes
 * with no names left to look up except entity types.
 */
#ifndef ZT_POLICY_SCHEMA_H
#define ZT_POLICY_SCHEMA_H

#include "policy/policy_int.h"

typedef struct zs_type zs_type;

typedef struct zs_attr {
	zp_str name;
	const zs_type *type;
	bool required;
} zs_attr;

/* A type: kind is an enum zp_kind. */
struct zs_type {
	uint8_t kind;
	zp_str entity;		/* ZV_ENTITY: the entity type's name */
	const zs_type *elem;	/* ZV_SET */
	zs_attr *attrs;		/* ZV_RECORD, sorted by name */
	uint32_t nattrs;
	bool open;		/* ZV_RECORD: additionalAttributes */
};

typedef struct zs_etype {
	zp_str name;
	zp_str *parents;	/* memberOfTypes, qualified */
	uint32_t nparents;
	const zs_type *shape;	/* a record type */
	zp_str *anc;		/* every type an entity may be `in` */
	uint32_t nanc;
} zs_etype;

typedef struct zs_action {
	zp_uid uid;		/* "NS::Action"::"name" */
	const zp_uid **parents;	/* memberOf */
	uint32_t nparents;
	const zp_uid **anc;	/* all groups, transitively */
	uint32_t nanc;
	zp_str *ptypes;		/* appliesTo principalTypes */
	uint32_t nptypes;
	zp_str *rtypes;		/* appliesTo resourceTypes */
	uint32_t nrtypes;
	const zs_type *context;	/* a record type */
} zs_action;

struct zt_policy_schema {
	zp_arena arena;
	zs_etype *etypes;
	size_t netypes;
	zs_action *actions;
	size_t nactions;
};

const zs_etype *zs_etype_find(const zt_policy_schema *s, zp_str name);
const zs_action *zs_action_find(const zt_policy_schema *s,
    const zp_uid *uid);
const zs_attr *zs_attr_find(const zs_type *rec, zp_str name);
/* May an entity of type `t` be `in` one of type `anc` (or be it)? */
bool zs_type_in(const zt_policy_schema *s, zp_str t, zp_str anc);
/* Converts a JSON object to record type `t` (convert.c); `path` names
 * the record for messages and is extended in place while converting. */
int zp_record_convert(const zp_rec **out, zp_arena *a, json_t *j,
    const zs_type *t, char *path, size_t plen, int depth);
/* Is zp_str `t` among list[0..n)? */
bool zs_str_in(const zp_str *list, uint32_t n, zp_str t);

#endif
