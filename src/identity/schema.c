/*
 * schema.c: the identity module's tables.
 *
 * Every table of tenant data has the tenant first in its primary key and
 * in every index, so each query names its tenant and reads one tenant's
 * slice of an index.  Ids are made by new_id, never by a sequence: the
 * creation time then random bits, so nodes need no coordination and new
 * rows of a table go to the end of its indexes.
 *
 * Key columns compare byte by byte on both engines: SQLite does so by
 * default, PostgreSQL only under the "C" collation, which the PostgreSQL
 * text of the schema asks for.  Range conditions on unit paths and name
 * prefixes (lo <= x < hi, hi computed in C) and keyset pagination depend
 * on it; with a linguistic collation "/a/b/" would not sort before
 * "/a/b0".
 *
 * On SQLite the tables of small rows that are always read by their key
 * (attribute index rows, accounts, memberships, closure pairs) are
 * WITHOUT ROWID: the row lives in the primary key's b-tree, one b-tree
 * fewer to write per row.  Identities keep a rowid table: their rows carry
 * up to 16 KiB of attributes.
 *
 * group_closure holds, for every group, a row (g, g, 0) and a row
 * (ancestor, g, shortest depth) for every group that contains g through
 * role-group nesting; group.c keeps it in step with group_members.
 */
#include "identity/identity_int.h"

#define SCHEMA_V1(KT, WR)						\
	"CREATE TABLE tenants ("					\
	" id " KT " PRIMARY KEY,"					\
	" display_name TEXT NOT NULL,"					\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL);"					\
	"CREATE TABLE account_systems ("				\
	" tenant " KT " NOT NULL REFERENCES tenants (id),"		\
	" id " KT " NOT NULL,"						\
	" name " KT " NOT NULL,"					\
	" kind TEXT NOT NULL,"						\
	" password_policy TEXT NOT NULL,"				\
	" mfa_required INTEGER NOT NULL,"				\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id));"					\
	"CREATE UNIQUE INDEX account_systems_name"			\
	" ON account_systems (tenant, name);"				\
	"CREATE TABLE org_units ("					\
	" tenant " KT " NOT NULL REFERENCES tenants (id),"		\
	" id " KT " NOT NULL,"						\
	" parent_id " KT ","						\
	" name TEXT NOT NULL,"						\
	" path " KT " NOT NULL,"					\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id));"					\
	"CREATE UNIQUE INDEX org_units_path ON org_units (tenant, path);" \
	"CREATE INDEX org_units_parent"					\
	" ON org_units (tenant, parent_id, name, id);"			\
	"CREATE TABLE identities ("					\
	" tenant " KT " NOT NULL REFERENCES tenants (id),"		\
	" id " KT " NOT NULL,"						\
	" kind TEXT NOT NULL,"						\
	" name " KT " NOT NULL,"					\
	" state TEXT NOT NULL,"						\
	" unit_id " KT ","						\
	" attributes TEXT NOT NULL,"					\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id),"					\
	" FOREIGN KEY (tenant, unit_id) REFERENCES org_units (tenant, id));" \
	"CREATE UNIQUE INDEX identities_kind_name"			\
	" ON identities (tenant, kind, name);"				\
	"CREATE INDEX identities_name ON identities (tenant, name, id);" \
	"CREATE INDEX identities_created"				\
	" ON identities (tenant, created_at, id);"			\
	"CREATE INDEX identities_unit ON identities (tenant, unit_id, id);" \
	"CREATE TABLE identity_attrs ("					\
	" tenant " KT " NOT NULL,"					\
	" identity_id " KT " NOT NULL,"					\
	" name " KT " NOT NULL,"					\
	" key " KT " NOT NULL,"						\
	" value_text " KT " NOT NULL,"					\
	" PRIMARY KEY (tenant, identity_id, key, value_text),"		\
	" FOREIGN KEY (tenant, identity_id)"				\
	"  REFERENCES identities (tenant, id))" WR ";"			\
	"CREATE INDEX identity_attrs_value"				\
	" ON identity_attrs (tenant, key, value_text, name, identity_id);" \
	"CREATE TABLE accounts ("					\
	" tenant " KT " NOT NULL,"					\
	" id " KT " NOT NULL,"						\
	" identity_id " KT " NOT NULL,"					\
	" system_id " KT " NOT NULL,"					\
	" login_name TEXT NOT NULL,"					\
	" login_key " KT " NOT NULL,"					\
	" state TEXT NOT NULL,"						\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id),"					\
	" FOREIGN KEY (tenant, identity_id)"				\
	"  REFERENCES identities (tenant, id),"				\
	" FOREIGN KEY (tenant, system_id)"				\
	"  REFERENCES account_systems (tenant, id))" WR ";"		\
	"CREATE UNIQUE INDEX accounts_login"				\
	" ON accounts (tenant, system_id, login_key);"			\
	"CREATE INDEX accounts_identity"				\
	" ON accounts (tenant, identity_id, id);"			\
	"CREATE TABLE identity_groups ("				\
	" tenant " KT " NOT NULL REFERENCES tenants (id),"		\
	" id " KT " NOT NULL,"						\
	" kind TEXT NOT NULL,"						\
	" name " KT " NOT NULL,"					\
	" unit_id " KT ","						\
	" description TEXT NOT NULL,"					\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id),"					\
	" FOREIGN KEY (tenant, unit_id) REFERENCES org_units (tenant, id));" \
	"CREATE UNIQUE INDEX identity_groups_role_name"			\
	" ON identity_groups (tenant, name) WHERE kind = 'role';"	\
	"CREATE INDEX identity_groups_name"				\
	" ON identity_groups (tenant, name, id);"			\
	"CREATE INDEX identity_groups_unit"				\
	" ON identity_groups (tenant, unit_id, id);"			\
	"CREATE TABLE group_members ("					\
	" tenant " KT " NOT NULL,"					\
	" group_id " KT " NOT NULL,"					\
	" member_type TEXT NOT NULL,"					\
	" member_id " KT " NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, group_id, member_type, member_id),"	\
	" FOREIGN KEY (tenant, group_id)"				\
	"  REFERENCES identity_groups (tenant, id))" WR ";"		\
	"CREATE INDEX group_members_member"				\
	" ON group_members (tenant, member_type, member_id, group_id);"	\
	"CREATE TABLE group_closure ("					\
	" tenant " KT " NOT NULL,"					\
	" ancestor " KT " NOT NULL,"					\
	" descendant " KT " NOT NULL,"					\
	" depth INTEGER NOT NULL,"					\
	" PRIMARY KEY (tenant, ancestor, descendant))" WR ";"		\
	"CREATE INDEX group_closure_descendant"				\
	" ON group_closure (tenant, descendant, ancestor, depth);"

static const zt_migration identity_steps[] = {
	{ 1, "tenants, identities, accounts, groups, units",
	  SCHEMA_V1("TEXT", " WITHOUT ROWID"),
	  SCHEMA_V1("TEXT COLLATE \"C\"", "") },
};

const zt_migration_set zt_identity_migrations = {
	"identity", identity_steps, ZT_ARRAY_LEN(identity_steps),
};
