#!/usr/bin/env python3
"""
End-to-end tests of the identity API of `ztiam serve`: tenants, account
systems, identities (SPIFFE IDs, attributes, lifecycle, ETags), accounts,
bulk NDJSON import, groups with nesting, organization units, the paged and
filtered identity list, tenant isolation and delegated unit-scoped tokens.

Every request that the API must refuse is checked twice: for its precise
problem status and code, and for having written nothing (the audit record
count, the list it would have changed and a digest of every database row
are the same before and after).

Each test makes tenants of its own, so the tests of one class share a
server without seeing each other's rows.

A test marked expectedFailure pins down a server bug that has been
reported: it states the behaviour the API should have and fails until the
bug is fixed, when unittest reports an unexpected success and the marker
should go.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_identity.py
With ZTIAM_TEST_DB=postgres://... the servers use PostgreSQL instead of
SQLite (tests/store/with-postgres.sh provides one).
"""

import contextlib
import itertools
import os
import subprocess
import sys
import time
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    Server, ServerTestCase, Workspace, free_port, main, ztiam_bin)

NDJSON = "application/x-ndjson"

# Strings that would change a statement's meaning if the server pasted them
# into SQL, or a format string's if it passed them to printf.
SQL_STRINGS = [
    "'; DROP TABLE identities; --",
    "Robert'); DROP TABLE audit_log;--",
    '" OR ""="',
    "x' OR '1'='1",
    "\\'; SELECT pg_sleep(5); --",
    "$1 $2 ? %s %n %% _",
    "/* comment */ -- dash",
    "a\\b%_*[]",
    "\u00fcn\u00efc\u00f8d\u00e9 \u2713",
]

# Names that are not one SPIFFE path segment of [a-z0-9][a-z0-9._-]*.
BAD_NAMES = [
    "", ".", "..", "Alice", "a b", "a/b", "a%2Fb", "-a", ".a", "_a",
    "a:b", "a@b", "a?b", "a#b", "caf\u00e9", "a\tb", "n" * 129,
]


def path_seg(s):
    """`s` as one percent-encoded path segment."""
    return quote(s, safe="")


def spiffe_query(spiffe_id):
    return "/v1/identities/by-spiffe-id?id=" + quote(spiffe_id, safe="")


def audited_ids(records):
    """{"identity": ids, "account": ids} that audit records name as made:
    by a record per object (target "identity:ID") or by a record per
    import batch that lists them ({"after": {"identities": [...],
    "accounts": [...]}})."""
    out = {"identity": set(), "account": set()}
    for a in records:
        kind, _, oid = a["target"].partition(":")
        if kind in out and a["summary"].get("before") is None:
            out[kind].add(oid)
        after = a["summary"].get("after") or {}
        for kind, key in (("identity", "identities"),
                          ("account", "accounts")):
            if isinstance(after.get(key), list):
                out[kind].update(after[key])
    return out


class Tenant:
    """One tenant's routes, used through one client.  The creation
    helpers insist on success, so a test's setup failing says where."""

    def __init__(self, case, tid, client):
        self.case = case
        self.id = tid
        self.client = client
        self.path = "/v1/tenants/" + tid

    def url(self, *parts):
        return "/".join([self.path] + list(parts))

    def make(self, what, body, client=None):
        r = (client or self.client).post(self.url(what), body)
        self.case.assertEqual(r.status, 201, "creating %s %r: %r"
                              % (what, body, r))
        return r.json()

    def identity(self, kind, name, **fields):
        fields.update(kind=kind, name=name)
        return self.make("identities", fields)

    def person(self, name, **fields):
        return self.identity("person", name, **fields)

    def unit(self, name, parent=None):
        body = {"name": name}
        if parent is not None:
            body["parent_id"] = parent["id"]
        return self.make("units", body)

    def group(self, name, **fields):
        fields["name"] = name
        return self.make("groups", fields)

    def system(self, name="staff", kind="workforce"):
        return self.make("account-systems", {"name": name, "kind": kind})

    def account(self, identity, system, login, **fields):
        fields.update(identity_id=identity["id"], system_id=system["id"],
                      login_name=login)
        return self.make("accounts", fields)

    def add(self, group, member, type_="identity"):
        r = self.client.post(self.url("groups", group["id"], "members"),
                             {"type": type_, "id": member["id"]})
        self.case.assertEqual(r.status, 204, r)

    def nest(self, parent, child):
        self.add(parent, child, "group")

    def get(self, *parts, client=None):
        r = (client or self.client).get(self.url(*parts))
        self.case.assertEqual(r.status, 200, r)
        return r.json()

    def patch(self, *parts, body, client=None, headers=None):
        return (client or self.client).patch(self.url(*parts), body,
                                             headers=headers)

    def effective_groups(self, identity, client=None):
        """{name: depth} of the identity's effective groups."""
        items = self.get("identities", identity["id"], "groups",
                         client=client)["items"]
        names = [g["name"] for g in items]
        self.case.assertEqual(len(names), len(set(names)), items)
        return {g["name"]: g["depth"] for g in items}


class IdentityCase(ServerTestCase):
    """What the identity tests share: fresh tenants, tokens, paging, and
    the check that a refused request wrote nothing."""

    _serial = itertools.count(1)

    def tenant(self, client=None):
        tid = "t%d" % next(IdentityCase._serial)
        r = self.api.post("/v1/tenants", {"id": tid})
        self.assertEqual(r.status, 201, r)
        return Tenant(self, tid, client or self.api)

    def token_client(self, tenant, unit=None, client=None):
        body = {"name": "test", "tenant": tenant.id}
        if unit is not None:
            body["unit_id"] = unit["id"]
        r = (client or self.api).post("/v1/tokens", body)
        self.assertEqual(r.status, 201, r)
        return self.server.client(r.json()["token"])

    def pages(self, path, limit, client=None):
        """Every item of a paged list, following next_cursor."""
        client = client or self.api
        path = path.rstrip("?&")
        sep = "&" if "?" in path else "?"
        items, cursor = [], None
        for _ in range(10000):
            url = "%s%slimit=%d" % (path, sep, limit)
            if cursor:
                url += "&cursor=" + quote(cursor, safe="")
            r = client.get(url)
            self.assertEqual(r.status, 200, r)
            doc = r.json()
            self.assertLessEqual(len(doc["items"]), limit)
            items.extend(doc["items"])
            cursor = doc["next_cursor"]
            if cursor is None:
                return items
        self.fail("the cursor of %s never ran out" % path)

    def audit_count(self):
        return len(self.api.audit_items())

    def new_audit(self, since):
        """The audit records appended after the first `since`."""
        return self.api.audit_items()[since:]

    def state(self, paths):
        lists = []
        for p in paths:
            r = self.api.get(p)
            lists.append((p, r.status, r.json() if r.status == 200
                           else None))
        return self.audit_count(), lists, self.ws.fingerprint()

    @contextlib.contextmanager
    def assertNothingWritten(self, *paths):
        """The block changes no audit record, none of the lists at
        `paths` (read with the system token) and no database row."""
        before = self.state(paths)
        yield
        after = self.state(paths)
        self.assertEqual(after[0], before[0], "audit record count")
        self.assertEqual(after[1], before[1], "lists")
        self.assertEqual(after[2], before[2], "database rows")

    def assertRefused(self, resp, status, code):
        return self.assertProblem(resp, status, code)

    def ndjson(self, tenant, lines, client=None,
               content_type=NDJSON):
        body = "\n".join(lines) + "\n"
        return (client or self.api).post(tenant.url("identities", "import"),
                                          body.encode(),
                                          content_type=content_type)


# ---- tenants and account systems -----------------------------------------

class TenantTest(IdentityCase):

    def test_unknown_tenant_is_404_on_every_tenant_route(self):
        t = self.tenant()
        p = t.person("alice")
        s = t.system()
        a = t.account(p, s, "alice")
        u = t.unit("Sales")
        g = t.group("admins")
        nope = Tenant(self, "no-such-tenant", self.api)
        requests = [
            ("GET", nope.path, None),
            ("PATCH", nope.path, {"display_name": "x"}),
            ("GET", nope.url("account-systems"), None),
            ("POST", nope.url("account-systems"),
             {"name": "staff", "kind": "workforce"}),
            ("GET", nope.url("account-systems", s["id"]), None),
            ("GET", nope.url("account-systems", s["id"], "logins",
                             "alice"), None),
            ("GET", nope.url("identities"), None),
            ("POST", nope.url("identities"),
             {"kind": "person", "name": "alice"}),
            ("GET", nope.url("identities", p["id"]), None),
            ("PATCH", nope.url("identities", p["id"]), {"state": "active"}),
            ("GET", nope.url("identities", p["id"], "groups"), None),
            ("GET", nope.url("identities", p["id"], "accounts"), None),
            ("POST", nope.url("accounts"), {"identity_id": p["id"],
                                            "system_id": s["id"],
                                            "login_name": "bob"}),
            ("GET", nope.url("accounts", a["id"]), None),
            ("PATCH", nope.url("accounts", a["id"]), {"state": "disabled"}),
            ("DELETE", nope.url("accounts", a["id"]), None),
            ("GET", nope.url("groups"), None),
            ("POST", nope.url("groups"), {"name": "ops"}),
            ("GET", nope.url("groups", g["id"]), None),
            ("DELETE", nope.url("groups", g["id"]), None),
            ("GET", nope.url("groups", g["id"], "members"), None),
            ("POST", nope.url("groups", g["id"], "members"),
             {"type": "identity", "id": p["id"]}),
            ("DELETE", nope.url("groups", g["id"], "members", "identity",
                                p["id"]), None),
            ("GET", nope.url("units"), None),
            ("POST", nope.url("units"), {"name": "Eng"}),
            ("GET", nope.url("units", u["id"]), None),
            ("PATCH", nope.url("units", u["id"]), {"name": "Eng"}),
            ("DELETE", nope.url("units", u["id"]), None),
        ]
        with self.assertNothingWritten("/v1/tenants", t.url("identities")):
            for method, path, body in requests:
                with self.subTest(method=method, path=path):
                    r = self.api.request(method, path, body=body)
                    self.assertRefused(r, 404, "not_found")
            r = self.ndjson(nope, ['{"kind": "person", "name": "x"}'])
            self.assertRefused(r, 404, "not_found")

    def test_tenant_ids_that_are_not_slugs_are_400(self):
        bad = ["Acme", "a b", "a/b", ".", "..", "-a", "a_b", "a.b", "",
               "a" * 64, "acm\u00e9", "a'; DROP TABLE tenants; --"]
        with self.assertNothingWritten("/v1/tenants"):
            for tid in bad:
                with self.subTest(tid=tid):
                    r = self.api.post("/v1/tenants", {"id": tid})
                    self.assertRefused(r, 400, "invalid_request")

    def test_tenant_id_of_63_characters_is_accepted(self):
        tid = "a" * 62 + "9"
        r = self.api.post("/v1/tenants", {"id": tid})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["display_name"], tid)
        self.assertEqual(self.api.get("/v1/tenants/" + tid).status, 200)

    def test_tenant_id_taken_is_409(self):
        t = self.tenant()
        with self.assertNothingWritten("/v1/tenants"):
            r = self.api.post("/v1/tenants", {"id": t.id,
                                              "display_name": "Other"})
            self.assertRefused(r, 409, "conflict")

    def test_tenant_token_gets_403_creating_a_tenant(self):
        t = self.tenant()
        client = self.token_client(t)
        with self.assertNothingWritten("/v1/tenants"):
            r = client.post("/v1/tenants", {"id": "other"})
            self.assertRefused(r, 403, "forbidden")

    def test_tenant_display_name_change_needs_the_current_etag(self):
        t = self.tenant()
        r = self.api.get(t.path)
        self.assertEqual(r.header("ETag"), '"1"')
        with self.assertNothingWritten("/v1/tenants"):
            r = self.api.patch(t.path, {"display_name": "Acme"},
                               headers={"If-Match": '"2"'})
            self.assertRefused(r, 412, "precondition_failed")
        since = self.audit_count()
        r = self.api.patch(t.path, {"display_name": "Acme Corp"},
                           headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"2"')
        self.assertEqual(r.json()["display_name"], "Acme Corp")
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["tenant.update"])


class AccountSystemTest(IdentityCase):

    def test_each_of_the_four_kinds_is_accepted(self):
        t = self.tenant()
        for kind in ("workforce", "partner", "customer", "service"):
            doc = t.system(kind + "-sys", kind)
            self.assertEqual(doc["kind"], kind)
        listed = t.get("account-systems")["items"]
        self.assertEqual(sorted(s["kind"] for s in listed),
                         ["customer", "partner", "service", "workforce"])

    def test_kind_outside_the_four_is_400(self):
        t = self.tenant()
        with self.assertNothingWritten(t.url("account-systems")):
            for kind in ("employee", "Workforce", "", "person", "workforce "):
                with self.subTest(kind=kind):
                    r = self.api.post(t.url("account-systems"),
                                      {"name": "staff", "kind": kind})
                    self.assertRefused(r, 400, "invalid_request")

    def test_name_that_is_not_a_slug_is_400(self):
        t = self.tenant()
        with self.assertNothingWritten(t.url("account-systems")):
            for name in ("Staff", "a b", "a_b", "a.b", "-a", "", "s" * 129,
                         "x'; DROP TABLE account_systems; --"):
                with self.subTest(name=name):
                    r = self.api.post(t.url("account-systems"),
                                      {"name": name, "kind": "workforce"})
                    self.assertRefused(r, 400, "invalid_request")

    def test_name_taken_in_the_tenant_is_409(self):
        t = self.tenant()
        t.system("staff", "workforce")
        with self.assertNothingWritten(t.url("account-systems")):
            r = self.api.post(t.url("account-systems"),
                              {"name": "staff", "kind": "partner"})
            self.assertRefused(r, 409, "conflict")
        self.tenant().system("staff", "workforce")

    def test_password_policy_defaults_are_filled_in(self):
        t = self.tenant()
        doc = t.make("account-systems", {
            "name": "staff", "kind": "workforce", "mfa_required": True,
            "password_policy": {"min_length": 16}})
        self.assertTrue(doc["mfa_required"])
        self.assertEqual(doc["password_policy"], {
            "min_length": 16, "max_length": 1024, "history": 0,
            "max_age_days": 0, "lockout_threshold": 10,
            "argon2_memory_kib": 19456, "argon2_iterations": 2,
            "argon2_parallelism": 1})
        self.assertEqual(t.get("account-systems", doc["id"]), doc)

    def test_password_policy_out_of_range_or_unknown_is_400(self):
        t = self.tenant()
        policies = [{"min_length": 0}, {"min_length": 1025},
                    {"min_length": 20, "max_length": 10},
                    {"history": 65}, {"max_age_days": 3651},
                    {"lockout_threshold": -1}, {"colour": 1},
                    {"min_length": "12"}, {"min_length": 1.5}]
        with self.assertNothingWritten(t.url("account-systems")):
            for policy in policies:
                with self.subTest(policy=policy):
                    r = self.api.post(t.url("account-systems"), {
                        "name": "staff", "kind": "workforce",
                        "password_policy": policy})
                    self.assertRefused(r, 400, "invalid_request")

    def test_patch_changes_the_fields_it_names_and_keeps_the_rest(self):
        t = self.tenant()
        s = t.make("account-systems", {
            "name": "staff", "kind": "workforce",
            "password_policy": {"min_length": 14, "history": 5}})
        since = self.audit_count()
        r = t.patch("account-systems", s["id"], body={"mfa_required": True},
                    headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"2"')
        self.assertTrue(r.json()["mfa_required"])
        self.assertEqual(r.json()["password_policy"], s["password_policy"])
        r = t.patch("account-systems", s["id"],
                    body={"password_policy": {"min_length": 20}})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["mfa_required"])
        self.assertEqual(r.json()["password_policy"]["min_length"], 20)
        self.assertEqual(r.json()["password_policy"]["history"], 0)
        self.assertEqual((r.json()["name"], r.json()["kind"]),
                         ("staff", "workforce"))
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["acctsys.update", "acctsys.update"])

    def test_patch_refuses_stale_versions_names_kinds_and_bad_policies(self):
        t = self.tenant()
        s = t.system()
        with self.assertNothingWritten(t.url("account-systems")):
            r = t.patch("account-systems", s["id"],
                        body={"mfa_required": True},
                        headers={"If-Match": '"2"'})
            self.assertRefused(r, 412, "precondition_failed")
            for body in ({"name": "other"}, {"kind": "partner"},
                         {"mfa_required": "yes"},
                         {"password_policy": {"min_length": 0}},
                         {"password_policy": {"colour": 1}}):
                with self.subTest(body=body):
                    r = t.patch("account-systems", s["id"], body=body)
                    self.assertRefused(r, 400, "invalid_request")
            r = t.patch("account-systems", "AAAAAAAAAAAAAAAA",
                        body={"mfa_required": True})
            self.assertRefused(r, 404, "not_found")


# ---- identities: input ---------------------------------------------------

class IdentityInputTest(IdentityCase):

    def test_each_of_the_five_kinds_is_the_kind_segment_of_its_spiffe_id(self):
        t = self.tenant()
        for kind in ("person", "device", "service", "application", "api"):
            doc = t.identity(kind, "x1")
            self.assertEqual(doc["kind"], kind)
            self.assertEqual(doc["spiffe_id"], "spiffe://ztiam.local/%s/%s/x1"
                             % (t.id, kind))

    def test_kind_outside_the_five_is_400(self):
        t = self.tenant()
        with self.assertNothingWritten(t.url("identities")):
            for kind in ("user", "Person", "", "persons", "person ",
                         "group", "org"):
                with self.subTest(kind=kind):
                    r = self.api.post(t.url("identities"),
                                      {"kind": kind, "name": "alice"})
                    self.assertRefused(r, 400, "invalid_request")

    def test_names_that_are_not_one_spiffe_path_segment_are_400(self):
        t = self.tenant()
        with self.assertNothingWritten(t.url("identities"), t.url("groups")):
            for name in BAD_NAMES:
                with self.subTest(name=name):
                    r = self.api.post(t.url("identities"),
                                      {"kind": "person", "name": name})
                    self.assertRefused(r, 400, "invalid_request")
                    r = self.api.post(t.url("groups"), {"name": name})
                    self.assertRefused(r, 400, "invalid_request")

    def test_names_of_digits_dots_dashes_and_128_characters_are_accepted(self):
        t = self.tenant()
        for name in ("a.b-c_d", "0", "9.9", "a..b", "n" * 128):
            with self.subTest(name=name):
                doc = t.person(name)
                self.assertTrue(doc["spiffe_id"].endswith("/person/" + name))
                t.group(name)

    def test_name_taken_in_a_kind_is_409_and_free_in_another_kind(self):
        t = self.tenant()
        t.person("build")
        with self.assertNothingWritten(t.url("identities")):
            r = self.api.post(t.url("identities"),
                              {"kind": "person", "name": "build"})
            self.assertRefused(r, 409, "conflict")
        t.identity("service", "build")
        self.tenant().person("build")

    def test_attributes_with_nested_objects_null_or_mixed_sets_are_400(self):
        t = self.tenant()
        p = t.person("alice")
        bad = [{"a": {"b": 1}}, {"a": None}, {"a": [1, 2]}, {"a": [None]},
               {"a": ["x", 1]}, {"a": [["x"]]}, {"a": [{"b": "c"}]},
               {"a": {}}, {"bad key": 1}, {"": 1}, {"k" * 65: 1},
               {"k\u00e9": 1}, {"a": "x" * 1025}, {"a": "line\nbreak"},
               {"a": ["ok", "tab\there"]}]
        with self.assertNothingWritten(t.url("identities")):
            for attrs in bad:
                with self.subTest(attrs=repr(attrs)[:60]):
                    r = self.api.post(t.url("identities"), {
                        "kind": "person", "name": "bob",
                        "attributes": attrs})
                    self.assertRefused(r, 400, "invalid_request")
                    r = t.patch("identities", p["id"],
                                body={"attributes": attrs})
                    self.assertRefused(r, 400, "invalid_request")

    def test_oversized_attributes_are_413_payload_too_large(self):
        t = self.tenant()
        p = t.person("alice")
        too_many_keys = {"k%02d" % i: i for i in range(65)}
        too_many_bytes = {"k%02d" % i: "v" * 1000 for i in range(17)}
        with self.assertNothingWritten(t.url("identities")):
            for attrs in (too_many_keys, too_many_bytes):
                r = self.api.post(t.url("identities"), {
                    "kind": "person", "name": "bob", "attributes": attrs})
                self.assertRefused(r, 413, "payload_too_large")
                r = t.patch("identities", p["id"], body={"attributes": attrs})
                self.assertRefused(r, 413, "payload_too_large")

    def test_attributes_at_the_limits_are_accepted(self):
        t = self.tenant()
        keys = {"k%02d" % i: i for i in range(64)}
        self.assertEqual(t.person("many", attributes=keys)["attributes"],
                         keys)
        big = {"k" * 64: "v" * 1024, "set": ["s" * 1024],
               "a-Z_0.9:x": True}
        self.assertEqual(t.person("big", attributes=big)["attributes"], big)
        # 15 values of 1000 bytes: just under 16 KiB of JSON.
        near = {"k%02d" % i: "v" * 1000 for i in range(15)}
        self.assertEqual(t.person("near", attributes=near)["attributes"],
                         near)

    def test_attribute_values_are_stored_in_one_spelling(self):
        t = self.tenant()
        doc = t.person("alice", attributes={
            "roles": ["ops", "dev", "ops", "admin"], "level": 2.0,
            "ratio": 2.5, "ok": False, "empty": [], "name": "Alice"})
        want = {"roles": ["admin", "dev", "ops"], "level": 2, "ratio": 2.5,
                "ok": False, "empty": [], "name": "Alice"}
        self.assertEqual(doc["attributes"], want)
        self.assertEqual(t.get("identities", doc["id"])["attributes"], want)
        self.assertIsInstance(doc["attributes"]["level"], int)

    def test_unknown_fields_are_400_on_every_body(self):
        t = self.tenant()
        p = t.person("alice")
        s = t.system()
        a = t.account(p, s, "alice")
        u = t.unit("Sales")
        g = t.group("admins")
        cases = [
            ("POST", "/v1/tenants", {"id": "zz", "owner": "x"}),
            ("PATCH", t.path, {"display_name": "x", "id": "y"}),
            ("POST", t.url("account-systems"),
             {"name": "p", "kind": "partner", "sso": True}),
            ("POST", t.url("identities"),
             {"kind": "person", "name": "bob", "spiffe_id": "spiffe://x"}),
            ("POST", t.url("identities"),
             {"kind": "person", "name": "bob", "version": 1}),
            ("PATCH", t.url("identities", p["id"]), {"name": "bob"}),
            ("PATCH", t.url("identities", p["id"]),
             {"state": "active", "kind": "device"}),
            ("POST", t.url("accounts"), {
                "identity_id": p["id"], "system_id": s["id"],
                "login_name": "bob", "password": "x"}),
            ("PATCH", t.url("accounts", a["id"]),
             {"state": "disabled", "login_name": "bob"}),
            ("POST", t.url("groups"), {"name": "ops", "kind": "org"}),
            ("POST", t.url("groups", g["id"], "members"),
             {"type": "identity", "id": p["id"], "role": "owner"}),
            ("POST", t.url("units"), {"name": "Eng", "path": "/x/"}),
            ("PATCH", t.url("units", u["id"]), {"name": "E", "colour": 1}),
        ]
        with self.assertNothingWritten("/v1/tenants", t.url("identities"),
                                       t.url("groups")):
            for method, path, body in cases:
                with self.subTest(method=method, path=path, body=body):
                    r = self.api.request(method, path, body=body)
                    doc = self.assertRefused(r, 400, "invalid_request")
                    self.assertIn("unknown field", doc["detail"])

    def test_wrong_json_types_are_400_on_every_body(self):
        t = self.tenant()
        p = t.person("alice")
        s = t.system()
        a = t.account(p, s, "alice")
        u = t.unit("Sales")
        g = t.group("admins")
        ident = {"kind": "person", "name": "bob"}
        acct = {"identity_id": p["id"], "system_id": s["id"],
                "login_name": "bob"}
        cases = [
            ("POST", "/v1/tenants", {"id": 5}),
            ("POST", "/v1/tenants", {"id": "zz", "display_name": ["x"]}),
            ("PATCH", t.path, {"display_name": None}),
            ("POST", t.url("account-systems"), {"name": "p", "kind": 1}),
            ("POST", t.url("account-systems"),
             {"name": "p", "kind": "partner", "mfa_required": "yes"}),
            ("POST", t.url("account-systems"),
             {"name": "p", "kind": "partner", "password_policy": []}),
            ("POST", t.url("identities"), dict(ident, kind=["person"])),
            ("POST", t.url("identities"), dict(ident, name=7)),
            ("POST", t.url("identities"), dict(ident, state=True)),
            ("POST", t.url("identities"), dict(ident, unit_id=1)),
            ("POST", t.url("identities"), dict(ident, unit_id=None)),
            ("POST", t.url("identities"), dict(ident, attributes=[])),
            ("POST", t.url("identities"), dict(ident, attributes="a=b")),
            ("PATCH", t.url("identities", p["id"]), {"state": 1}),
            ("PATCH", t.url("identities", p["id"]), {"state": None}),
            ("PATCH", t.url("identities", p["id"]), {"unit_id": 5}),
            ("PATCH", t.url("identities", p["id"]), {"unit_id": [u["id"]]}),
            ("PATCH", t.url("identities", p["id"]), {"attributes": None}),
            ("PATCH", t.url("identities", p["id"]), {"attributes": [1]}),
            ("POST", t.url("accounts"), dict(acct, identity_id=1)),
            ("POST", t.url("accounts"), dict(acct, login_name=None)),
            ("POST", t.url("accounts"), dict(acct, state=False)),
            ("PATCH", t.url("accounts", a["id"]), {"state": 0}),
            ("POST", t.url("groups"), {"name": 1}),
            ("POST", t.url("groups"), {"name": "ops", "description": 2}),
            ("POST", t.url("groups"), {"name": "ops", "unit_id": {}}),
            ("POST", t.url("groups", g["id"], "members"),
             {"type": "identity", "id": [p["id"]]}),
            ("POST", t.url("groups", g["id"], "members"),
             {"type": 1, "id": p["id"]}),
            ("POST", t.url("units"), {"name": 1}),
            ("POST", t.url("units"), {"name": "Eng", "parent_id": 1}),
            ("PATCH", t.url("units", u["id"]), {"name": None}),
            ("PATCH", t.url("units", u["id"]), {"parent_id": 1}),
            ("PATCH", t.url("units", u["id"]), {"parent_id": [u["id"]]}),
        ]
        with self.assertNothingWritten("/v1/tenants", t.url("identities"),
                                       t.url("groups")):
            for method, path, body in cases:
                with self.subTest(method=method, path=path, body=body):
                    r = self.api.request(method, path, body=body)
                    self.assertRefused(r, 400, "invalid_request")

    def test_sql_metacharacters_in_free_text_are_stored_literally(self):
        t = self.tenant()
        s = t.system()
        for i, text in enumerate(SQL_STRINGS):
            with self.subTest(text=text):
                p = t.person("p%d" % i, attributes={"note": text})
                self.assertEqual(t.get("identities", p["id"])["attributes"],
                                 {"note": text})
                found = t.get("identities?attr.note=" + quote(text, safe=""))
                self.assertEqual([x["id"] for x in found["items"]], [p["id"]])

                a = t.account(p, s, text)
                self.assertEqual(t.get("accounts", a["id"])["login_name"],
                                 text)
                if "/" not in text:  # see the slash test in AccountTest
                    got = t.get("account-systems", s["id"], "logins",
                                path_seg(text))
                    self.assertEqual(got["id"], p["id"])

                u = t.unit(text)
                self.assertEqual(t.get("units", u["id"])["name"], text)
                self.assertEqual(t.get("groups", u["id"])["name"], text)

                g = t.group("g%d" % i, description=text)
                self.assertEqual(t.get("groups", g["id"])["description"],
                                 text)

                r = self.api.patch(t.path, {"display_name": text})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(t.get()["display_name"], text)
        self.assertEqual(len(t.get("identities")["items"]), len(SQL_STRINGS))
        self.assertEqual(self.ws.audit_verify().returncode, 0)

    def test_sql_metacharacters_in_restricted_fields_are_400(self):
        t = self.tenant()
        p = t.person("alice")
        s = t.system()
        a = t.account(p, s, "alice")
        with self.assertNothingWritten("/v1/tenants", t.url("identities"),
                                       t.url("groups"),
                                       t.url("account-systems")):
            for text in SQL_STRINGS:
                with self.subTest(text=text):
                    posts = [
                        ("/v1/tenants", {"id": text}),
                        (t.url("identities"),
                         {"kind": "person", "name": text}),
                        (t.url("identities"),
                         {"kind": text, "name": "bob"}),
                        (t.url("identities"),
                         {"kind": "person", "name": "bob", "state": text}),
                        (t.url("identities"),
                         {"kind": "person", "name": "bob",
                          "attributes": {text: 1}}),
                        (t.url("groups"), {"name": text}),
                        (t.url("account-systems"),
                         {"name": text, "kind": "workforce"}),
                        (t.url("account-systems"),
                         {"name": "p", "kind": text}),
                        (t.url("accounts"),
                         {"identity_id": p["id"], "system_id": s["id"],
                          "login_name": "bob", "state": text}),
                    ]
                    for path, body in posts:
                        r = self.api.post(path, body)
                        self.assertRefused(r, 400, "invalid_request")
                    r = t.patch("identities", p["id"], body={"state": text})
                    self.assertRefused(r, 400, "invalid_request")
                    r = t.patch("accounts", a["id"], body={"state": text})
                    self.assertRefused(r, 400, "invalid_request")

    def test_sql_metacharacters_in_paths_and_queries_are_404_or_400(self):
        t = self.tenant()
        p = t.person("alice", attributes={"dept": "sales"})
        s = t.system()
        with self.assertNothingWritten("/v1/tenants", t.url("identities")):
            for text in SQL_STRINGS:
                seg = path_seg(text)
                with self.subTest(text=text):
                    for path in ("/v1/tenants/" + seg,
                                 "/v1/tenants/%s/identities" % seg,
                                 t.url("identities", seg),
                                 t.url("identities", seg, "groups"),
                                 t.url("accounts", seg),
                                 t.url("groups", seg),
                                 t.url("groups", seg, "members"),
                                 t.url("units", seg),
                                 t.url("account-systems", seg),
                                 t.url("account-systems", s["id"], "logins",
                                       seg)):
                        self.assertRefused(self.api.get(path), 404,
                                           "not_found")
                    r = t.patch("identities", seg, body={"state": "active"})
                    self.assertRefused(r, 404, "not_found")
                    self.assertRefused(self.api.delete(t.url("units", seg)),
                                       404, "not_found")
                    for q in ("name_prefix", "kind", "state", "cursor"):
                        r = self.api.get(t.url("identities?%s=%s" % (q, seg)))
                        self.assertRefused(r, 400, "invalid_request")
                    for q in ("sort", "limit"):
                        r = self.api.get(t.url("identities?%s=%s" % (q, seg)))
                        self.assertRefused(r, 400, "invalid_parameter")
                    r = self.api.get(t.url("identities?attr.dept=" + seg))
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(r.json()["items"], [])
                    r = self.api.get(spiffe_query(text))
                    self.assertRefused(r, 400, "invalid_request")
            r = self.api.get(t.url("identities?attr.dept=sales"))
            self.assertEqual([x["id"] for x in r.json()["items"]], [p["id"]])


# ---- identities: lifecycle and versions ----------------------------------

class LifecycleTest(IdentityCase):

    def test_staged_active_suspended_active_deprovisioned_audits_each_step(
            self):
        t = self.tenant()
        p = t.person("alice")
        self.assertEqual(p["state"], "staged")
        since = self.audit_count()
        steps = ["active", "suspended", "active", "deprovisioned"]
        for version, state in enumerate(steps, start=2):
            r = t.patch("identities", p["id"], body={"state": state})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["state"], state)
            self.assertEqual(r.json()["version"], version)
        records = self.new_audit(since)
        self.assertEqual([a["action"] for a in records],
                         ["identity.state"] * 4)
        self.assertEqual(
            [(a["summary"]["before"]["state"], a["summary"]["after"]["state"])
             for a in records],
            [("staged", "active"), ("active", "suspended"),
             ("suspended", "active"), ("active", "deprovisioned")])
        for a in records:
            self.assertEqual(a["target"], "identity:" + p["id"])
            self.assertEqual(a["tenant"], t.id)
        self.assertEqual(self.ws.audit_verify().returncode, 0)

    def test_deprovisioned_identity_cannot_leave_that_state_409(self):
        t = self.tenant()
        p = t.person("alice", state="active")
        t.patch("identities", p["id"], body={"state": "deprovisioned"})
        with self.assertNothingWritten(t.url("identities")):
            for state in ("active", "suspended", "staged"):
                with self.subTest(state=state):
                    r = t.patch("identities", p["id"], body={"state": state})
                    self.assertRefused(r, 409, "conflict")
        self.assertEqual(t.get("identities", p["id"])["state"],
                         "deprovisioned")

    def test_moves_outside_the_lifecycle_are_409(self):
        t = self.tenant()
        staged = t.person("staged")
        active = t.person("active", state="active")
        suspended = t.person("suspended", state="active")
        t.patch("identities", suspended["id"], body={"state": "suspended"})
        with self.assertNothingWritten(t.url("identities")):
            for who, to in ((staged, "suspended"), (active, "staged"),
                            (suspended, "staged")):
                with self.subTest(frm=who["name"], to=to):
                    r = t.patch("identities", who["id"], body={"state": to})
                    doc = self.assertRefused(r, 409, "conflict")
                    self.assertIn("cannot go from", doc["detail"])

    def test_staged_identity_may_be_deprovisioned_directly(self):
        t = self.tenant()
        p = t.person("alice")
        r = t.patch("identities", p["id"], body={"state": "deprovisioned"})
        self.assertEqual(r.status, 200, r)

    def test_setting_the_current_state_again_writes_nothing(self):
        t = self.tenant()
        p = t.person("alice", state="active")
        with self.assertNothingWritten(t.url("identities")):
            r = t.patch("identities", p["id"], body={"state": "active"},
                        headers={"If-Match": '"1"'})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), p)
            self.assertEqual(r.header("ETag"), '"1"')

    def test_new_identity_starts_staged_or_active_only(self):
        t = self.tenant()
        self.assertEqual(t.person("a")["state"], "staged")
        self.assertEqual(t.person("b", state="active")["state"], "active")
        self.assertEqual(t.person("c", state="staged")["state"], "staged")
        with self.assertNothingWritten(t.url("identities")):
            for state in ("suspended", "deprovisioned", "Active", "",
                          "enabled"):
                with self.subTest(state=state):
                    r = self.api.post(t.url("identities"), {
                        "kind": "person", "name": "d", "state": state})
                    self.assertRefused(r, 400, "invalid_request")

    def test_unknown_target_state_is_400(self):
        t = self.tenant()
        p = t.person("alice")
        with self.assertNothingWritten(t.url("identities")):
            for state in ("gone", "ACTIVE", "", "deleted"):
                r = t.patch("identities", p["id"], body={"state": state})
                self.assertRefused(r, 400, "invalid_request")

    def test_patch_without_a_change_is_400(self):
        t = self.tenant()
        p = t.person("alice")
        with self.assertNothingWritten(t.url("identities")):
            r = t.patch("identities", p["id"], body={})
            self.assertRefused(r, 400, "invalid_request")

    def test_patch_of_several_changes_applies_all_or_none(self):
        t = self.tenant()
        u = t.unit("Sales")
        p = t.person("alice")
        body = {"attributes": {"dept": "sales"}, "unit_id": u["id"],
                "state": "suspended"}
        with self.assertNothingWritten(t.url("identities"),
                                       t.url("identities", p["id"])):
            r = t.patch("identities", p["id"], body=body)
            self.assertRefused(r, 409, "conflict")
        since = self.audit_count()
        body["state"] = "active"
        r = t.patch("identities", p["id"], body=body)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["state"], doc["unit_id"], doc["attributes"]),
                         ("active", u["id"], {"dept": "sales"}))
        self.assertEqual(r.header("ETag"), "\"%d\"" % doc["version"])
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["identity.update", "identity.move",
                          "identity.state"])

    def test_each_kind_of_change_has_its_own_audit_action(self):
        t = self.tenant()
        u = t.unit("Sales")
        p = t.person("alice")
        since = self.audit_count()
        for body in ({"attributes": {"dept": "sales"}}, {"unit_id": u["id"]},
                     {"unit_id": None}, {"state": "active"}):
            r = t.patch("identities", p["id"], body=body)
            self.assertEqual(r.status, 200, r)
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["identity.update", "identity.move", "identity.move",
                          "identity.state"])

    def test_deprovisioned_identity_gets_no_new_account_409(self):
        t = self.tenant()
        s = t.system()
        p = t.person("alice")
        t.patch("identities", p["id"], body={"state": "deprovisioned"})
        with self.assertNothingWritten(t.url("identities", p["id"],
                                             "accounts")):
            r = self.api.post(t.url("accounts"), {
                "identity_id": p["id"], "system_id": s["id"],
                "login_name": "alice"})
            self.assertRefused(r, 409, "conflict")


class ETagTest(IdentityCase):

    def test_get_answers_the_version_as_a_strong_etag(self):
        t = self.tenant()
        p = t.person("alice")
        s = t.system()
        a = t.account(p, s, "alice")
        u = t.unit("Sales")
        g = t.group("admins")
        for parts in (("identities", p["id"]), ("accounts", a["id"]),
                      ("units", u["id"]), ("groups", g["id"]),
                      ("groups", u["id"]), ("account-systems", s["id"]),
                      ()):
            with self.subTest(parts=parts):
                r = self.api.get(t.url(*parts))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("ETag"), '"1"')
        t.patch("identities", p["id"], body={"state": "active"})
        self.assertEqual(self.api.get(t.url("identities", p["id"]))
                         .header("ETag"), '"2"')

    def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(self):
        t = self.tenant()
        u = t.unit("Sales")
        p = t.person("alice")
        t.patch("identities", p["id"], body={"state": "active"})
        with self.assertNothingWritten(t.url("identities")):
            for body in ({"state": "suspended"}, {"unit_id": u["id"]},
                         {"attributes": {"a": 1}}):
                for etag in ('"1"', '"3"', '"999"'):
                    with self.subTest(body=body, etag=etag):
                        r = t.patch("identities", p["id"], body=body,
                                    headers={"If-Match": etag})
                        self.assertRefused(r, 412, "precondition_failed")

    def test_patch_with_the_current_if_match_answers_the_next_etag(self):
        t = self.tenant()
        u = t.unit("Sales")
        p = t.person("alice")
        for body in ({"state": "active"}, {"unit_id": u["id"]},
                     {"attributes": {"a": 1}}):
            etag = self.api.get(t.url("identities", p["id"])).header("ETag")
            r = t.patch("identities", p["id"], body=body,
                        headers={"If-Match": etag})
            self.assertEqual(r.status, 200, r)
            want = '"%d"' % (int(etag.strip('"')) + 1)
            self.assertEqual(r.header("ETag"), want)
            self.assertEqual(self.api.get(t.url("identities", p["id"]))
                             .header("ETag"), want)
        self.assertEqual(t.get("identities", p["id"])["version"], 4)

    def test_if_match_star_or_none_applies_without_a_check(self):
        t = self.tenant()
        p = t.person("alice")
        r = t.patch("identities", p["id"], body={"state": "active"},
                    headers={"If-Match": "*"})
        self.assertEqual(r.status, 200, r)
        r = t.patch("identities", p["id"], body={"state": "suspended"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"3"')

    def test_malformed_if_match_is_400_invalid_precondition(self):
        t = self.tenant()
        p = t.person("alice")
        with self.assertNothingWritten(t.url("identities")):
            for etag in ('W/"1"', "1", '"abc"', '""', '"0"', '"-1"',
                         '"1", "2"', '"1'):
                with self.subTest(etag=etag):
                    r = t.patch("identities", p["id"],
                                body={"state": "active"},
                                headers={"If-Match": etag})
                    self.assertRefused(r, 400, "invalid_precondition")

    def test_stale_if_match_is_412_on_every_versioned_change(self):
        t = self.tenant()
        p = t.person("alice")
        s = t.system()
        a = t.account(p, s, "alice")
        top = t.unit("Top")
        u = t.unit("Sales")
        g = t.group("admins")
        stale = {"If-Match": '"2"'}
        with self.assertNothingWritten(t.url("units"), t.url("groups"),
                                       t.url("identities", p["id"],
                                             "accounts")):
            for method, path, body in (
                    ("PATCH", t.path, {"display_name": "x"}),
                    ("PATCH", t.url("units", u["id"]), {"name": "x"}),
                    ("PATCH", t.url("units", u["id"]),
                     {"parent_id": top["id"]}),
                    ("DELETE", t.url("units", u["id"]), None),
                    ("DELETE", t.url("groups", g["id"]), None),
                    ("PATCH", t.url("accounts", a["id"]),
                     {"state": "disabled"}),
                    ("DELETE", t.url("accounts", a["id"]), None)):
                with self.subTest(method=method, path=path):
                    r = self.api.request(method, path, body=body,
                                         headers=stale)
                    self.assertRefused(r, 412, "precondition_failed")


# ---- accounts ------------------------------------------------------------

class AccountTest(IdentityCase):

    def test_login_name_taken_in_one_system_is_409_whatever_its_case(self):
        t = self.tenant()
        s = t.system()
        alice = t.person("alice")
        bob = t.person("bob")
        t.account(alice, s, "Alice@Example.com")
        with self.assertNothingWritten(
                t.url("identities", alice["id"], "accounts"),
                t.url("identities", bob["id"], "accounts")):
            for who in (alice, bob):
                for login in ("Alice@Example.com", "alice@example.com",
                              "ALICE@EXAMPLE.COM", "aLiCe@eXaMpLe.CoM"):
                    with self.subTest(who=who["name"], login=login):
                        r = self.api.post(t.url("accounts"), {
                            "identity_id": who["id"], "system_id": s["id"],
                            "login_name": login})
                        self.assertRefused(r, 409, "conflict")

    def test_one_person_may_hold_accounts_in_two_systems(self):
        t = self.tenant()
        staff = t.system("staff", "workforce")
        partners = t.system("partners", "partner")
        alice = t.person("alice")
        a1 = t.account(alice, staff, "alice")
        a2 = t.account(alice, partners, "alice")
        a3 = t.account(alice, partners, "alice.smith", state="disabled")
        self.assertEqual(a3["state"], "disabled")
        listed = t.get("identities", alice["id"], "accounts")["items"]
        self.assertEqual(sorted(a["id"] for a in listed),
                         sorted([a1["id"], a2["id"], a3["id"]]))
        for s in (staff, partners):
            got = t.get("account-systems", s["id"], "logins", "ALICE")
            self.assertEqual(got["id"], alice["id"])

    def test_lookup_by_login_name_ignores_ascii_case(self):
        t = self.tenant()
        s = t.system()
        alice = t.person("alice")
        t.account(alice, s, "Alice@Example.com")
        for login in ("Alice@Example.com", "alice@example.com",
                      "ALICE%40EXAMPLE.COM"):
            with self.subTest(login=login):
                got = t.get("account-systems", s["id"], "logins", login)
                self.assertEqual(got["id"], alice["id"])
                self.assertEqual(got["spiffe_id"],
                                 "spiffe://ztiam.local/%s/person/alice" % t.id)

    def test_lookup_of_an_unknown_login_or_system_is_404(self):
        t = self.tenant()
        s = t.system()
        other = t.system("other", "customer")
        t.account(t.person("alice"), s, "alice")
        for path in (t.url("account-systems", s["id"], "logins", "bob"),
                     t.url("account-systems", other["id"], "logins",
                           "alice"),
                     t.url("account-systems", "AAAAAAAAAAAAAAAA", "logins",
                           "alice"),
                     t.url("account-systems", "staff", "logins", "alice")):
            with self.subTest(path=path):
                self.assertRefused(self.api.get(path), 404, "not_found")

    def test_bad_login_names_and_states_are_400(self):
        t = self.tenant()
        s = t.system()
        alice = t.person("alice")
        with self.assertNothingWritten(t.url("identities", alice["id"],
                                             "accounts")):
            for login, state in (("", None), (" alice", None),
                                 ("alice ", None), ("a\tb", None),
                                 ("a\nb", None), ("x" * 257, None),
                                 ("alice", "locked"), ("alice", "Active")):
                with self.subTest(login=login, state=state):
                    body = {"identity_id": alice["id"], "system_id": s["id"],
                            "login_name": login}
                    if state is not None:
                        body["state"] = state
                    r = self.api.post(t.url("accounts"), body)
                    self.assertRefused(r, 400, "invalid_request")
        t.account(alice, s, "x" * 256)

    def test_account_of_an_unknown_identity_or_system_is_404(self):
        t = self.tenant()
        s = t.system()
        alice = t.person("alice")
        with self.assertNothingWritten(t.url("identities", alice["id"],
                                             "accounts")):
            for ident, system in (("AAAAAAAAAAAAAAAA", s["id"]),
                                  (alice["id"], "AAAAAAAAAAAAAAAA"),
                                  (alice["id"], "staff")):
                r = self.api.post(t.url("accounts"), {
                    "identity_id": ident, "system_id": system,
                    "login_name": "alice"})
                self.assertRefused(r, 404, "not_found")

    def test_account_state_change_and_delete_are_audited(self):
        t = self.tenant()
        s = t.system()
        alice = t.person("alice")
        a = t.account(alice, s, "alice")
        since = self.audit_count()
        r = t.patch("accounts", a["id"], body={"state": "disabled"},
                    headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "disabled")
        self.assertEqual(r.header("ETag"), '"2"')
        r = self.api.delete(t.url("accounts", a["id"]),
                            headers={"If-Match": '"2"'})
        self.assertEqual(r.status, 204, r)
        self.assertRefused(self.api.get(t.url("accounts", a["id"])), 404,
                           "not_found")
        self.assertEqual([x["action"] for x in self.new_audit(since)],
                         ["account.state", "account.delete"])
        self.assertRefused(self.api.get(t.url("account-systems", s["id"],
                                              "logins", "alice")),
                           404, "not_found")
        t.account(t.person("bob"), s, "ALICE")

    def test_login_name_with_a_slash_can_be_looked_up(self):
        """Regression: a login name may hold '/'; the router used to decode
        %2F before splitting the path, so .../logins/a%2Fb was 404."""
        t = self.tenant()
        s = t.system()
        alice = t.person("alice")
        t.account(alice, s, "EXAMPLE/alice")
        got = self.api.get(t.url("account-systems", s["id"], "logins",
                                 path_seg("example/alice")))
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.json()["id"], alice["id"])


# ---- bulk import ---------------------------------------------------------

class ImportTest(IdentityCase):

    def test_broken_line_in_the_middle_is_left_out_whole_and_others_apply(
            self):
        t = self.tenant()
        s = t.system()
        lines = [
            '{"kind": "person", "name": "imp-a",'
            ' "accounts": [{"system": "staff", "login_name": "imp-a"}]}',
            '{"kind": "device", "name": "imp-b",'
            ' "attributes": {"site": "lab", "tags": ["y", "x"]}}',
            # The identity itself is fine; its account's login is taken,
            # so the whole line, identity included, must be rolled back.
            '{"kind": "person", "name": "imp-c",'
            ' "accounts": [{"system": "staff", "login_name": "IMP-A"}]}',
            '{"kind": "person", "name": ',
            '',
            '{"kind": "robot", "name": "imp-d"}',
            '{"kind": "person", "name": "imp-e", "state": "active",'
            ' "accounts": [{"system_id": "%s", "login_name": "imp-e"}]}'
            % s["id"],
        ]
        since = self.audit_count()
        r = self.ndjson(t, lines)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["lines"], doc["ok"], doc["failed"]), (6, 3, 3))
        results = doc["results"]
        self.assertEqual([(x["line"], x["status"]) for x in results],
                         [(1, "ok"), (2, "ok"), (3, "error"), (4, "error"),
                          (6, "error"), (7, "ok")])
        for x in results:
            if x["status"] == "ok":
                self.assertEqual(set(x), {"line", "status", "id"})
            else:
                self.assertEqual(set(x), {"line", "status", "code",
                                          "detail"})
                self.assertTrue(x["code"] and x["detail"], x)
        self.assertIn("accounts[0]", results[2]["detail"])
        self.assertIn("login_name", results[2]["detail"])
        self.assertIn("kind", results[4]["detail"])

        listed = {x["name"]: x for x in t.get("identities")["items"]}
        self.assertEqual(sorted(listed), ["imp-a", "imp-b", "imp-e"])
        ids = {x["id"] for x in results if x["status"] == "ok"}
        self.assertEqual(ids, {x["id"] for x in listed.values()})
        self.assertEqual(listed["imp-b"]["attributes"],
                         {"site": "lab", "tags": ["x", "y"]})
        self.assertEqual(listed["imp-e"]["state"], "active")
        r = self.api.get(spiffe_query("spiffe://ztiam.local/%s/person/imp-c"
                                      % t.id))
        self.assertRefused(r, 404, "not_found")
        got = t.get("account-systems", s["id"], "logins", "IMP-A")
        self.assertEqual(got["id"], listed["imp-a"]["id"])

        accounts = {a["id"] for x in listed.values() for a in
                    t.get("identities", x["id"], "accounts")["items"]}
        self.assertEqual(len(accounts), 2)
        audited = audited_ids(self.new_audit(since))
        self.assertEqual(audited["identity"], ids)
        self.assertEqual(audited["account"], accounts)
        self.assertEqual(self.ws.audit_verify().returncode, 0)

    def test_lines_that_fail_each_rule_report_their_fault(self):
        t = self.tenant()
        t.system()
        t.person("taken")
        u = t.unit("Sales")
        lines = [
            '{"kind": "person", "name": "taken"}',
            '{"kind": "person", "name": "Upper"}',
            '{"kind": "person", "name": "x1", "colour": "red"}',
            '{"kind": "person", "name": "x2", "attributes": {"a": null}}',
            '{"kind": "person", "name": "x3", "unit_id": "AAAAAAAAAAAAAAAA"}',
            '{"kind": "person", "name": "x4", "accounts":'
            ' [{"system": "nope", "login_name": "x4"}]}',
            '{"kind": "person", "name": "x5", "accounts":'
            ' [{"login_name": "x5"}]}',
            '{"kind": "person", "name": "x6", "state": "suspended"}',
            '["kind", "person"]',
            '{"kind": "person", "name": "x7", "unit_id": "%s"}' % u["id"],
        ]
        with self.assertNothingWritten(t.url("identities")):
            r = self.ndjson(t, lines[:-1])
            self.assertEqual(r.status, 200, r)
            doc = r.json()
            self.assertEqual((doc["lines"], doc["ok"], doc["failed"]),
                             (9, 0, 9))
        r = self.ndjson(t, lines[-1:])
        self.assertEqual(r.json()["ok"], 1, r)
        self.assertEqual(t.get("identities?name_prefix=x7")["items"][0]
                         ["unit_id"], u["id"])

    def test_blank_lines_are_skipped_but_keep_their_line_numbers(self):
        t = self.tenant()
        r = self.ndjson(t, ["", '{"kind": "person", "name": "a"}', "  \t",
                            "", '{"kind": "person", "name": "b"}\r'])
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["lines"], 2)
        self.assertEqual([x["line"] for x in doc["results"]], [2, 5])
        self.assertEqual([x["status"] for x in doc["results"]], ["ok", "ok"])

    def test_import_needs_an_ndjson_content_type_415(self):
        t = self.tenant()
        line = ['{"kind": "person", "name": "a"}']
        with self.assertNothingWritten(t.url("identities")):
            for ctype in ("application/json", "text/plain", None):
                r = self.ndjson(t, line, content_type=ctype)
                self.assertRefused(r, 415, "unsupported_media_type")
        r = self.ndjson(t, line, content_type="application/jsonl")
        self.assertEqual(r.json()["ok"], 1, r)

    def test_import_into_an_unknown_tenant_is_404(self):
        nope = Tenant(self, "no-such-tenant", self.api)
        with self.assertNothingWritten("/v1/tenants"):
            r = self.ndjson(nope, ['{"kind": "person", "name": "a"}'])
            self.assertRefused(r, 404, "not_found")

    def test_empty_import_into_an_unknown_tenant_is_404(self):
        """Regression: with an empty body the import never
        enters the tenant's scope and answers 200 {"lines": 0} for any
        tenant, existing or not, in scope or not."""
        r = self.api.post("/v1/tenants/no-such-tenant/identities/import",
                          b"", content_type=NDJSON)
        self.assertRefused(r, 404, "not_found")

    def test_failed_lines_carry_the_problem_codes_of_the_api(self):
        """Reported: a failed line's "code" is the error's English name
        ("invalid input", "already exists") rather than the problem code a
        single create would answer ("invalid_request", "conflict")."""
        t = self.tenant()
        t.person("taken")
        r = self.ndjson(t, ['{"kind": "person", "name": "taken"}',
                            '{"kind": "robot", "name": "x"}'])
        self.assertEqual([x["code"] for x in r.json()["results"]],
                         ["conflict", "invalid_request"])


# ---- the identity list ---------------------------------------------------

class ListTest(IdentityCase):

    def person_later(self, t, name):
        """Creates a person at least a millisecond after the last one, so
        that ordering by creation time does not fall back on ids."""
        time.sleep(0.003)
        return t.person(name)

    def collect(self, t, query, limit, between):
        """Pages through the list, calling between() after every page."""
        items, cursor = [], None
        while True:
            url = t.url("identities?%slimit=%d" % (query, limit))
            if cursor:
                url += "&cursor=" + quote(cursor, safe="")
            r = self.api.get(url)
            self.assertEqual(r.status, 200, r)
            items.extend(r.json()["items"])
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return items
            between()

    def test_name_pages_hold_every_earlier_row_once_despite_inserts(self):
        t = self.tenant()
        first = ["n%02d" % i for i in range(0, 60, 2)]
        for name in first:
            t.person(name)
        extra = iter(["n%02d" % i for i in range(1, 60, 2)] + ["a0", "z9"])

        def insert_two():
            for _ in range(2):
                name = next(extra, None)
                if name:
                    t.person(name)

        items = self.collect(t, "sort=name&", 7, insert_two)
        names = [x["name"] for x in items]
        self.assertEqual(len(names), len(set(names)), names)
        self.assertEqual(names, sorted(names))
        for name in first:
            self.assertIn(name, names)

    def test_created_pages_hold_every_earlier_row_once_despite_inserts(self):
        t = self.tenant()
        first = ["c%02d" % i for i in range(25)]
        for name in first:
            self.person_later(t, name)
        serial = itertools.count()

        def insert_three():
            for _ in range(3):
                self.person_later(t, "new%02d" % next(serial))

        items = self.collect(t, "sort=created&", 6, insert_three)
        names = [x["name"] for x in items]
        self.assertEqual(len(names), len(set(names)), names)
        self.assertEqual(names[:25], first)
        times = [x["created_at"] for x in items]
        self.assertEqual(times, sorted(times))
        # Rows made after the cursor passed them sort after it: none hides.
        self.assertEqual(len(names), 25 + next(serial))

    def test_sort_by_name_and_by_created_order_the_whole_list(self):
        t = self.tenant()
        for name in ("carol", "alice", "bob", "dave"):
            self.person_later(t, name)
        for query, want in (("", ["alice", "bob", "carol", "dave"]),
                            ("sort=name&", ["alice", "bob", "carol", "dave"]),
                            ("sort=created&",
                             ["carol", "alice", "bob", "dave"])):
            with self.subTest(query=query):
                got = self.pages(t.url("identities?" + query.rstrip("&")), 3)
                self.assertEqual([x["name"] for x in got], want)
        r = self.api.get(t.url("identities?sort=updated"))
        self.assertRefused(r, 400, "invalid_parameter")

    def test_kind_and_state_filters_select_exactly_the_matching(self):
        t = self.tenant()
        t.person("p-staged")
        active = t.person("p-active", state="active")
        t.identity("device", "d-active", state="active")
        t.identity("service", "s-staged")
        t.patch("identities", active["id"], body={"state": "suspended"})
        for query, want in (
                ("kind=person", ["p-active", "p-staged"]),
                ("kind=device", ["d-active"]),
                ("kind=api", []),
                ("state=staged", ["p-staged", "s-staged"]),
                ("state=suspended", ["p-active"]),
                ("state=active", ["d-active"]),
                ("kind=person&state=staged", ["p-staged"]),
                ("kind=service&state=active", [])):
            with self.subTest(query=query):
                got = t.get("identities?" + query)["items"]
                self.assertEqual([x["name"] for x in got], want)
        for query in ("kind=robot", "state=gone", "kind=Person"):
            r = self.api.get(t.url("identities?" + query))
            self.assertRefused(r, 400, "invalid_request")

    def test_name_prefix_selects_names_that_start_with_it(self):
        t = self.tenant()
        for name in ("a", "an", "ann", "anna", "anne.b", "an-x", "an_y",
                     "anz", "ao", "bob"):
            t.person(name)
        for prefix, want in (
                ("an", ["an", "an-x", "an_y", "ann", "anna", "anne.b",
                        "anz"]),
                ("ann", ["ann", "anna", "anne.b"]),
                ("anne.", ["anne.b"]),
                ("an-", ["an-x"]),
                ("b", ["bob"]),
                ("z", []),
                ("", ["a", "an", "an-x", "an_y", "ann", "anna", "anne.b",
                      "anz", "ao", "bob"])):
            with self.subTest(prefix=prefix):
                got = self.pages(t.url("identities?name_prefix=" + prefix), 2)
                self.assertEqual([x["name"] for x in got], want)
        for prefix in ("An", "a b", "-a", "a/b", "\u00e9"):
            r = self.api.get(t.url("identities?name_prefix="
                                   + quote(prefix, safe="")))
            self.assertRefused(r, 400, "invalid_request")

    def test_attribute_filters_match_strings_numbers_booleans_and_sets(self):
        t = self.tenant()
        t.person("p1", attributes={"dept": "sales", "level": 3,
                                   "admin": True, "roles": ["ops", "dev"],
                                   "code": "3"})
        t.person("p2", attributes={"dept": "eng", "level": 4,
                                   "admin": False, "roles": ["dev"]})
        t.person("p3", attributes={"dept": "sales", "level": 2.5,
                                   "admin": False, "roles": [], "code": 3})
        t.person("p4")
        t.identity("device", "d1", attributes={"dept": "sales"})
        q = quote('"3"')
        for query, want in (
                ("attr.dept=sales", ["d1", "p1", "p3"]),
                ("attr.dept=eng", ["p2"]),
                ("attr.dept=Sales", []),
                ("attr.level=3", ["p1"]),
                ("attr.level=3.0", ["p1"]),
                ("attr.level=2.5", ["p3"]),
                ("attr.level=" + q, []),
                ("attr.code=" + q, ["p1"]),
                ("attr.code=3", ["p3"]),
                ("attr.admin=true", ["p1"]),
                ("attr.admin=false", ["p2", "p3"]),
                ("attr.admin=" + quote('"true"'), []),
                ("attr.roles=dev", ["p1", "p2"]),
                ("attr.roles=ops", ["p1"]),
                ("attr.roles=" + quote('["dev"]'), []),
                ("attr.missing=1", []),
                ("attr.dept=sales&attr.roles=dev", ["p1"]),
                ("attr.dept=sales&kind=device", ["d1"]),
                ("attr.dept=sales&attr.admin=false&attr.level=2.5"
                 "&attr.code=3", ["p3"])):
            with self.subTest(query=query):
                got = t.get("identities?" + query)["items"]
                self.assertEqual([x["name"] for x in got], want)
        for query in ("attr.a=1&attr.b=1&attr.c=1&attr.d=1&attr.e=1",
                      "attr.=1"):
            r = self.api.get(t.url("identities?" + query))
            self.assertRefused(r, 400, "invalid_parameter")

    def test_malformed_query_string_is_400_not_an_unfiltered_list(self):
        """Regression: when libevent cannot parse the query
        string (an empty pair, a key without '='), zt_req_query() clears
        it and every parameter reads as absent, so filters and limits are
        silently dropped and the whole list comes back with 200."""
        t = self.tenant()
        t.person("p1")
        t.identity("device", "d1")
        for query in ("kind=device&&limit=1", "&kind=device",
                      "kind=device&limit", "kind=robot&&"):
            with self.subTest(query=query):
                r = self.api.get(t.url("identities?" + query))
                self.assertRefused(r, 400, "invalid_parameter")

    def test_limit_must_be_1_to_1000(self):
        t = self.tenant()
        t.person("a")
        for limit in ("0", "1001", "-1", "x", "", "1.5"):
            r = self.api.get(t.url("identities?limit=" + limit))
            self.assertRefused(r, 400, "invalid_parameter")
        self.assertEqual(len(t.get("identities?limit=1000")["items"]), 1)

    def test_cursor_of_another_order_or_list_is_400(self):
        t = self.tenant()
        for name in ("a", "b", "c"):
            t.person(name)
            t.group(name)
        by_name = t.get("identities?limit=1")["next_cursor"]
        by_created = t.get("identities?sort=created&limit=1")["next_cursor"]
        groups = t.get("groups?limit=1")["next_cursor"]
        for query in ("sort=created&cursor=" + by_name,
                      "sort=name&cursor=" + by_created,
                      "cursor=" + groups, "cursor=abc", "cursor=" + "A" * 900):
            with self.subTest(query=query[:40]):
                r = self.api.get(t.url("identities?" + query))
                self.assertRefused(r, 400, "invalid_request")
        r = self.api.get(t.url("groups?cursor=" + by_name))
        self.assertRefused(r, 400, "invalid_request")


# ---- groups --------------------------------------------------------------

class GroupTest(IdentityCase):

    def org_chart(self, t):
        """Root > Sales > EMEA and Root > Eng; alice in EMEA, bob in Eng;
        role groups all-staff > sales-team > emea-team with alice in
        emea-team, and readers holding the Sales org group."""
        c = {}
        c["root"] = t.unit("Root")
        c["sales"] = t.unit("Sales", c["root"])
        c["emea"] = t.unit("EMEA", c["sales"])
        c["eng"] = t.unit("Eng", c["root"])
        c["alice"] = t.person("alice", unit_id=c["emea"]["id"])
        c["bob"] = t.person("bob", unit_id=c["eng"]["id"])
        for name in ("all-staff", "sales-team", "emea-team", "readers",
                     "other"):
            c[name] = t.group(name)
        t.nest(c["all-staff"], c["sales-team"])
        t.nest(c["sales-team"], c["emea-team"])
        t.add(c["emea-team"], c["alice"])
        t.nest(c["readers"], c["sales"])
        t.add(c["other"], c["bob"])
        return c

    def test_group_cycle_is_409_naming_the_loop(self):
        t = self.tenant()
        a, b, c = t.group("a"), t.group("b"), t.group("c")
        t.nest(a, b)
        t.nest(b, c)
        alice = t.person("alice")
        t.add(c, alice)
        watched = [t.url("groups", g["id"], "members") for g in (a, b, c)]
        watched.append(t.url("identities", alice["id"], "groups"))
        with self.assertNothingWritten(*watched):
            for parent, child, loop in ((c, a, "c > a > b > c"),
                                        (b, a, "b > a > b"),
                                        (a, a, "a > a")):
                with self.subTest(loop=loop):
                    r = self.api.post(t.url("groups", parent["id"],
                                            "members"),
                                      {"type": "group", "id": child["id"]})
                    doc = self.assertRefused(r, 409, "conflict")
                    self.assertIn(loop, doc["detail"])

    def test_effective_groups_hold_nested_role_groups_and_org_groups_above(
            self):
        t = self.tenant()
        c = self.org_chart(t)
        self.assertEqual(t.effective_groups(c["alice"]), {
            "EMEA": 0, "Sales": 0, "Root": 0, "emea-team": 0,
            "sales-team": 1, "all-staff": 2, "readers": 1})
        self.assertEqual(t.effective_groups(c["bob"]), {
            "Eng": 0, "Root": 0, "other": 0})
        items = t.get("identities", c["alice"]["id"], "groups")["items"]
        self.assertEqual([g["name"] for g in items],
                         sorted(g["name"] for g in items))
        for g in items:
            if g["kind"] == "org":
                self.assertEqual(g["id"], g["unit_id"])
            else:
                self.assertEqual(g["kind"], "role")

    def test_moving_a_person_to_another_unit_changes_their_org_groups(self):
        t = self.tenant()
        c = self.org_chart(t)
        r = t.patch("identities", c["alice"]["id"],
                    body={"unit_id": c["eng"]["id"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(t.effective_groups(c["alice"]), {
            "Eng": 0, "Root": 0, "emea-team": 0, "sales-team": 1,
            "all-staff": 2})
        r = t.patch("identities", c["alice"]["id"], body={"unit_id": None})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json()["unit_id"])
        self.assertEqual(t.effective_groups(c["alice"]), {
            "emea-team": 0, "sales-team": 1, "all-staff": 2})
        with self.assertNothingWritten(t.url("identities")):
            r = t.patch("identities", c["alice"]["id"],
                        body={"unit_id": "AAAAAAAAAAAAAAAA"})
            self.assertRefused(r, 404, "not_found")

    def test_moving_a_unit_moves_the_effective_groups_of_its_people(self):
        t = self.tenant()
        c = self.org_chart(t)
        team = t.unit("Team X", c["emea"])
        carl = t.person("carl", unit_id=team["id"])
        eng_readers = t.group("eng-readers")
        t.nest(eng_readers, c["eng"])
        self.assertIn("readers", t.effective_groups(carl))

        r = t.patch("units", c["emea"]["id"],
                    body={"parent_id": c["eng"]["id"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(t.effective_groups(c["alice"]), {
            "EMEA": 0, "Eng": 0, "Root": 0, "emea-team": 0,
            "sales-team": 1, "all-staff": 2, "eng-readers": 1})
        self.assertEqual(t.effective_groups(carl), {
            "Team X": 0, "EMEA": 0, "Eng": 0, "Root": 0, "eng-readers": 1})
        members = self.pages(t.url("groups", c["sales"]["id"],
                                   "members?effective=true"), 10)
        self.assertEqual(members, [])
        members = self.pages(t.url("groups", c["eng"]["id"],
                                   "members?effective=true"), 10)
        self.assertEqual(sorted(m["name"] for m in members),
                         ["alice", "bob", "carl"])

    def test_direct_and_effective_members_page_without_gaps_or_repeats(self):
        t = self.tenant()
        g, h = t.group("g"), t.group("h")
        u = t.unit("U")
        v = t.unit("V", u)
        own = [t.person("i%d" % i) for i in range(5)]
        nested = [t.person("h%d" % i) for i in range(4)]
        in_u = [t.person("u%d" % i, unit_id=u["id"]) for i in range(2)]
        in_v = [t.person("v0", unit_id=v["id"])]
        for p in own:
            t.add(g, p)
        for p in nested + own[:1]:
            t.add(h, p)
        t.nest(g, h)
        t.nest(g, u)
        direct = [("group", x["id"]) for x in (h, u)]
        direct += [("identity", x["id"]) for x in own]
        everyone = sorted(x["id"] for x in own + nested + in_u + in_v)
        for limit in (1, 2, 5, 1000):
            with self.subTest(limit=limit):
                got = self.pages(t.url("groups", g["id"], "members"), limit)
                self.assertEqual([(m["type"], m["id"]) for m in got],
                                 sorted(direct))
                got = self.pages(t.url("groups", g["id"],
                                       "members?effective=true"), limit)
                self.assertEqual([m["id"] for m in got], everyone)
                self.assertEqual({m["type"] for m in got}, {"identity"})
        self.assertEqual(
            [m["id"] for m in self.pages(t.url("groups", u["id"],
                                               "members"), 1)],
            sorted(x["id"] for x in in_u))
        self.assertEqual(
            [m["id"] for m in self.pages(t.url("groups", u["id"],
                                               "members?effective=true"), 1)],
            sorted(x["id"] for x in in_u + in_v))
        r = self.api.get(t.url("groups", g["id"], "members?effective=yes"))
        self.assertRefused(r, 400, "invalid_parameter")

    def test_member_added_twice_is_409_and_removed_twice_is_404(self):
        t = self.tenant()
        g = t.group("g")
        alice = t.person("alice")
        members = t.url("groups", g["id"], "members")
        t.add(g, alice)
        with self.assertNothingWritten(members):
            r = self.api.post(members, {"type": "identity",
                                        "id": alice["id"]})
            self.assertRefused(r, 409, "conflict")
            for body in ({"type": "user", "id": alice["id"]},
                         {"type": "Identity", "id": alice["id"]}):
                self.assertRefused(self.api.post(members, body), 400,
                                   "invalid_request")
            for body in ({"type": "identity", "id": "AAAAAAAAAAAAAAAA"},
                         {"type": "group", "id": alice["id"]}):
                self.assertRefused(self.api.post(members, body), 404,
                                   "not_found")
            r = self.api.delete(t.url("groups", g["id"], "members", "user",
                                      alice["id"]))
            self.assertRefused(r, 400, "invalid_request")
        since = self.audit_count()
        one = t.url("groups", g["id"], "members", "identity", alice["id"])
        self.assertEqual(self.api.delete(one).status, 204)
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["group.member.remove"])
        with self.assertNothingWritten(members):
            self.assertRefused(self.api.delete(one), 404, "not_found")

    def test_removing_a_nested_group_keeps_the_paths_that_remain(self):
        t = self.tenant()
        a, b, c, d = (t.group(n) for n in "abcd")
        t.nest(a, b)
        t.nest(a, d)
        t.nest(b, c)
        t.nest(d, c)
        alice = t.person("alice")
        t.add(c, alice)
        self.assertEqual(t.effective_groups(alice),
                         {"c": 0, "b": 1, "d": 1, "a": 2})

        def cut(parent, child):
            r = self.api.delete(t.url("groups", parent["id"], "members",
                                      "group", child["id"]))
            self.assertEqual(r.status, 204, r)

        cut(a, b)
        self.assertEqual(t.effective_groups(alice),
                         {"c": 0, "b": 1, "d": 1, "a": 2})
        cut(a, d)
        self.assertEqual(t.effective_groups(alice), {"c": 0, "b": 1, "d": 1})
        self.assertEqual(self.pages(t.url("groups", a["id"],
                                          "members?effective=true"), 5), [])
        cut(b, c)
        self.assertEqual(t.effective_groups(alice), {"c": 0, "d": 1})

    def test_group_with_members_or_a_parent_cannot_be_deleted_409(self):
        t = self.tenant()
        full, inner, outer = t.group("full"), t.group("inner"), t.group("o")
        t.add(full, t.person("alice"))
        t.nest(outer, inner)
        u = t.unit("Sales")
        with self.assertNothingWritten(t.url("groups")):
            for g, why in ((full, "group has members"),
                           (inner, "member of another group"),
                           (outer, "group has members")):
                r = self.api.delete(t.url("groups", g["id"]))
                doc = self.assertRefused(r, 409, "conflict")
                self.assertIn(why, doc["detail"])
            r = self.api.delete(t.url("groups", u["id"]))
            self.assertRefused(r, 400, "invalid_request")
        since = self.audit_count()
        empty = t.group("empty")
        self.assertEqual(self.api.delete(t.url("groups", empty["id"]),
                                         headers={"If-Match": '"1"'}).status,
                         204)
        self.assertRefused(self.api.get(t.url("groups", empty["id"])), 404,
                           "not_found")
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["group.create", "group.delete"])

    def test_org_group_takes_no_stored_members_400(self):
        t = self.tenant()
        u = t.unit("Sales")
        g = t.group("g")
        alice = t.person("alice")
        with self.assertNothingWritten(t.url("groups", u["id"], "members")):
            for body in ({"type": "identity", "id": alice["id"]},
                         {"type": "group", "id": g["id"]}):
                r = self.api.post(t.url("groups", u["id"], "members"), body)
                self.assertRefused(r, 400, "invalid_request")

    def test_groups_nest_at_most_16_deep(self):
        t = self.tenant()
        chain = [t.group("g%02d" % i) for i in range(18)]
        for parent, child in zip(chain[:16], chain[1:17]):
            t.nest(parent, child)
        with self.assertNothingWritten(t.url("groups", chain[16]["id"],
                                             "members")):
            r = self.api.post(t.url("groups", chain[16]["id"], "members"),
                              {"type": "group", "id": chain[17]["id"]})
            self.assertRefused(r, 400, "invalid_request")
            r = self.api.post(t.url("groups", chain[17]["id"], "members"),
                              {"type": "group", "id": chain[0]["id"]})
            self.assertRefused(r, 400, "invalid_request")

    def test_role_group_name_taken_is_409_but_a_unit_may_share_it(self):
        t = self.tenant()
        t.group("ops", description="Operations")
        with self.assertNothingWritten(t.url("groups")):
            r = self.api.post(t.url("groups"), {"name": "ops"})
            self.assertRefused(r, 409, "conflict")
        t.unit("ops")
        t.unit("ops")
        self.tenant().group("ops")

    def test_group_list_pages_by_name_over_role_and_org_groups(self):
        t = self.tenant()
        names = ["b-role", "a-role", "z-role"]
        for name in names:
            t.group(name)
        for name in ("Sales", "Eng"):
            t.unit(name)
        got = self.pages(t.url("groups"), 2)
        self.assertEqual([g["name"] for g in got],
                         ["Eng", "Sales", "a-role", "b-role", "z-role"])
        self.assertEqual([g["kind"] for g in got],
                         ["org", "org", "role", "role", "role"])

    def test_group_list_pages_past_an_org_group_with_a_long_name(self):
        """Regression: unit names run to 200 bytes and name
        their org groups, but the group list decodes its cursor into a
        160-byte name buffer, so a page that ends on such a group hands
        out a cursor that the next request refuses with 400."""
        t = self.tenant()
        t.unit("L" * 200)
        t.group("after")
        got = self.pages(t.url("groups"), 1)
        self.assertEqual([g["name"] for g in got], ["L" * 200, "after"])


# ---- organization units --------------------------------------------------

class UnitTest(IdentityCase):

    def test_deleting_a_unit_that_is_not_empty_is_409(self):
        t = self.tenant()
        parent = t.unit("Parent")
        t.unit("Child", parent)
        staffed = t.unit("Staffed")
        t.person("alice", unit_id=staffed["id"])
        owner = t.unit("Owner")
        t.group("owned", unit_id=owner["id"])
        nested = t.unit("Nested")
        t.nest(t.group("holder"), nested)
        with self.assertNothingWritten(t.url("units"), t.url("groups")):
            for u, why in ((parent, "sub-unit"), (staffed, "member"),
                           (owner, "role group"),
                           (nested, "org group is a member")):
                with self.subTest(unit=u["name"]):
                    r = self.api.delete(t.url("units", u["id"]))
                    doc = self.assertRefused(r, 409, "conflict")
                    self.assertIn(why, doc["detail"])

    def test_empty_unit_is_deleted_with_its_org_group(self):
        t = self.tenant()
        u = t.unit("Sales")
        alice = t.person("alice", unit_id=u["id"])
        t.patch("identities", alice["id"], body={"unit_id": None})
        since = self.audit_count()
        r = self.api.delete(t.url("units", u["id"]),
                            headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 204, r)
        self.assertRefused(self.api.get(t.url("units", u["id"])), 404,
                           "not_found")
        self.assertRefused(self.api.get(t.url("groups", u["id"])), 404,
                           "not_found")
        self.assertEqual(sorted(a["action"] for a in self.new_audit(since)),
                         ["group.delete", "org.delete"])

    def test_moving_a_unit_into_its_own_subtree_is_409(self):
        t = self.tenant()
        a = t.unit("A")
        b = t.unit("B", a)
        c = t.unit("C", b)
        with self.assertNothingWritten(t.url("units"),
                                       t.url("units?parent=" + a["id"])):
            for target in (a, b, c):
                with self.subTest(into=target["name"]):
                    r = t.patch("units", a["id"],
                                body={"parent_id": target["id"]})
                    self.assertIn(r.status, (400, 409), r)
                    self.assertRefused(r, 409, "conflict")
            r = t.patch("units", b["id"], body={"parent_id": c["id"]})
            self.assertRefused(r, 409, "conflict")

    def test_moving_a_unit_rewrites_the_path_of_every_unit_below(self):
        t = self.tenant()
        r1, r2 = t.unit("R1"), t.unit("R2")
        a = t.unit("A", r1)
        b = t.unit("B", a)
        c = t.unit("C", b)
        since = self.audit_count()
        r = t.patch("units", a["id"], body={"parent_id": r2["id"]},
                    headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["parent_id"], r2["id"])
        self.assertEqual(r.header("ETag"), '"2"')
        want = "/%s/%s/" % (r2["id"], a["id"])
        self.assertEqual(t.get("units", a["id"])["path"], want)
        self.assertEqual(t.get("units", b["id"])["path"],
                         want + b["id"] + "/")
        self.assertEqual(t.get("units", c["id"])["path"],
                         want + b["id"] + "/" + c["id"] + "/")
        self.assertEqual(t.get("units", c["id"])["version"], 1)
        r = t.patch("units", a["id"], body={"parent_id": None})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json()["parent_id"])
        self.assertEqual(t.get("units", c["id"])["path"],
                         "/%s/%s/%s/" % (a["id"], b["id"], c["id"]))
        self.assertEqual([x["action"] for x in self.new_audit(since)],
                         ["org.move", "org.move"])
        self.assertEqual(sorted(u["name"] for u in t.get("units")["items"]),
                         ["A", "R1", "R2"])

    def test_moving_a_unit_where_it_already_is_writes_nothing(self):
        t = self.tenant()
        a = t.unit("A")
        b = t.unit("B", a)
        with self.assertNothingWritten(t.url("units")):
            for unit, parent in ((b, a["id"]), (a, None)):
                r = t.patch("units", unit["id"], body={"parent_id": parent})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["version"], 1)

    def test_unit_list_shows_top_units_or_the_children_of_parent(self):
        t = self.tenant()
        top = t.unit("Top")
        t.unit("Other top")
        kids = [t.unit(n, top) for n in ("b", "a", "c")]
        t.unit("grandchild", kids[0])
        self.assertEqual([u["name"] for u in t.get("units")["items"]],
                         ["Other top", "Top"])
        self.assertEqual(
            [u["name"] for u in t.get("units?parent=" + top["id"])["items"]],
            ["a", "b", "c"])
        r = self.api.get(t.url("units?parent=AAAAAAAAAAAAAAAA"))
        self.assertRefused(r, 404, "not_found")

    def test_unit_patch_takes_exactly_one_of_name_or_parent_id(self):
        t = self.tenant()
        a, b = t.unit("A"), t.unit("B")
        with self.assertNothingWritten(t.url("units")):
            for body in ({}, {"name": "X", "parent_id": b["id"]},
                         {"name": "X", "parent_id": None}):
                r = t.patch("units", a["id"], body=body)
                self.assertRefused(r, 400, "invalid_request")

    def test_unit_rename_renames_its_org_group(self):
        t = self.tenant()
        u = t.unit("Sales")
        since = self.audit_count()
        r = t.patch("units", u["id"], body={"name": "Sales & Marketing"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(t.get("groups", u["id"])["name"],
                         "Sales & Marketing")
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["org.rename", "group.update"])

    def test_unit_with_a_bad_name_or_unknown_parent_is_refused(self):
        t = self.tenant()
        with self.assertNothingWritten(t.url("units")):
            for name in ("", "a\tb", "line\nbreak", "x" * 201):
                r = self.api.post(t.url("units"), {"name": name})
                self.assertRefused(r, 400, "invalid_request")
            r = self.api.post(t.url("units"), {
                "name": "Child", "parent_id": "AAAAAAAAAAAAAAAA"})
            self.assertRefused(r, 404, "not_found")
        t.unit("x" * 200)

    def test_units_nest_at_most_32_deep(self):
        t = self.tenant()
        chain = [t.unit("L1")]
        for depth in range(2, 33):
            chain.append(t.unit("L%d" % depth, chain[-1]))
        x = t.unit("X")
        t.unit("Y", x)
        with self.assertNothingWritten(t.url("units")):
            r = self.api.post(t.url("units"), {"name": "L33",
                                               "parent_id": chain[-1]["id"]})
            self.assertRefused(r, 400, "invalid_request")
            r = t.patch("units", x["id"], body={"parent_id": chain[-2]["id"]})
            self.assertRefused(r, 400, "invalid_request")
        r = t.patch("units", x["id"], body={"parent_id": chain[-3]["id"]})
        self.assertEqual(r.status, 200, r)


# ---- SPIFFE IDs ----------------------------------------------------------

class SpiffeTest(IdentityCase):

    def test_lookup_by_spiffe_id_finds_the_identity(self):
        t = self.tenant()
        p = t.identity("service", "billing-api.v2")
        sid = "spiffe://ztiam.local/%s/service/billing-api.v2" % t.id
        self.assertEqual(p["spiffe_id"], sid)
        for url in (spiffe_query(sid),
                    "/v1/identities/by-spiffe-id?id=" + sid):
            r = self.api.get(url)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), p)
            self.assertEqual(r.header("ETag"), '"1"')

    def test_malformed_spiffe_ids_are_400(self):
        t = self.tenant()
        t.person("alice")
        good = "ztiam.local/%s/person/alice" % t.id
        bad = ["", "http://" + good, "SPIFFE://" + good, "spiffe:" + good,
               "spiffe://", "spiffe:///%s/person/alice" % t.id,
               "spiffe://" + good + "/", "spiffe://ztiam.local/%s//alice"
               % t.id, "spiffe://ztiam.local/%s/person/.." % t.id,
               "spiffe://ztiam.local/%s/person/." % t.id,
               "spiffe://Ztiam.local/%s/person/alice" % t.id,
               "spiffe://ztiam.local:8443/%s/person/alice" % t.id,
               "spiffe://user@ztiam.local/%s/person/alice" % t.id,
               "spiffe://" + good + "%20x", "spiffe://" + good + "?x=1",
               "spiffe://" + good + "#frag", "spiffe://" + good + " x",
               "spiffe://" + good + "/" + "a" * 2048,
               "spiffe://" + "d" * 256 + "/x"]
        for sid in bad:
            with self.subTest(sid=sid[:80]):
                r = self.api.get(spiffe_query(sid))
                self.assertRefused(r, 400, "invalid_request")

    def test_well_formed_spiffe_ids_that_name_no_identity_are_404(self):
        t = self.tenant()
        t.person("alice")
        for path in ("%s/person/bob", "%s/device/alice", "%s/robot/alice",
                     "%s/person/Alice", "%s/person", "%s/person/alice/x",
                     "no-such-tenant/person/alice", "", "%s"):
            sid = "spiffe://ztiam.local/" + (path % t.id if "%s" in path
                                             else path)
            sid = sid.rstrip("/")
            with self.subTest(sid=sid):
                r = self.api.get(spiffe_query(sid))
                self.assertRefused(r, 404, "not_found")
        r = self.api.get(spiffe_query("spiffe://example.org/%s/person/alice"
                                      % t.id))
        self.assertRefused(r, 404, "not_found")

    def test_lookup_without_an_id_is_400_invalid_parameter(self):
        r = self.api.get("/v1/identities/by-spiffe-id")
        self.assertRefused(r, 400, "invalid_parameter")


class TrustDomainTest(IdentityCase):

    server_args = ("--trust-domain", "corp.example")

    def test_spiffe_ids_use_the_configured_trust_domain(self):
        t = self.tenant()
        p = t.person("alice")
        sid = "spiffe://corp.example/%s/person/alice" % t.id
        self.assertEqual(p["spiffe_id"], sid)
        r = self.api.get(spiffe_query(sid))
        self.assertEqual(r.json()["id"], p["id"])
        r = self.api.get(spiffe_query(sid.replace("corp.example",
                                                  "ztiam.local")))
        self.assertRefused(r, 404, "not_found")

    def test_trust_domain_is_read_from_the_environment(self):
        ws = Workspace()
        self.addCleanup(ws.close)
        server = Server(ws, env={"ZTIAM_TRUST_DOMAIN": "env.example"})
        self.addCleanup(server.kill)
        server.start()
        api = server.client()
        api.ensure_tenant("acme")
        r = api.post("/v1/tenants/acme/identities",
                     {"kind": "device", "name": "d1"})
        self.assertEqual(r.json()["spiffe_id"],
                         "spiffe://env.example/acme/device/d1")
        self.assertStops(server)

    def test_server_refuses_to_start_with_a_bad_trust_domain(self):
        for td in ("Corp.Example", "corp.example:8443", "corp/example",
                   "a@b", "x" * 256):
            with self.subTest(td=td[:40]):
                out = subprocess.run(
                    [ztiam_bin(), "serve", "--listen",
                     "127.0.0.1:%d" % free_port(), "--trust-domain", td,
                     "--data", os.path.join(self.ws.dir, "unused")],
                    capture_output=True, text=True, timeout=30,
                    cwd=self.ws.dir)
                self.assertNotEqual(out.returncode, 0)
                self.assertIn("trust", out.stderr)


# ---- tenant isolation ----------------------------------------------------

class IsolationTest(IdentityCase):

    def two_tenants(self):
        a, b = self.tenant(), self.tenant()
        objs = {"person": b.person("bob")}
        objs["system"] = b.system()
        objs["account"] = b.account(objs["person"], objs["system"], "bob")
        objs["unit"] = b.unit("Sales")
        objs["group"] = b.group("admins")
        b.add(objs["group"], objs["person"])
        return a, b, objs, self.token_client(a)

    def test_tenant_token_gets_404_never_403_for_another_tenants_objects(
            self):
        a, b, o, client = self.two_tenants()
        mine = a.person("alice")
        my_group = a.group("mine")
        pid, gid, uid = o["person"]["id"], o["group"]["id"], o["unit"]["id"]
        sid, aid = o["system"]["id"], o["account"]["id"]
        requests = []
        # B's objects under B's path, then B's ids under A's own path.
        for tp in (b, a):
            requests += [
                ("GET", tp.url("identities", pid), None),
                ("PATCH", tp.url("identities", pid), {"state": "active"}),
                ("DELETE", tp.url("identities", pid), None),
                ("GET", tp.url("identities", pid, "groups"), None),
                ("GET", tp.url("identities", pid, "accounts"), None),
                ("GET", tp.url("accounts", aid), None),
                ("PATCH", tp.url("accounts", aid), {"state": "disabled"}),
                ("DELETE", tp.url("accounts", aid), None),
                ("GET", tp.url("groups", gid), None),
                ("DELETE", tp.url("groups", gid), None),
                ("GET", tp.url("groups", gid, "members"), None),
                ("POST", tp.url("groups", gid, "members"),
                 {"type": "identity", "id": mine["id"]}),
                ("DELETE", tp.url("groups", gid, "members", "identity",
                                  pid), None),
                ("GET", tp.url("units", uid), None),
                ("PATCH", tp.url("units", uid), {"name": "x"}),
                ("DELETE", tp.url("units", uid), None),
                ("GET", tp.url("units?parent=" + uid), None),
                ("GET", tp.url("account-systems", sid), None),
                ("PATCH", tp.url("account-systems", sid),
                 {"mfa_required": True}),
                ("DELETE", tp.url("account-systems", sid), None),
                ("GET", tp.url("account-systems", sid, "logins", "bob"),
                 None),
                ("POST", tp.url("accounts"), {
                    "identity_id": pid, "system_id": sid,
                    "login_name": "x"}),
            ]
        requests += [
            ("GET", b.path, None),
            ("PATCH", b.path, {"display_name": "x"}),
            ("GET", b.url("identities"), None),
            ("POST", b.url("identities"), {"kind": "person", "name": "x"}),
            ("GET", b.url("groups"), None),
            ("POST", b.url("groups"), {"name": "x"}),
            ("GET", b.url("units"), None),
            ("POST", b.url("units"), {"name": "x"}),
            ("GET", b.url("account-systems"), None),
            ("POST", b.url("account-systems"),
             {"name": "x", "kind": "partner"}),
            ("GET", spiffe_query(o["person"]["spiffe_id"]), None),
            ("POST", a.url("groups", my_group["id"], "members"),
             {"type": "identity", "id": pid}),
            ("POST", a.url("groups", my_group["id"], "members"),
             {"type": "group", "id": gid}),
            ("POST", a.url("identities"),
             {"kind": "person", "name": "x", "unit_id": uid}),
            ("POST", a.url("groups"), {"name": "x", "unit_id": uid}),
            ("POST", a.url("units"), {"name": "x", "parent_id": uid}),
            ("POST", a.url("accounts"), {
                "identity_id": mine["id"], "system_id": sid,
                "login_name": "x"}),
            ("POST", "/v1/tokens", {"name": "x", "tenant": b.id}),
            ("POST", "/v1/tokens", {"name": "x", "tenant": a.id,
                                    "unit_id": uid}),
        ]
        with self.assertNothingWritten(b.url("identities"), b.url("groups"),
                                       a.url("identities")):
            for method, path, body in requests:
                with self.subTest(method=method, path=path, body=body):
                    r = client.request(method, path, body=body)
                    self.assertRefused(r, 404, "not_found")
            r = self.ndjson(b, ['{"kind": "person", "name": "x"}'],
                            client=client)
            self.assertRefused(r, 404, "not_found")

    def test_tenant_token_gets_404_deleting_another_tenant(self):
        """Reported: DELETE /v1/tenants/{other} answers a tenant token 403
        (it refuses every tenant token before looking), where every other
        route answers 404 for another tenant.  Nothing leaks, since an
        absent tenant gets 403 as well, but the rule of the API is 404."""
        a, b, o, client = self.two_tenants()
        r = client.delete(b.path)
        self.assertRefused(r, 404, "not_found")

    def test_tenant_token_lists_only_its_own_tenant(self):
        a, b, o, client = self.two_tenants()
        a.person("alice")
        got = client.get("/v1/tenants").json()["items"]
        self.assertEqual([x["id"] for x in got], [a.id])
        self.assertEqual([x["name"] for x in
                          a.get("identities", client=client)["items"]],
                         ["alice"])
        self.assertEqual(a.get("groups", client=client)["items"], [])
        self.assertEqual(a.get("units", client=client)["items"], [])
        self.assertEqual(a.get("account-systems", client=client)["items"],
                         [])
        audit = client.audit_items()
        self.assertTrue(audit)
        self.assertEqual({x["tenant"] for x in audit}, {a.id})

    def test_tenant_token_works_throughout_its_own_tenant(self):
        a = self.tenant()
        client = self.token_client(a)
        mine = Tenant(self, a.id, client)
        s = mine.system()
        u = mine.unit("Sales")
        p = mine.person("alice", unit_id=u["id"])
        mine.account(p, s, "alice")
        g = mine.group("admins")
        mine.add(g, p)
        self.assertEqual(mine.effective_groups(p), {"Sales": 0, "admins": 0})
        r = client.get(spiffe_query(p["spiffe_id"]))
        self.assertEqual(r.status, 200, r)
        r = self.ndjson(mine, ['{"kind": "api", "name": "orders"}'],
                        client=client)
        self.assertEqual(r.json()["ok"], 1, r)


# ---- deletion ------------------------------------------------------------

class DeletionTest(IdentityCase):

    def test_identity_delete_removes_its_accounts_memberships_attributes(
            self):
        t = self.tenant()
        s = t.system()
        g = t.group("g")
        alice = t.person("alice", attributes={"dept": "sales"})
        acct = t.account(alice, s, "Alice")
        t.add(g, alice)
        since = self.audit_count()
        with self.assertNothingWritten(t.url("identities")):
            r = self.api.delete(t.url("identities", alice["id"]),
                                headers={"If-Match": '"2"'})
            self.assertRefused(r, 412, "precondition_failed")
        r = self.api.delete(t.url("identities", alice["id"]),
                            headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 204, r)
        for path in (t.url("identities", alice["id"]),
                     t.url("accounts", acct["id"]),
                     t.url("account-systems", s["id"], "logins", "alice"),
                     spiffe_query(alice["spiffe_id"])):
            self.assertRefused(self.api.get(path), 404, "not_found")
        self.assertEqual(t.get("groups", g["id"], "members")["items"], [])
        self.assertEqual(t.get("identities?attr.dept=sales")["items"], [])
        records = self.new_audit(since)
        self.assertEqual([a["action"] for a in records], ["identity.delete"])
        gone = records[0]["summary"]["before"]
        self.assertEqual(gone["name"], "alice")
        self.assertEqual([a["id"] for a in gone["accounts"]], [acct["id"]])
        self.assertNotIn("after", records[0]["summary"])
        self.assertEqual(self.ws.audit_verify().returncode, 0)
        again = t.person("alice")
        t.account(again, s, "ALICE")
        self.assertNotEqual(again["id"], alice["id"])

    def test_unit_token_deletes_identities_only_in_its_subtree(self):
        t = self.tenant()
        sales, eng = t.unit("Sales"), t.unit("Eng")
        alice = t.person("alice", unit_id=sales["id"])
        bob = t.person("bob", unit_id=eng["id"])
        client = self.token_client(t, sales)
        with self.assertNothingWritten(t.url("identities")):
            r = client.delete(t.url("identities", bob["id"]))
            self.assertRefused(r, 404, "not_found")
        self.assertEqual(client.delete(t.url("identities",
                                             alice["id"])).status, 204)

    def test_account_system_that_holds_accounts_cannot_be_deleted_409(self):
        t = self.tenant()
        used, empty = t.system("used"), t.system("empty", "partner")
        t.account(t.person("alice"), used, "alice")
        with self.assertNothingWritten(t.url("account-systems")):
            r = self.api.delete(t.url("account-systems", used["id"]))
            self.assertRefused(r, 409, "conflict")
            r = self.api.delete(t.url("account-systems", empty["id"]),
                                headers={"If-Match": '"2"'})
            self.assertRefused(r, 412, "precondition_failed")
        since = self.audit_count()
        r = self.api.delete(t.url("account-systems", empty["id"]),
                            headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 204, r)
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["acctsys.delete"])
        self.assertEqual([x["name"] for x in
                          t.get("account-systems")["items"]], ["used"])

    def test_tenant_that_is_not_empty_cannot_be_deleted_409(self):
        for make, why in ((lambda t: t.person("alice"), "identities"),
                          (lambda t: t.unit("Sales"), "units"),
                          (lambda t: t.group("g"), "groups"),
                          (lambda t: t.system(), "account systems")):
            t = self.tenant()
            make(t)
            with self.subTest(holding=why):
                with self.assertNothingWritten("/v1/tenants"):
                    r = self.api.delete(t.path)
                    doc = self.assertRefused(r, 409, "conflict")
                    self.assertIn(why, doc["detail"])

    def test_empty_tenant_is_deleted_by_a_system_token_only(self):
        t = self.tenant()
        client = self.token_client(t)
        with self.assertNothingWritten("/v1/tenants"):
            self.assertRefused(client.delete(t.path), 403, "forbidden")
            r = self.api.delete(t.path, headers={"If-Match": '"2"'})
            self.assertRefused(r, 412, "precondition_failed")
        since = self.audit_count()
        self.assertEqual(self.api.delete(t.path).status, 204)
        self.assertRefused(self.api.get(t.path), 404, "not_found")
        # The tenant's tokens are revoked with it, in a record of their own.
        self.assertEqual([a["action"] for a in self.new_audit(since)],
                         ["tenant.delete", "token.revoke_tenant"])
        self.assertRefused(self.api.delete(t.path), 404, "not_found")

    def test_tokens_of_a_deleted_tenant_do_not_open_its_successor(self):
        """Regression: deleting a tenant left its tokens
        valid, so once a tenant of the same id is made again, the old
        tenant's tokens have full access to the new one."""
        t = self.tenant()
        old = self.token_client(t)
        self.assertEqual(self.api.delete(t.path).status, 204)
        self.assertEqual(self.api.post("/v1/tenants", {"id": t.id}).status,
                         201)
        r = old.post(t.url("identities"), {"kind": "person", "name": "x"})
        self.assertIn(r.status, (401, 404), r)


# ---- delegated unit-scoped tokens ----------------------------------------

class DelegatedTokenTest(IdentityCase):
    """A token scoped to the Sales unit of Root > {Sales > EMEA, Eng}:
    alice is in EMEA, sam in Sales, bob in Eng and nobody in no unit."""

    def setUp(self):
        t = self.t = self.tenant()
        self.root = t.unit("Root")
        self.sales = t.unit("Sales", self.root)
        self.emea = t.unit("EMEA", self.sales)
        self.eng = t.unit("Eng", self.root)
        self.alice = t.person("alice", unit_id=self.emea["id"])
        self.sam = t.person("sam", unit_id=self.sales["id"])
        self.bob = t.person("bob", unit_id=self.eng["id"])
        self.nobody = t.person("nobody")
        self.staff = t.system()
        self.bob_acct = t.account(self.bob, self.staff, "bob")
        self.alice_acct = t.account(self.alice, self.staff, "alice")
        self.everyone = t.group("everyone")
        self.sales_team = t.group("sales-team", unit_id=self.sales["id"])
        t.add(self.everyone, self.bob)
        self.unit_api = self.token_client(t, self.sales)
        self.u = Tenant(self, t.id, self.unit_api)

    def test_unit_token_lists_only_identities_of_its_subtree(self):
        got = self.pages(self.t.url("identities"), 1, client=self.unit_api)
        self.assertEqual([x["name"] for x in got], ["alice", "sam"])
        got = self.u.get("identities?kind=person&name_prefix=b")["items"]
        self.assertEqual(got, [])

    def test_unit_token_gets_404_for_everything_outside_its_subtree(self):
        t, bob = self.t, self.bob
        requests = [
            ("GET", t.url("identities", bob["id"]), None),
            ("PATCH", t.url("identities", bob["id"]), {"state": "active"}),
            ("PATCH", t.url("identities", self.nobody["id"]),
             {"attributes": {"a": 1}}),
            ("GET", t.url("identities", bob["id"], "groups"), None),
            ("GET", t.url("identities", bob["id"], "accounts"), None),
            ("GET", t.url("accounts", self.bob_acct["id"]), None),
            ("PATCH", t.url("accounts", self.bob_acct["id"]),
             {"state": "disabled"}),
            ("DELETE", t.url("accounts", self.bob_acct["id"]), None),
            ("POST", t.url("accounts"), {
                "identity_id": bob["id"], "system_id": self.staff["id"],
                "login_name": "bob2"}),
            ("GET", t.url("account-systems", self.staff["id"], "logins",
                          "bob"), None),
            ("GET", spiffe_query(bob["spiffe_id"]), None),
            ("GET", spiffe_query(self.nobody["spiffe_id"]), None),
            ("GET", t.url("units", self.eng["id"]), None),
            ("GET", t.url("units", self.root["id"]), None),
            ("GET", t.url("units?parent=" + self.root["id"]), None),
            ("PATCH", t.url("units", self.eng["id"]), {"name": "x"}),
            ("DELETE", t.url("units", self.eng["id"]), None),
            ("GET", t.url("groups", self.everyone["id"]), None),
            ("GET", t.url("groups", self.eng["id"]), None),
            ("GET", t.url("groups", self.everyone["id"], "members"), None),
            ("DELETE", t.url("groups", self.everyone["id"]), None),
            ("POST", t.url("groups", self.sales_team["id"], "members"),
             {"type": "identity", "id": bob["id"]}),
            ("POST", t.url("groups", self.sales_team["id"], "members"),
             {"type": "group", "id": self.everyone["id"]}),
            ("POST", t.url("identities"),
             {"kind": "person", "name": "x", "unit_id": self.eng["id"]}),
            ("POST", t.url("groups"),
             {"name": "x", "unit_id": self.eng["id"]}),
            ("POST", t.url("units"),
             {"name": "x", "parent_id": self.eng["id"]}),
            ("PATCH", t.url("identities", self.alice["id"]),
             {"unit_id": self.eng["id"]}),
            ("PATCH", t.url("units", self.emea["id"]),
             {"parent_id": self.eng["id"]}),
            ("POST", "/v1/tokens", {"name": "x", "tenant": t.id,
                                    "unit_id": self.root["id"]}),
        ]
        with self.assertNothingWritten(t.url("identities"), t.url("groups"),
                                       t.url("units")):
            for method, path, body in requests:
                with self.subTest(method=method, path=path, body=body):
                    r = self.unit_api.request(method, path, body=body)
                    self.assertRefused(r, 404, "not_found")

    def test_unit_token_changes_identities_inside_its_subtree(self):
        u = self.u
        r = u.patch("identities", self.alice["id"], body={"state": "active"})
        self.assertEqual(r.status, 200, r)
        r = u.patch("identities", self.alice["id"],
                    body={"unit_id": self.sales["id"]})
        self.assertEqual(r.status, 200, r)
        r = u.patch("identities", self.sam["id"],
                    body={"attributes": {"desk": "3F"}})
        self.assertEqual(r.status, 200, r)
        carol = u.person("carol", unit_id=self.emea["id"])
        u.account(carol, self.staff, "carol")
        u.add(self.sales_team, carol)
        team = u.unit("Team", self.emea)
        local = u.group("local", unit_id=team["id"])
        u.add(local, self.alice)
        groups = u.effective_groups(self.alice)
        self.assertEqual(groups["Sales"], 0)
        self.assertEqual(groups["local"], 0)
        self.assertNotIn("EMEA", groups)
        self.assertEqual(u.get("account-systems", self.staff["id"],
                               "logins", "ALICE")["id"], self.alice["id"])
        r = self.unit_api.get(spiffe_query(self.alice["spiffe_id"]))
        self.assertEqual(r.status, 200, r)
        r = self.ndjson(u, ['{"kind": "device", "name": "laptop1",'
                            ' "unit_id": "%s"}' % self.emea["id"],
                            '{"kind": "device", "name": "laptop2",'
                            ' "unit_id": "%s"}' % self.eng["id"]],
                        client=self.unit_api)
        self.assertEqual([x["status"] for x in r.json()["results"]],
                         ["ok", "error"])

    def test_unit_token_must_place_new_objects_inside_its_subtree(self):
        t = self.t
        with self.assertNothingWritten(t.url("identities"), t.url("groups"),
                                       t.url("units")):
            for path, body in (
                    (t.url("identities"), {"kind": "person", "name": "x"}),
                    (t.url("groups"), {"name": "x"}),
                    (t.url("units"), {"name": "x"})):
                r = self.unit_api.post(path, body)
                self.assertRefused(r, 400, "invalid_request")
            r = self.u.patch("identities", self.alice["id"],
                             body={"unit_id": None})
            self.assertRefused(r, 400, "invalid_request")
            r = self.u.patch("units", self.emea["id"],
                             body={"parent_id": None})
            self.assertRefused(r, 400, "invalid_request")

    def test_unit_token_sees_account_systems_but_gets_403_creating_one(self):
        got = self.u.get("account-systems")["items"]
        self.assertEqual([s["id"] for s in got], [self.staff["id"]])
        self.assertEqual(self.u.get("account-systems", self.staff["id"])
                         ["name"], "staff")
        with self.assertNothingWritten(self.t.url("account-systems")):
            r = self.unit_api.post(self.t.url("account-systems"),
                                   {"name": "x", "kind": "partner"})
            self.assertRefused(r, 403, "forbidden")

    def test_unit_token_gets_403_changing_an_account_system(self):
        path = self.t.url("account-systems", self.staff["id"])
        with self.assertNothingWritten(self.t.url("account-systems")):
            r = self.unit_api.patch(path, {"mfa_required": True})
            self.assertRefused(r, 403, "forbidden")
            r = self.unit_api.delete(path)
            self.assertRefused(r, 403, "forbidden")

    def test_unit_token_gets_403_changing_the_tenant_or_its_top_unit(self):
        t = self.t
        with self.assertNothingWritten(t.url("units"), "/v1/tenants"):
            for method, path, body in (
                    ("PATCH", t.path, {"display_name": "x"}),
                    ("PATCH", t.url("units", self.sales["id"]),
                     {"parent_id": self.eng["id"]}),
                    ("PATCH", t.url("units", self.sales["id"]),
                     {"parent_id": self.emea["id"]}),
                    ("DELETE", t.url("units", self.sales["id"]), None),
                    ("POST", "/v1/tokens", {"name": "x", "tenant": t.id}),
                    ("POST", "/v1/tenants", {"id": "x"})):
                with self.subTest(method=method, path=path):
                    r = self.unit_api.request(method, path, body=body)
                    self.assertRefused(r, 403, "forbidden")
        r = self.u.patch("units", self.sales["id"], body={"name": "Sales+"})
        self.assertEqual(r.status, 200, r)

    def test_unit_token_sees_the_groups_and_units_of_its_subtree(self):
        got = self.pages(self.t.url("groups"), 2, client=self.unit_api)
        self.assertEqual([g["name"] for g in got],
                         ["EMEA", "Sales", "sales-team"])
        self.assertEqual([u["name"] for u in self.u.get("units")["items"]],
                         ["Sales"])
        self.assertEqual([u["name"] for u in self.u.get(
            "units?parent=" + self.sales["id"])["items"]], ["EMEA"])

    def test_unit_token_mints_unit_tokens_only_inside_its_subtree(self):
        emea_api = self.token_client(self.t, self.emea, client=self.unit_api)
        got = self.t.get("identities", client=emea_api)["items"]
        self.assertEqual([x["name"] for x in got], ["alice"])
        r = emea_api.get(self.t.url("identities", self.sam["id"]))
        self.assertRefused(r, 404, "not_found")

    def test_unit_token_stops_working_in_a_unit_that_is_gone(self):
        t = self.t
        gone = t.unit("Gone")
        client = self.token_client(t, gone)
        self.assertEqual(client.get(t.url("identities")).status, 200)
        self.assertEqual(self.api.delete(t.url("units", gone["id"])).status,
                         204)
        r = client.get(t.url("identities"))
        self.assertRefused(r, 404, "not_found")

    def test_unit_token_reads_no_audit_record_outside_its_subtree(self):
        """Regression: /v1/audit filtered by tenant only, so a
        unit token reads the whole tenant's trail, including the full
        documents of identities, accounts and units outside its subtree
        that every other route answers 404 for."""
        targets = {a["target"] for a in self.unit_api.audit_items()}
        self.assertNotIn("identity:" + self.bob["id"], targets)
        self.assertNotIn("account:" + self.bob_acct["id"], targets)
        self.assertNotIn("unit:" + self.eng["id"], targets)


if __name__ == "__main__":
    main()
