#!/usr/bin/env python3
"""
End-to-end tests of the grants of `ztiam serve` beside client_credentials:
refresh tokens, the device authorization grant and its page, pushed
authorization requests and dynamic client registration.  The flows are
driven by certified client libraries (tests/oidc/grants.mjs: oauth4webapi,
openid-client); python3-authlib refreshes a token too; refused requests
are checked to change nothing in the database, and the log and audit
trail to hold no token.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_oauth_grants.py
With ZTIAM_TEST_DB=postgres://... the server uses PostgreSQL.
"""
import html
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, authlib_session,  # noqa: E402
                     basic_auth, main, run_node)

T = "/v1/tenants/grants"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
PASSWORD = "pat-password-1"


class GrantsCase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        api = cls.api
        r = api.post("/v1/tenants", {"id": "grants"})
        assert r.status == 201, r
        cheap = {"min_length": 10, "history": 2, "argon2_memory_kib": 1024,
                 "argon2_iterations": 1}
        r = api.post(T + "/account-systems", {
            "name": "staff", "kind": "workforce", "password_policy": cheap})
        assert r.status == 201, r
        cls.system_id = r.json()["id"]
        r = api.post(T + "/account-systems", {"name": "closed",
                                               "kind": "service"})
        assert r.status == 201, r
        r = api.post(T + "/identities", {"kind": "person", "name": "pat",
                                         "state": "active"})
        assert r.status == 201, r
        cls.identity = r.json()["id"]
        r = api.post(T + "/accounts", {
            "identity_id": cls.identity, "system_id": cls.system_id,
            "login_name": "pat@example.com"})
        assert r.status == 201, r
        r = api.request("PUT", "%s/accounts/%s/password"
                        % (T, r.json()["id"]), body={"password": PASSWORD})
        assert r.status in (200, 204), r
        cls.issuer = "http://127.0.0.1:%d/t/grants/staff" % cls.server.port

    def client(self, **meta):
        body = {"account_system": "staff", "client_name": "t",
                "grant_types": [DEVICE, "refresh_token"], "scope": "read"}
        body.update(meta)
        r = self.api.post(T + "/clients", body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def form(self, path, fields, headers=None):
        return self.anon.post(
            "/t/grants/staff/" + path, urllib.parse.urlencode(fields),
            headers=headers or {},
            content_type="application/x-www-form-urlencoded")

    basic = staticmethod(basic_auth)

    def sign_in(self):
        r = self.api.post(T + "/sessions", {
            "system": "staff", "login_name": "pat@example.com",
            "password": PASSWORD})
        self.assertEqual(r.status, 201, r)
        return "ztiam_session=" + r.json()["token"]

    def page(self, cookie, form=None, query=""):
        if form is None:
            return self.anon.get("/t/grants/staff/device" + query,
                                 headers={"Cookie": cookie})
        return self.anon.post("/t/grants/staff/device",
                              urllib.parse.urlencode(form),
                              headers={"Cookie": cookie},
                              content_type="application/"
                              "x-www-form-urlencoded")

    @staticmethod
    def hidden(r, name):
        m = re.search(r'name="%s" value="([^"]*)"' % name,
                      r.body.decode())
        assert m, r.body
        return html.unescape(m.group(1))

    def device_tokens(self, c, auth):
        """A device flow approved on the page; the token answer."""
        fields = {} if auth else {"client_id": c["client_id"]}
        r = self.form("device_authorization", fields, auth)
        self.assertEqual(r.status, 200, r)
        da = r.json()
        cookie = self.sign_in()
        shown = self.page(cookie, query="?user_code=" + da["user_code"])
        self.assertEqual(shown.status, 200, shown)
        done = self.page(cookie, {"csrf": self.hidden(shown, "csrf"),
                                  "user_code": self.hidden(shown,
                                                           "user_code"),
                                  "action": "approve"})
        self.assertEqual(done.status, 200, done)
        fields = {"grant_type": DEVICE, "device_code": da["device_code"]}
        if not auth:
            fields["client_id"] = c["client_id"]
        r = self.form("token", fields, auth)
        self.assertEqual(r.status, 200, r)
        return r.json()


class CertifiedClientsTest(GrantsCase):

    def test_node_clients(self):
        run_node(self, "grants.mjs", ZTIAM_URL="http://127.0.0.1:%d"
                 % self.server.port, ZTIAM_ADMIN_TOKEN=self.api.token,
                 ZTIAM_TENANT="grants", ZTIAM_SYSTEM="staff",
                 ZTIAM_SYSTEM_ID=self.system_id,
                 ZTIAM_CLOSED_SYSTEM="closed",
                 ZTIAM_LOGIN="pat@example.com", ZTIAM_PASSWORD=PASSWORD)

    def test_authlib_refresh(self):
        OAuth2Session = authlib_session(self)
        c = self.client(scope="read write")
        first = self.device_tokens(c, self.basic(c["client_id"],
                                                 c["client_secret"]))
        s = OAuth2Session(c["client_id"], c["client_secret"],
                          token_endpoint_auth_method="client_secret_basic")
        tok = s.refresh_token(self.issuer + "/token",
                              refresh_token=first["refresh_token"])
        self.assertTrue(tok["refresh_token"].startswith("ztrt_"))
        self.assertNotEqual(tok["refresh_token"], first["refresh_token"])
        self.assertEqual(tok["scope"], "read write")


class EndpointTest(GrantsCase):

    def test_tokens_never_in_log_or_audit(self):
        c = self.client()
        t = self.device_tokens(c, self.basic(c["client_id"],
                                             c["client_secret"]))
        r = self.form("token", {"grant_type": "refresh_token",
                                "refresh_token": t["refresh_token"]},
                      self.basic(c["client_id"], c["client_secret"]))
        self.assertEqual(r.status, 200, r)
        audit = json.dumps(self.api.audit_items())
        self.assertIn("oauth.refresh", audit)
        self.assertIn("oauth.device", audit)
        log = self.server.stdout_text() + self.server.stderr_text()
        for secret in (t["refresh_token"], r.json()["refresh_token"]):
            self.assertNotIn(secret, audit)
            self.assertNotIn(secret, log)
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_refused_requests_change_nothing(self):
        c = self.client()
        web = self.client(grant_types=["authorization_code"],
                          redirect_uris=["https://app.example/cb"])
        dev = self.basic(c["client_id"], c["client_secret"])
        wauth = self.basic(web["client_id"], web["client_secret"])
        before = self.ws.fingerprint()
        cases = [
            ("token", dev, {"grant_type": "refresh_token"}, 400,
             "invalid_request"),
            ("token", dev, {"grant_type": "refresh_token",
                            "refresh_token": "ztrt_" + "A" * 43}, 400,
             "invalid_grant"),
            ("token", dev, {"grant_type": DEVICE,
                            "device_code": "nope"}, 400, "invalid_grant"),
            ("token", wauth, {"grant_type": DEVICE, "device_code": "x"},
             400, "unauthorized_client"),
            ("device_authorization", wauth, {}, 400,
             "unauthorized_client"),
            ("device_authorization", dev, {"scope": "admin"}, 400,
             "invalid_scope"),
            ("par", dev, {"response_type": "code"}, 400,
             "unauthorized_client"),
            ("par", wauth, {"response_type": "token"}, 400,
             "unsupported_response_type"),
            ("par", wauth, {"response_type": "code",
                            "client_id": c["client_id"]}, 400,
             "invalid_request"),
            ("par", wauth, {"response_type": "code",
                            "request_uri": "urn:x"}, 400,
             "invalid_request"),
            ("par", {}, {"response_type": "code"}, 401, "invalid_client"),
        ]
        for path, headers, fields, status, error in cases:
            r = self.form(path, fields, headers)
            self.assertEqual(r.status, status, (path, fields, r))
            self.assertEqual(r.json()["error"], error, (path, fields, r))
        r = self.anon.post("/t/grants/staff/register", {"client_name": "x"})
        self.assertEqual(r.status, 404)
        self.assertEqual(self.ws.fingerprint(), before)

    def test_user_code_guessing_is_throttled(self):
        cookie = self.sign_in()
        first = self.page(cookie)
        self.assertEqual(first.status, 200, first)
        csrf = self.hidden(first, "csrf")
        statuses = []
        for _ in range(8):
            r = self.page(cookie, {"csrf": csrf, "user_code": "BBBB-BBBB"})
            statuses.append(r.status)
        self.assertEqual(statuses[0], 400)
        self.assertIn(429, statuses)
        r = self.page(cookie, {"csrf": csrf, "user_code": "BBBB-BBBB"})
        self.assertIn(b"Too many wrong codes", r.body)

    def test_registration_setting_needs_admin_and_is_audited(self):
        path = "%s/account-systems/%s/registration" % (T, self.system_id)
        r = self.api.get(path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["enabled"], False)
        r = self.anon.get(path)
        self.assertEqual(r.status, 401)
        r = self.api.request("PUT", path, body={"enabled": "yes"})
        self.assertEqual(r.status, 400)
        r = self.api.request("PUT", path, body={"enabled": False})
        self.assertEqual(r.status, 200, r)
        r = self.api.request("PUT", "%s/account-systems/nope/registration"
                             % T, body={"enabled": True})
        self.assertEqual(r.status, 404)
        audit = [i for i in self.api.audit_items()
                 if i["action"] == "oauth.registration"]
        self.assertTrue(audit)

    def test_cli_sets_registration(self):
        env = {"ZTIAM_SERVER": self.server.url, "ZTIAM_TOKEN":
               self.api.token, "ZTIAM_DATA": "", "ZTIAM_TENANT": "grants"}
        out = self.ws.run_cli("client", "set-registration", self.system_id,
                              "--enable", "--initial-token", env=env)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("ztia_", out.stdout)
        out = self.ws.run_cli("client", "registration", self.system_id,
                              env=env)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("true", out.stdout)
        self.assertNotIn("ztia_", out.stdout)
        out = self.ws.run_cli("client", "set-registration", self.system_id,
                              "--disable", env=env)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        r = self.api.get("%s/account-systems/%s/registration"
                         % (T, self.system_id))
        self.assertEqual(r.json()["enabled"], False)


if __name__ == "__main__":
    main()
