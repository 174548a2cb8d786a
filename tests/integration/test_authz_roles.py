#!/usr/bin/env python3
"""
End-to-end tests of roles per application and the enumeration questions
of `ztiam serve`: roles and their permissions
(/v1/tenants/{t}/apps/{a}/roles), grants to identities and groups
(.../roles/{r}/grants), the Role parents a decision gets from them,
validation that refuses a bad permission with nothing stored, the audit
records, POST /v1/authorize/actions and /v1/authorize/principals, and the
CLI (`ztiam role ...`, `ztiam authorize actions|principals`).

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_authz_roles.py
With ZTIAM_TEST_DB=postgres://... the server uses PostgreSQL.
"""
import itertools
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase, main  # noqa: E402

SCHEMA = {"": {
    "entityTypes": {
        "User": {"memberOfTypes": ["Group", "Role"], "shape": {
            "type": "Record", "attributes": {
                "clearance": {"type": "Long", "required": False}}}},
        "Group": {}, "Role": {}, "Application": {},
        "Resource": {"memberOfTypes": ["Resource", "Application"]}},
    "actions": {
        "read": {},
        "getArticle": {"memberOf": [{"id": "read"}], "appliesTo": {
            "principalTypes": ["User"], "resourceTypes": ["Resource"],
            "context": {"type": "Record", "attributes": {
                "trustScore": {"type": "Long", "required": False}}}}},
        "listArticles": {"memberOf": [{"id": "read"}], "appliesTo": {
            "principalTypes": ["User"], "resourceTypes": ["Resource"],
            "context": {"type": "Record", "attributes": {
                "trustScore": {"type": "Long", "required": False}}}}},
        "putArticle": {"appliesTo": {
            "principalTypes": ["User"], "resourceTypes": ["Resource"],
            "context": {"type": "Record", "attributes": {
                "trustScore": {"type": "Long", "required": False}}}}}}}}

# The author's own policies: nothing allowed but through roles.
POLICIES = '@id("nobody") forbid(principal, action, resource) ' \
           'when { principal has clearance && principal.clearance < 0 };'

READER = [{"actions": ["read"], "resource_prefix": "articles"}]
WRITER = [{"actions": ["putArticle"], "resource_prefix": "articles:drafts",
           "when": "context has trustScore && context.trustScore >= 50"}]


class RoleCase(ServerTestCase):

    _serial = itertools.count(1)

    def setUp(self):
        n = next(RoleCase._serial)
        self.tid = "rb%d" % n
        self.appid = "roles%d" % n
        r = self.api.post("/v1/tenants", {"id": self.tid})
        self.assertEqual(r.status, 201, r)
        self.ann = self.make("identities", {"kind": "person", "name": "ann",
                                            "state": "active"})
        self.bob = self.make("identities", {"kind": "person", "name": "bob",
                                            "state": "active"})
        self.make("apps", {"appid": self.appid})
        r = self.put("schema", json.dumps(SCHEMA), "application/json")
        self.assertEqual(r.status, 200, r)
        r = self.put("policies", POLICIES, "application/cedar")
        self.assertEqual(r.status, 200, r)

    def url(self, *parts):
        return "/".join(("/v1/tenants", self.tid) + parts)

    def roles(self, *parts):
        return self.url("apps", self.appid, "roles", *parts)

    def make(self, what, body):
        r = self.api.post(self.url(what), body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def put(self, what, text, ctype):
        return self.api.request("PUT", self.url("apps", self.appid, what),
                                body=text, content_type=ctype)

    def role(self, name, perms):
        r = self.api.post(self.roles(), {"role": name,
                                         "permissions": perms})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def grant(self, role, **who):
        r = self.api.post(self.roles(role, "grants"), who)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def decide(self, user, action="getArticle",
               resource="articles:2024:a1", context=None):
        req = {"appid": self.appid, "user": user, "action": action,
               "resource": resource}
        if context is not None:
            req["context"] = context
        r = self.api.post("/v1/authorize", req)
        self.assertEqual(r.status, 200, r)
        return r.json()


class RoleTest(RoleCase):

    def test_granted_role_allows_revoked_denies(self):
        self.assertEqual(self.decide("ann")["decision"], "deny")
        doc = self.role("reader", READER)
        self.assertEqual(doc["role"], "reader")
        self.assertEqual(self.decide("ann")["decision"], "deny")
        g = self.grant("reader", identity=self.ann["id"])
        self.assertEqual(g["identity"], self.ann["id"])
        a = self.decide("ann")
        self.assertEqual(a["decision"], "allow", a)
        self.assertEqual(a["determining"], ["roles:role:reader:0"])
        self.assertEqual(a["revisions"]["app"], doc["revision"])
        # An action group covers its members; other resources do not.
        self.assertEqual(self.decide("ann", "listArticles")["decision"],
                         "allow")
        self.assertEqual(self.decide("ann", resource="photos:p1")
                         ["decision"], "deny")
        self.assertEqual(self.decide("ann", "putArticle")["decision"],
                         "deny")
        self.assertEqual(self.decide("bob")["decision"], "deny")
        r = self.api.get(self.roles("reader", "grants"))
        self.assertEqual([x["id"] for x in r.json()["items"]], [g["id"]])
        r = self.api.delete(self.roles("reader", "grants", g["id"]))
        self.assertEqual(r.status, 204, r)
        a = self.decide("ann")
        self.assertEqual(a["decision"], "deny", a)
        r = self.api.delete(self.roles("reader", "grants", g["id"]))
        self.assertProblem(r, 404, ["not_found"])

    def test_group_grant_reaches_nested_members(self):
        outer = self.make("groups", {"name": "staff"})
        inner = self.make("groups", {"name": "editors"})
        for group, typ, member in ((outer["id"], "group", inner["id"]),
                                   (inner["id"], "identity",
                                    self.bob["id"])):
            r = self.api.post(self.url("groups", group, "members"),
                              {"type": typ, "id": member})
            self.assertEqual(r.status, 204, r)
        self.role("writer", WRITER)
        self.grant("writer", group=outer["id"])
        ctx = {"trustScore": 80}
        a = self.decide("bob", "putArticle", "articles:drafts:d1", ctx)
        self.assertEqual(a["decision"], "allow", a)
        self.assertEqual(a["determining"], ["roles:role:writer:0"])
        low = self.decide("bob", "putArticle", "articles:drafts:d1",
                          {"trustScore": 10})
        self.assertEqual(low["decision"], "deny")
        self.assertEqual(self.decide("bob", "putArticle",
                                     "articles:live:l1", ctx)["decision"],
                         "deny")
        self.assertEqual(self.decide("ann", "putArticle",
                                     "articles:drafts:d1", ctx)["decision"],
                         "deny")
        r = self.api.post(self.roles("writer", "grants"),
                          {"group": outer["id"]})
        self.assertProblem(r, 409, ["conflict", "exists"])

    def test_bad_permission_refused_nothing_stored(self):
        self.role("reader", READER)
        before = self.ws.fingerprint()
        rev = self.api.get(self.url("apps", self.appid)).json()["revision"]
        for perms, where in (
                ([{"actions": ["launchMissiles"]}], "role:bad:0"),
                ([{"actions": ["read"], "when": "principal.nosuch == 1"}],
                 "role:bad:0"),
                ([{"actions": ["read"]}, {"actions": ["read"], "when":
                  "context.trustScore > 1"}], "role:bad:1")):
            r = self.api.post(self.roles(), {"role": "bad",
                                             "permissions": perms})
            self.assertProblem(r, 400, ["invalid_policy"])
            self.assertIn(where, [e["policy"] for e in r.json()["errors"]],
                          r.json())
        for perms in ([{"actions": []}],
                      [{"actions": ["read"], "resource": "a::b"}],
                      [{"actions": ["read"], "resource": "a",
                        "resource_prefix": "a"}],
                      [{"actions": ["read"], "when":
                        "true }; permit(principal, action, resource) "
                        "when { true"}],
                      [{"actions": ["read"], "extra": 1}],
                      "read"):
            r = self.api.post(self.roles(), {"role": "bad",
                                             "permissions": perms})
            self.assertProblem(r, 400, ["invalid_request", "invalid_policy"])
        r = self.api.post(self.roles(), {"role": "no/slash",
                                         "permissions": READER})
        self.assertProblem(r, 400, ["invalid_request"])
        r = self.api.request("PATCH", self.roles("reader"), body={
            "permissions": [{"actions": ["nope"]}]})
        self.assertProblem(r, 400, ["invalid_policy"])
        self.assertEqual(self.ws.fingerprint(), before)
        self.assertEqual(self.api.get(self.url("apps", self.appid))
                         .json()["revision"], rev)
        # A schema change that drops what a role relies on is refused too.
        schema = json.loads(json.dumps(SCHEMA))
        del schema[""]["actions"]["read"]
        for a in ("getArticle", "listArticles"):
            del schema[""]["actions"][a]["memberOf"]
        r = self.put("schema", json.dumps(schema), "application/json")
        self.assertProblem(r, 400, ["invalid_policy"])
        self.assertEqual(self.ws.fingerprint(), before)

    def test_update_delete_and_audit(self):
        doc = self.role("reader", READER)
        g = self.grant("reader", identity=self.ann["id"])
        r = self.api.request("PATCH", self.roles("reader"), body={
            "permissions": WRITER}, headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.json()["revision"], doc["revision"])
        self.assertEqual(self.decide("ann")["decision"], "deny")
        a = self.decide("ann", "putArticle", "articles:drafts:x",
                        {"trustScore": 99})
        self.assertEqual(a["decision"], "allow", a)
        r = self.api.request("PATCH", self.roles("reader"), body={
            "description": "x"}, headers={"If-Match": '"1"'})
        self.assertProblem(r, 412, ["precondition_failed", "stale"])
        # A new description alone makes no new revision of the store.
        rev = self.api.get(self.url("apps", self.appid)).json()["revision"]
        r = self.api.request("PATCH", self.roles("reader"), body={
            "description": "readers"}, headers={"If-Match": '"2"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["description"], "readers")
        self.assertNotIn("revision", r.json())
        self.assertEqual(self.api.get(self.url("apps", self.appid))
                         .json()["revision"], rev)
        r = self.api.get(self.roles())
        self.assertEqual([x["role"] for x in r.json()["items"]],
                         ["reader"])
        g2 = self.grant("reader", identity=self.bob["id"])
        r = self.api.delete(self.roles("reader", "grants", g2["id"]))
        self.assertEqual(r.status, 204, r)
        r = self.api.delete(self.roles("reader"))
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.api.get(self.roles("reader")), 404,
                           ["not_found"])
        a = self.decide("ann", "putArticle", "articles:drafts:x",
                        {"trustScore": 99})
        self.assertEqual(a["decision"], "deny", a)
        r = self.api.get(self.url("apps", self.appid, "policies"))
        self.assertNotIn("role_policies", r.json())
        records = [x for x in self.api.audit_items()
                   if x.get("tenant") == self.tid]
        actions = [x["action"] for x in records]
        for want in ("role.create", "role.grant", "role.update",
                     "role.revoke", "role.delete"):
            self.assertIn(want, actions)
        # The role's grants that went with it are in its record.
        gone = [x for x in records if x["action"] == "role.delete"][0]
        self.assertIn(g["id"], json.dumps(gone))
        self.assertEqual(self.ws.audit_verify().returncode, 0)

    def test_grants_go_with_a_deleted_identity_or_group(self):
        """Deleting the holder revokes its grants in the same
        transaction, each audited as role.revoke by the deleter."""
        self.role("reader", READER)
        team = self.make("groups", {"name": "team"})
        g_ann = self.grant("reader", identity=self.ann["id"])
        g_bob = self.grant("reader", identity=self.bob["id"])
        g_team = self.grant("reader", group=team["id"])
        r = self.api.delete(self.url("identities", self.ann["id"]))
        self.assertEqual(r.status, 204, r)
        r = self.api.delete(self.url("groups", team["id"]))
        self.assertEqual(r.status, 204, r)
        left = self.api.get(self.roles("reader", "grants")).json()["items"]
        self.assertEqual([x["id"] for x in left], [g_bob["id"]])
        revoked = [x for x in self.api.audit_items()
                   if x.get("tenant") == self.tid and
                   x["action"] == "role.revoke"]
        self.assertEqual(len(revoked), 2, revoked)
        for g in (g_ann, g_team):
            self.assertEqual(len([x for x in revoked
                                  if g["id"] in x["target"]]), 1)
        self.assertEqual(self.decide("bob")["decision"], "allow")
        self.assertEqual(self.ws.audit_verify().returncode, 0)

    def test_errors(self):
        r = self.api.post(self.url("apps", "nosuchapp", "roles"),
                          {"role": "r", "permissions": READER})
        self.assertProblem(r, 404, ["not_found"])
        self.assertProblem(self.api.get(self.roles("nosuch")), 404,
                           ["not_found"])
        r = self.api.post(self.roles("nosuch", "grants"),
                          {"identity": self.ann["id"]})
        self.assertProblem(r, 404, ["not_found"])
        self.role("reader", READER)
        r = self.api.post(self.roles("reader", "grants"),
                          {"identity": "nosuchidentity"})
        self.assertProblem(r, 404, ["not_found"])
        r = self.api.post(self.roles("reader", "grants"),
                          {"identity": self.ann["id"], "group": "x"})
        self.assertProblem(r, 400, ["invalid_request"])
        r = self.api.post(self.roles(), {"role": "reader",
                                         "permissions": READER})
        self.assertProblem(r, 409, ["conflict", "exists"])
        # Another tenant's token sees neither the app nor its roles.
        self.api.ensure_tenant("rb-other")
        tok = self.api.create_token("rb-other", tenant="rb-other")["token"]
        self.assertProblem(self.api.get(self.roles(), token=tok), 404,
                           ["not_found"])
        r = self.api.post(self.roles("reader", "grants"),
                          {"identity": self.ann["id"]}, token=tok)
        self.assertProblem(r, 404, ["not_found"])
        r = self.api.post("/v1/authorize/actions", {
            "appid": self.appid, "user": "ann",
            "resource": "articles:1"}, token=tok)
        self.assertProblem(r, 404, ["unknown_app"])

    def test_schema_without_role_is_a_conflict(self):
        schema = json.loads(json.dumps(SCHEMA))
        schema[""]["entityTypes"]["User"]["memberOfTypes"] = ["Group"]
        r = self.put("schema", json.dumps(schema), "application/json")
        self.assertEqual(r.status, 200, r)
        before = self.ws.fingerprint()
        r = self.api.post(self.roles(), {"role": "reader",
                                         "permissions": READER})
        self.assertProblem(r, 409, ["conflict"])
        self.assertIn("memberOfTypes", r.json()["detail"])
        self.assertEqual(self.ws.fingerprint(), before)


class TwoNodesTest(RoleCase):

    def test_grant_on_one_node_reaches_the_other(self):
        """A second server on the same database sees a grant and its
        revocation through its poller, though it had the user cached."""
        other = Server(self.ws, args=("--decision-log", "off"))
        self.addCleanup(other.kill)
        other.start()
        api2 = other.client(token=self.ws.bootstrap_token())
        req = {"appid": self.appid, "user": "ann", "action": "getArticle",
               "resource": "articles:1"}

        def settles(want):
            deadline = time.monotonic() + 15
            while True:
                a = api2.post("/v1/authorize", req).json()
                if a["decision"] == want or time.monotonic() > deadline:
                    return a
                time.sleep(0.05)

        self.role("reader", READER)
        self.assertEqual(settles("deny")["decision"], "deny")
        g = self.grant("reader", identity=self.ann["id"])
        self.assertEqual(settles("allow")["decision"], "allow")
        r = self.api.delete(self.roles("reader", "grants", g["id"]))
        self.assertEqual(r.status, 204, r)
        self.assertEqual(settles("deny")["decision"], "deny")
        self.assertEqual(other.stop(), 0)


class EnumerationTest(RoleCase):

    def test_actions(self):
        self.role("reader", READER)
        self.grant("reader", identity=self.ann["id"])
        r = self.api.post("/v1/authorize/actions", {
            "appid": self.appid, "user": "ann",
            "resource": "articles:2024:a1"})
        self.assertEqual(r.status, 200, r)
        got = {x["action"]: x["determining"] for x in r.json()["actions"]}
        # "read" is a group with no appliesTo: no request fits it.
        self.assertEqual(sorted(got), ["getArticle", "listArticles"])
        self.assertEqual(got["getArticle"], ["roles:role:reader:0"])
        r = self.api.post("/v1/authorize/actions", {
            "appid": self.appid, "user": "bob", "resource": "articles:1"})
        self.assertEqual(r.json()["actions"], [])
        r = self.api.post("/v1/authorize/actions", {
            "appid": self.appid, "user": "nobody", "resource": "a"})
        self.assertEqual(r.json()["reason"], "unknown_user")
        r = self.api.post("/v1/authorize/actions", {
            "appid": self.appid, "user": "ann", "action": "read",
            "resource": "a"})
        self.assertProblem(r, 400, ["invalid_request"])

    def test_principals_paginated(self):
        self.role("reader", READER)
        self.grant("reader", identity=self.ann["id"])
        group = self.make("groups", {"name": "all"})
        names = ["p%02d" % i for i in range(5)]
        for n in names:
            ident = self.make("identities", {"kind": "person", "name": n,
                                             "state": "active"})
            r = self.api.post(self.url("groups", group["id"], "members"),
                              {"type": "identity", "id": ident["id"]})
            self.assertEqual(r.status, 204, r)
        self.grant("reader", group=group["id"])
        req = {"appid": self.appid, "action": "getArticle",
               "resource": "articles:x"}
        seen, cursor, pages = [], None, 0
        while True:
            q = "?limit=2" + ("&cursor=" + cursor if cursor else "")
            r = self.api.post("/v1/authorize/principals" + q, req)
            self.assertEqual(r.status, 200, r)
            doc = r.json()
            self.assertLessEqual(doc["examined"], 2)
            seen += [p["name"] for p in doc["principals"]]
            pages += 1
            cursor = doc["next_cursor"]
            if not cursor:
                break
        self.assertEqual(sorted(seen), ["ann"] + names)
        self.assertGreaterEqual(pages, 4)
        r = self.api.post("/v1/authorize/principals", dict(req, user="ann"))
        self.assertProblem(r, 400, ["invalid_request"])
        r = self.api.post("/v1/authorize/principals?limit=5000", req)
        self.assertProblem(r, 400, ["invalid_parameter"])


class CliTest(RoleCase):

    def cli(self, *args, ok=True):
        r = self.ws.run_cli(*args, "--server", self.server.url,
                            "--token", self.ws.bootstrap_token())
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_role_commands_and_enumeration(self):
        path = os.path.join(self.ws.dir, "perms.json")
        with open(path, "w") as f:
            json.dump(READER, f)
        t = ("--tenant", self.tid, "--app", self.appid)
        self.cli("role", "create", *t, "--role", "reader",
                 "--permissions", path)
        r = self.cli("role", "list", *t, "--json")
        self.assertEqual([x["role"] for x in json.loads(r.stdout)],
                         ["reader"])
        r = self.cli("role", "grant", *t, "--role", "reader",
                     "--identity", self.ann["id"], "--json")
        gid = json.loads(r.stdout)["id"]
        r = self.cli("role", "grants", *t, "--role", "reader")
        self.assertIn(self.ann["id"], r.stdout)
        r = self.cli("authorize", "actions", "--app", self.appid,
                     "--user", "ann", "--resource", "articles:1", "--json")
        self.assertIn("getArticle", [x["action"] for x in
                                     json.loads(r.stdout)["actions"]])
        r = self.cli("authorize", "principals", "--app", self.appid,
                     "--action", "getArticle", "--resource", "articles:1")
        self.assertIn("ann", r.stdout)
        self.assertNotIn("bob", r.stdout)
        self.cli("role", "revoke", *t, "--role", "reader", "--grant", gid)
        self.assertEqual(self.decide("ann")["decision"], "deny")
        r = self.cli("role", "create", *t, "--role", "reader",
                     "--permissions", path, ok=False)
        self.assertEqual(r.returncode, 1)
        self.cli("role", "delete", *t, "--role", "reader")
        r = self.cli("role", "list", *t, "--json")
        self.assertEqual(json.loads(r.stdout), [])


if __name__ == "__main__":
    main()
