#!/usr/bin/env python3
"""
End-to-end tests of the OAuth client registry of `ztiam serve`
(/v1/tenants/{tenant}/clients) and of `ztiam client ...`: the secret is
shown once and never logged or audited, metadata is checked as a whole,
versions guard updates, tenants are isolated (404, never 403) and unit
administrators are refused, and a refused request writes nothing.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_clients.py
With ZTIAM_TEST_DB=postgres://... the server uses PostgreSQL.
"""
import contextlib
import itertools
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main  # noqa: E402

SERVICE = {"account_system": "staff", "client_name": "Billing",
           "grant_types": ["client_credentials"]}
WEB_APP = {"account_system": "staff", "client_name": "Portal",
           "redirect_uris": ["https://portal.example/cb"],
           "grant_types": ["authorization_code", "refresh_token"]}


class ClientCase(ServerTestCase):

    _serial = itertools.count(1)

    def tenant(self):
        tid = "c%d" % next(ClientCase._serial)
        r = self.api.post("/v1/tenants", {"id": tid})
        self.assertEqual(r.status, 201, r)
        r = self.api.post("/v1/tenants/%s/account-systems" % tid,
                          {"name": "staff", "kind": "workforce"})
        self.assertEqual(r.status, 201, r)
        return tid

    def path(self, tid, *parts):
        return "/".join(("/v1/tenants", tid, "clients") + parts)

    def create(self, tid, body):
        r = self.api.post(self.path(tid), body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def fingerprint(self):
        return len(self.api.audit_items()), self.ws.fingerprint()

    @contextlib.contextmanager
    def assertNothingWritten(self):
        before = self.fingerprint()
        yield
        self.assertEqual(self.fingerprint(), before)


class RegistryTest(ClientCase):

    def test_secret_is_shown_once_and_nowhere_else(self):
        tid = self.tenant()
        r = self.api.post(self.path(tid), SERVICE)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        doc = r.json()
        secret = doc["client_secret"]
        self.assertTrue(secret.startswith("ztcs_"))
        self.assertEqual(len(secret), 48)
        got = self.api.get(self.path(tid, doc["client_id"])).json()
        self.assertNotIn("client_secret", got)
        listed = self.api.get(self.path(tid)).json()["items"]
        self.assertEqual([c["client_id"] for c in listed],
                         [doc["client_id"]])
        self.assertNotIn(secret, json.dumps(listed))
        self.assertNotIn(secret[5:], json.dumps(self.api.audit_items()))
        self.assertNotIn(secret[5:], self.server.stdout_text())
        self.assertNotIn(secret[5:], self.server.stderr_text())

    def test_rotation_gives_a_new_secret_and_needs_the_version(self):
        tid = self.tenant()
        doc = self.create(tid, SERVICE)
        p = self.path(tid, doc["client_id"], "secret")
        with self.assertNothingWritten():
            r = self.api.post(p, headers={"If-Match": '"7"'})
            self.assertProblem(r, 412, "precondition_failed")
        r = self.api.post(p, headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertNotEqual(r.json()["client_secret"], doc["client_secret"])
        self.assertEqual(r.header("ETag"), '"2"')

    def test_put_replaces_metadata_and_keeps_the_system(self):
        tid = self.tenant()
        doc = self.create(tid, WEB_APP)
        p = self.path(tid, doc["client_id"])
        body = dict(WEB_APP, redirect_uris=["https://portal.example/cb2"])
        with self.assertNothingWritten():
            r = self.api.request("PUT", p, body,
                                 headers={"If-Match": '"5"'})
            self.assertProblem(r, 412, "precondition_failed")
            r = self.api.request("PUT", p, dict(body, account_system="x"))
            self.assertProblem(r, 400, "invalid_request")
            r = self.api.request("PUT", p, dict(
                body, token_endpoint_auth_method="none"))
            self.assertProblem(r, 400, "invalid_request")
        r = self.api.request("PUT", p, body, headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["redirect_uris"],
                         ["https://portal.example/cb2"])
        self.assertEqual(r.json()["account_system"], "staff")

    def test_public_client_has_no_secret(self):
        tid = self.tenant()
        doc = self.create(tid, {
            "account_system": "staff", "token_endpoint_auth_method": "none",
            "redirect_uris": ["com.example.app:/cb",
                              "http://127.0.0.1:7000/cb"]})
        self.assertNotIn("client_secret", doc)
        r = self.api.post(self.path(tid, doc["client_id"], "secret"))
        self.assertProblem(r, 409, "conflict")

    def test_delete_then_404_and_system_in_use_is_409(self):
        tid = self.tenant()
        doc = self.create(tid, SERVICE)
        systems = self.api.get(
            "/v1/tenants/%s/account-systems" % tid).json()["items"]
        with self.assertNothingWritten():
            r = self.api.delete("/v1/tenants/%s/account-systems/%s"
                                % (tid, systems[0]["id"]))
            self.assertProblem(r, 409, "conflict")
        p = self.path(tid, doc["client_id"])
        self.assertEqual(self.api.delete(p).status, 204)
        self.assertProblem(self.api.get(p), 404, "not_found")
        self.assertProblem(self.api.delete(p), 404, "not_found")


class BadInputTest(ClientCase):

    def test_bad_metadata_is_400_and_writes_nothing(self):
        tid = self.tenant()
        cases = [
            {},
            {"account_system": "staff"},
            dict(SERVICE, colour=1),
            dict(SERVICE, account_system="ghost"),
            dict(SERVICE, account_system=5),
            dict(SERVICE, grant_types=["password"]),
            dict(SERVICE, grant_types="client_credentials"),
            dict(SERVICE, token_endpoint_auth_method="none"),
            dict(SERVICE, access_token_lifetime=10),
            dict(SERVICE, scope="a\"b"),
            dict(SERVICE, client_name="x" * 201),
            dict(WEB_APP, redirect_uris=["http://portal.example/cb"]),
            dict(WEB_APP, redirect_uris=["https://portal.example/cb#x"]),
            dict(WEB_APP, redirect_uris=["https://*.example/cb"]),
            dict(WEB_APP, redirect_uris=["javascript:alert(1)"]),
            dict(WEB_APP, redirect_uris=["/relative"]),
            dict(WEB_APP, redirect_uris=[]),
            dict(SERVICE, token_endpoint_auth_method="private_key_jwt",
                 jwks={"keys": [{"kty": "EC", "d": "secret"}]}),
            dict(SERVICE, account_system="'; DROP TABLE oauth_clients;--"),
        ]
        with self.assertNothingWritten():
            for body in cases:
                with self.subTest(body=body):
                    r = self.api.post(self.path(tid), body)
                    self.assertProblem(r, 400, "invalid_request")
            r = self.api.post(self.path(tid), b"{not json")
            self.assertProblem(r, 400, "invalid_json")
            r = self.api.post(self.path(tid), [SERVICE])
            self.assertProblem(r, 400, "invalid_json")

    def test_other_tenant_is_404_and_unit_token_is_403(self):
        tid, other = self.tenant(), self.tenant()
        doc = self.create(tid, SERVICE)
        tok = self.api.create_token("other", tenant=other)["token"]
        them = self.server.client(tok)
        r = self.api.post("/v1/tenants/%s/units" % tid, {"name": "Sales"})
        self.assertEqual(r.status, 201, r)
        r = self.api.post("/v1/tokens", {"name": "unit", "tenant": tid,
                                         "unit_id": r.json()["id"]})
        unit = self.server.client(r.json()["token"])
        p = self.path(tid, doc["client_id"])
        with self.assertNothingWritten():
            for method, path, body in (("GET", p, None),
                                       ("GET", self.path(tid), None),
                                       ("POST", self.path(tid), SERVICE),
                                       ("DELETE", p, None),
                                       ("POST", p + "/secret", None)):
                with self.subTest(method=method, path=path):
                    self.assertProblem(them.request(method, path, body),
                                       404, "not_found")
                    self.assertProblem(unit.request(method, path, body),
                                       403, "forbidden")
        self.assertProblem(self.api.get(self.path("nope")), 404,
                           "not_found")


class CliTest(ClientCase):

    def cli(self, *args):
        env = {"ZTIAM_SERVER": self.server.url,
               "ZTIAM_TOKEN": self.ws.bootstrap_token()}
        return self.ws.run_cli("client", *args, env=env)

    def test_create_list_rotate_delete(self):
        tid = self.tenant()
        out = self.cli("create", "--tenant", tid, "--system", "staff",
                       "--grant", "authorization_code",
                       "--grant", "refresh_token",
                       "--redirect-uri", "https://a.example/cb",
                       "--redirect-uri", "https://b.example/cb",
                       "--name", "Shop", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        doc = json.loads(out.stdout)
        self.assertEqual(doc["redirect_uris"],
                         ["https://a.example/cb", "https://b.example/cb"])
        self.assertEqual(doc["grant_types"],
                         ["authorization_code", "refresh_token"])
        cid = doc["client_id"]
        out = self.cli("list", "--tenant", tid)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(cid, out.stdout)
        self.assertIn("Shop", out.stdout)
        out = self.cli("rotate-secret", cid, "--tenant", tid)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("ztcs_", out.stdout)
        out = self.cli("create", "--tenant", tid, "--system", "staff",
                       "--redirect-uri", "http://evil.example/")
        self.assertEqual(out.returncode, 1)
        self.assertIn("loopback", out.stderr)
        out = self.cli("delete", cid, "--tenant", tid)
        self.assertEqual(out.returncode, 0, out.stderr)
        out = self.cli("get", cid, "--tenant", tid)
        self.assertEqual(out.returncode, 1)


if __name__ == "__main__":
    main()
