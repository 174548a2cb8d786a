#!/usr/bin/env python3
"""
End-to-end tests of the authorization service of `ztiam serve`:
applications and policy stores (/v1/tenants/{t}/apps, .../policies,
.../schema, the tenant-wide /v1/tenants/{t}/policies), revisions and
If-Match, the decision API (/v1/authorize, /batch, /explain) on the
seed-format request, tenant isolation, the decision log with masked
fields, and the CLI (`ztiam policy ...`, `ztiam authorize`).

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_authz.py
With ZTIAM_TEST_DB=postgres://... the server uses PostgreSQL.
"""
import itertools
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase, main  # noqa: E402

SCHEMA = {"": {
    "entityTypes": {
        "User": {"memberOfTypes": ["Group", "OrgUnit"], "shape": {
            "type": "Record", "attributes": {
                "department": {"type": "String", "required": False},
                "clearance": {"type": "Long", "required": False}}}},
        "Group": {}, "OrgUnit": {}, "Application": {},
        "Resource": {"memberOfTypes": ["Resource", "Application"]}},
    "actions": {
        "read": {}, "write": {"memberOf": [{"id": "read"}]},
        "getArticleID": {"memberOf": [{"id": "read"}], "appliesTo": {
            "principalTypes": ["User"], "resourceTypes": ["Resource"],
            "context": {"type": "Record", "attributes": {
                "remoteIP": {"type": "Extension", "name": "ipaddr"},
                "trustScore": {"type": "Long"}}}}},
        "putArticle": {"memberOf": [{"id": "write"}], "appliesTo": {
            "principalTypes": ["User"], "resourceTypes": ["Resource"],
            "context": {"type": "Record", "attributes": {}}}}}}}

POLICIES = """
@id("editors-read")
permit(principal in Group::"editors", action in Action::"read",
       resource in Resource::"resources:articles")
when { context has trustScore && context.trustScore >= 50 &&
       principal has clearance &&
       principal.clearance >= 2 };

@id("no-interns")
forbid(principal, action == Action::"putArticle", resource)
when { principal has department && principal.department == "interns" };
"""

TENANT_FORBID = """
@id("blocked-net")
forbid(principal, action, resource)
when { context has remoteIP && context.remoteIP.isInRange(ip("10.66.0.0/16")) };
"""

SEED = {"appid": "eihxiidhh23s", "user": "jack", "action": "getArticleID",
        "resource": "resources:articles:zto",
        "context": {"remoteIP": "192.168.0.5", "trustScore": "90"}}


class AuthzCase(ServerTestCase):

    server_args = ("--decision-log-mask", "remoteIP,secret")
    _serial = itertools.count(1)

    def setUp(self):
        n = next(AuthzCase._serial)
        self.tid = "az%d" % n
        self.appid = "eihxiidhh23s" if n == 1 else "app%d-x" % n
        r = self.api.post("/v1/tenants", {"id": self.tid})
        self.assertEqual(r.status, 201, r)
        self.jack = self.make("identities", {
            "kind": "person", "name": "jack", "state": "active",
            "attributes": {"department": "news", "clearance": "3"}})
        self.editors = self.make("groups", {"name": "editors"})
        r = self.api.post(self.url("groups", self.editors["id"], "members"),
                          {"type": "identity", "id": self.jack["id"]})
        self.assertEqual(r.status, 204, r)
        self.make("apps", {"appid": self.appid, "name": "Articles"})

    def url(self, *parts):
        return "/".join(("/v1/tenants", self.tid) + parts)

    def make(self, what, body):
        r = self.api.post(self.url(what), body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def put(self, what, text, ctype="application/cedar", headers=None,
            app=True):
        path = self.url("apps", self.appid, what) if app else \
            self.url(what)
        return self.api.request("PUT", path, body=text, content_type=ctype,
                                headers=headers)

    def setup_store(self):
        r = self.put("schema", json.dumps(SCHEMA), "application/json")
        self.assertEqual(r.status, 200, r)
        r = self.put("policies", POLICIES)
        self.assertEqual(r.status, 200, r)
        return r.json()["revision"]

    def seed(self, **over):
        req = dict(SEED, appid=self.appid)
        req.update(over)
        return req

    def authorize(self, req, status=200, token=None):
        kw = {} if token is None else {"token": token}
        r = self.api.post("/v1/authorize", req, **kw)
        self.assertEqual(r.status, status, r)
        return r.json()


class StoreTest(AuthzCase):

    def test_seed_request_allowed_then_denied(self):
        rev = self.setup_store()
        a = self.authorize(self.seed())
        self.assertEqual(a["decision"], "allow", a)
        self.assertEqual(a["determining"], ["app:editors-read"])
        self.assertEqual(a["revisions"]["app"], rev)
        self.assertEqual(a["revisions"]["identity"]["id"], self.jack["id"])
        self.assertTrue(a["decision_id"])
        low = self.seed(context={"remoteIP": "192.168.0.5",
                                 "trustScore": 10})
        self.assertEqual(self.authorize(low)["decision"], "deny")
        other = self.seed(resource="resources:photos:p1")
        self.assertEqual(self.authorize(other)["decision"], "deny")

    def test_bad_policy_refused_nothing_changed(self):
        rev = self.setup_store()
        before = self.api.get(self.url("apps", self.appid, "policies"))
        bad = "permit(principal, action, resource)\n when { principal.nosuch == 1 };"
        r = self.put("policies", bad)
        self.assertProblem(r, 400, ["invalid_policy"])
        err = r.json()["errors"][0]
        self.assertEqual((err["line"], err["policy"]), (2, "policy0"))
        self.assertIn("nosuch", err["message"])
        r = self.put("policies", "permit(principal,")
        self.assertProblem(r, 400, ["invalid_policy"])
        after = self.api.get(self.url("apps", self.appid, "policies"))
        self.assertEqual(after.json()["revision"], rev)
        self.assertEqual(after.json()["policies"],
                         before.json()["policies"])
        self.assertEqual(self.authorize(self.seed())["decision"], "allow")

    def test_revisions_and_if_match(self):
        rev = self.setup_store()
        r = self.put("policies", POLICIES, headers={"If-Match": '"1"'})
        self.assertProblem(r, 412, ["precondition_failed"])
        r = self.put("policies", POLICIES, "text/plain",
                     headers={"If-Match": '"%d"' % rev})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"%d"' % (rev + 1))
        r = self.api.get(self.url("apps", self.appid, "revisions"))
        items = r.json()["items"]
        self.assertEqual([i["revision"] for i in items], [3, 2, 1])
        self.assertEqual(items[-1]["change"], "schema")
        self.assertTrue(items[0]["created_by"].startswith("token:"))
        r = self.api.get(self.url("apps", self.appid, "policies") +
                         "?revision=1")
        self.assertEqual(r.json()["policies"], "")
        r = self.api.get(self.url("apps", self.appid, "schema"))
        self.assertEqual(r.json(), SCHEMA)
        actions = [i["action"] for i in self.api.audit_items()]
        self.assertIn("policy.put", actions)
        self.assertIn("policy.schema.put", actions)

    def test_policies_need_a_schema_and_json_format(self):
        r = self.put("policies", POLICIES)
        self.assertProblem(r, 409, ["conflict"])
        r = self.put("schema", json.dumps(SCHEMA), "application/json")
        self.assertEqual(r.status, 200, r)
        doc = {"staticPolicies": {"all-read": {
            "effect": "permit", "principal": {"op": "All"},
            "action": {"op": "==", "entity": {"type": "Action",
                                              "id": "getArticleID"}},
            "resource": {"op": "All"}, "conditions": []}}}
        r = self.put("policies", json.dumps(doc), "application/json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["format"], "json")
        a = self.authorize(self.seed())
        self.assertEqual(a["determining"], ["app:all-read"])

    def test_tenant_forbid_beats_app_permit(self):
        self.setup_store()
        r = self.put("policies", TENANT_FORBID, app=False)
        self.assertEqual(r.status, 200, r)
        blocked = self.seed(context={"remoteIP": "10.66.1.2",
                                     "trustScore": "90"})
        a = self.authorize(blocked)
        self.assertEqual(a["decision"], "deny")
        self.assertEqual(a["determining"], ["tenant:blocked-net"])
        self.assertEqual(a["revisions"]["tenant"], 1)
        self.assertEqual(self.authorize(self.seed())["decision"], "allow")
        r = self.api.get(self.url("policies", "revisions"))
        self.assertEqual(len(r.json()["items"]), 1)
        # A tenant-wide policy that no app's schema accepts is refused.
        r = self.put("policies", "forbid(principal, action, resource) "
                     "when { principal.nosuch };", "text/plain", app=False)
        self.assertProblem(r, 400, ["invalid_policy"])
        self.assertEqual(r.json()["errors"][0]["app"], self.appid)


class DecisionTest(AuthzCase):

    def test_wrong_context_types_are_request_errors(self):
        self.setup_store()
        for ctx in ({"remoteIP": "192.168.0.5", "trustScore": "ninety"},
                    {"remoteIP": "not-an-ip", "trustScore": "90"},
                    {"trustScore": "90"},
                    {"remoteIP": "192.168.0.5", "trustScore": "90",
                     "extra": 1}):
            a = self.authorize(self.seed(context=ctx))
            self.assertEqual((a["decision"], a["reason"]),
                             ("deny", "request_error"), ctx)
            self.assertNotIn("ninety", a["message"])

    def test_unknown_user_app_action(self):
        self.setup_store()
        a = self.authorize(self.seed(user="nobody"))
        self.assertEqual((a["decision"], a["reason"]),
                         ("deny", "unknown_user"))
        self.make("identities", {"kind": "person", "name": "newbie",
                                 "attributes": {"clearance": "9"}})
        a = self.authorize(self.seed(user="newbie"))
        self.assertEqual((a["decision"], a["reason"]),
                         ("deny", "inactive_user"))
        a = self.authorize(self.seed(action="launchMissiles"))
        self.assertEqual((a["decision"], a["reason"]),
                         ("deny", "unknown_action"))
        a = self.authorize(self.seed(appid="no-such-app"), status=404)
        self.assertEqual((a["decision"], a["reason"]),
                         ("deny", "unknown_app"))
        r = self.api.post("/v1/authorize", {"appid": self.appid})
        self.assertProblem(r, 400, ["invalid_request"])

    def test_identity_changes_count_from_the_next_decision(self):
        """The worker's user cache does not outlive a change to the
        identity space made through this server: each answer below
        comes right after the change, with no wait."""
        self.setup_store()
        member = self.url("groups", self.editors["id"], "members",
                          "identity", self.jack["id"])
        jack = self.url("identities", self.jack["id"])
        self.assertEqual(self.authorize(self.seed())["decision"], "allow")
        self.assertEqual(self.api.delete(member).status, 204)
        self.assertEqual(self.authorize(self.seed())["decision"], "deny")
        r = self.api.post(self.url("groups", self.editors["id"], "members"),
                          {"type": "identity", "id": self.jack["id"]})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.authorize(self.seed())["decision"], "allow")
        r = self.api.patch(jack, {"attributes": {"clearance": "1"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.authorize(self.seed())["decision"], "deny")
        r = self.api.patch(jack, {"attributes": {"clearance": "3"},
                                  "state": "suspended"})
        self.assertEqual(r.status, 200, r)
        a = self.authorize(self.seed())
        self.assertEqual((a["decision"], a["reason"]),
                         ("deny", "inactive_user"))

    def test_login_name_finds_the_user(self):
        self.setup_store()
        sys_ = self.make("account-systems", {"name": "staff",
                                             "kind": "workforce"})
        self.make("accounts", {"identity_id": self.jack["id"],
                               "system_id": sys_["id"],
                               "login_name": "jack@example.com"})
        a = self.authorize(self.seed(user="jack@example.com"))
        self.assertEqual(a["decision"], "allow", a)

    def test_other_tenants_token_gets_404(self):
        self.setup_store()
        self.api.ensure_tenant("elsewhere")
        tok = self.api.create_token("other", tenant="elsewhere")["token"]
        a = self.authorize(self.seed(), status=404, token=tok)
        self.assertEqual(a["reason"], "unknown_app")
        r = self.api.get(self.url("apps", self.appid), token=tok)
        self.assertProblem(r, 404, ["not_found"])
        own = self.api.create_token("own", tenant=self.tid)["token"]
        self.assertEqual(self.authorize(self.seed(), token=own)["decision"],
                         "allow")

    def test_batch(self):
        self.setup_store()
        reqs = [self.seed(), self.seed(user="nobody"),
                self.seed(action="putArticle", context={}), {"appid": 1}]
        r = self.api.post("/v1/authorize/batch", {"requests": reqs})
        self.assertEqual(r.status, 200, r)
        res = r.json()["results"]
        self.assertEqual([x["decision"] for x in res],
                         ["allow", "deny", "deny", "deny"])
        self.assertEqual(res[1]["reason"], "unknown_user")
        self.assertEqual(res[3]["reason"], "invalid_request")
        r = self.api.post("/v1/authorize/batch",
                          {"requests": [self.seed()] * 101})
        self.assertProblem(r, 400, ["invalid_request"])

    def test_explain(self):
        self.setup_store()
        r = self.api.post("/v1/authorize/explain", self.seed())
        self.assertEqual(r.status, 200, r)
        pol = {p["policy"]: p for p in r.json()["policies"]}
        self.assertEqual(pol["app:editors-read"]["condition"], "true")
        self.assertFalse(pol["app:no-interns"]["scope_matched"])
        self.assertIsNone(pol["app:no-interns"]["condition"])

    def test_decision_log_masks_fields(self):
        self.setup_store()
        a = self.authorize(self.seed())
        path = os.path.join(self.ws.data, "decisions.ndjson")
        line = None
        for _ in range(100):
            if os.path.exists(path):
                with open(path) as f:
                    for ln in f:
                        if a["decision_id"] in ln:
                            line = json.loads(ln)
            if line:
                break
            time.sleep(0.05)
        self.assertIsNotNone(line)
        self.assertEqual(line["decision"], "allow")
        self.assertEqual(line["request"]["user"], "jack")
        self.assertNotIn("remoteIP", line["request"]["context"])
        self.assertEqual(line["request"]["context"]["trustScore"], "90")
        m = self.anon.get("/metrics").body.decode()
        self.assertIn("ztiam_decision_log_dropped_total 0", m)

    def test_decision_log_reopens_on_sighup(self):
        """logrotate moves the file away and sends SIGHUP: later lines
        go to a new file by the old name, none is lost."""
        self.setup_store()
        path = os.path.join(self.ws.data, "decisions.ndjson")

        def logged(file, decision_id):
            for _ in range(200):
                if os.path.exists(file):
                    with open(file) as f:
                        if decision_id in f.read():
                            return True
                time.sleep(0.05)
            return False

        first = self.authorize(self.seed())["decision_id"]
        self.assertTrue(logged(path, first))
        os.rename(path, path + ".1")
        self.server.proc.send_signal(signal.SIGHUP)
        # The signal lands asynchronously: decide until a line reaches
        # the new file; every decision is in one file or the other.
        def where(decision_id):
            for _ in range(200):
                for f in (path, path + ".1"):
                    if os.path.exists(f):
                        with open(f) as fh:
                            if decision_id in fh.read():
                                return f
                time.sleep(0.05)
            return None

        ids = []
        for _ in range(50):
            ids.append(self.authorize(self.seed())["decision_id"])
            if where(ids[-1]) == path:
                break
        self.assertTrue(os.path.exists(path))
        with open(path + ".1") as f:
            old = f.read()
        with open(path) as f:
            new = f.read()
        self.assertIn(first, old)
        self.assertIn(ids[-1], new)
        for i in ids:
            self.assertTrue(i in old or i in new, i)
        self.assertIn("decision log reopened", self.server.stderr_text()
                      + self.server.stdout_text())


class TwoNodesTest(AuthzCase):

    def test_change_on_one_node_reaches_the_other(self):
        """A second server on the same database sees a new revision by
        its poller, without a request to it having made the change."""
        other = Server(self.ws, args=("--decision-log", "off"))
        self.addCleanup(other.kill)
        other.start()
        api2 = other.client(token=self.ws.bootstrap_token())
        self.setup_store()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = api2.post("/v1/authorize", self.seed())
            if r.status == 200 and r.json()["decision"] == "allow":
                break
            time.sleep(0.05)
        self.assertEqual(r.json()["decision"], "allow", r)
        r = self.put("policies", TENANT_FORBID, app=False)
        self.assertEqual(r.status, 200, r)
        blocked = self.seed(context={"remoteIP": "10.66.0.1",
                                     "trustScore": "90"})
        while time.monotonic() < deadline:
            a = api2.post("/v1/authorize", blocked).json()
            if a["decision"] == "deny":
                break
            time.sleep(0.05)
        self.assertEqual(a["determining"], ["tenant:blocked-net"])
        self.assertEqual(other.stop(), 0)


class CliTest(AuthzCase):

    def cli(self, *args, ok=True):
        r = self.ws.run_cli(*args, "--server", self.server.url,
                            "--token", self.ws.bootstrap_token())
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_put_get_list_validate_test_authorize(self):
        d = self.ws.dir
        files = {"schema.json": json.dumps(SCHEMA), "p.cedar": POLICIES,
                 "bad.cedar": "permit(principal, action, resource) when "
                              "{ principal.nosuch };",
                 "req.json": json.dumps(self.seed()),
                 "tests.json": json.dumps({"tests": [
                     {"name": "jack reads", "request": self.seed(),
                      "expect": "allow"},
                     {"name": "stranger", "request": self.seed(user="x"),
                      "expect": "deny", "reason": "unknown_user"}]})}
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        p = lambda n: os.path.join(d, n)  # noqa: E731
        self.cli("policy", "put-schema", "--tenant", self.tid, "--app",
                 self.appid, "--file", p("schema.json"))
        self.cli("policy", "put", "--tenant", self.tid, "--app", self.appid,
                 "--file", p("p.cedar"))
        r = self.cli("policy", "put", "--tenant", self.tid, "--app",
                     self.appid, "--file", p("bad.cedar"), ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch", r.stderr)
        r = self.cli("policy", "get", "--tenant", self.tid, "--app",
                     self.appid)
        self.assertEqual(r.stdout, POLICIES)
        r = self.cli("policy", "list", "--tenant", self.tid, "--app",
                     self.appid, "--json")
        self.assertEqual(len(json.loads(r.stdout)), 2)
        self.cli("policy", "validate", "--file", p("p.cedar"), "--schema",
                 p("schema.json"))
        r = self.cli("policy", "validate", "--file", p("bad.cedar"),
                     "--tenant", self.tid, "--app", self.appid, ok=False)
        self.assertEqual(r.returncode, 1)
        r = self.cli("policy", "validate", "--file", p("bad.cedar"),
                     "--schema", p("schema.json"), "--json", ok=False)
        self.assertFalse(json.loads(r.stdout)["valid"])
        r = self.cli("policy", "test", "--file", p("tests.json"))
        self.assertIn("2 tests, 0 failed", r.stdout)
        offline = {"tests": [
            {"name": "a may", "expect": "allow", "request": {
                "principal": {"type": "User", "id": "a"},
                "action": {"type": "Action", "id": "read"},
                "resource": {"type": "Doc", "id": "d"}}},
            {"name": "b may not", "expect": "allow", "request": {
                "principal": {"type": "User", "id": "b"},
                "action": {"type": "Action", "id": "read"},
                "resource": {"type": "Doc", "id": "d"}}}]}
        for name, text in (("off.json", json.dumps(offline)),
                           ("off.cedar", 'permit(principal == User::"a", '
                                         'action, resource);'),
                           ("ents.json", "[]")):
            with open(p(name), "w") as f:
                f.write(text)
        r = self.ws.run_cli("policy", "test", "--file", p("off.json"),
                            "--policies", p("off.cedar"), "--entities",
                            p("ents.json"), "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        rows = json.loads(r.stdout)
        self.assertEqual([x["result"] for x in rows], ["pass", "FAIL"])
        r = self.cli("authorize", "--file", p("req.json"), "--json")
        self.assertEqual(json.loads(r.stdout)["decision"], "allow")


if __name__ == "__main__":
    main()
