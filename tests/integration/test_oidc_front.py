#!/usr/bin/env python3
"""
End-to-end tests of the browser side of the provider: the sign-in page,
the authorization endpoint and its consent page, authorization codes at
the token endpoint, ID tokens, userinfo and logout.  The test plays the
browser: it follows redirects, reads the CSRF field of each form and
posts it back with the cookies it was given.  Attacks: a replayed code
(refused, and its tokens revoked), a redirect URI one character off (an
error page, no redirect), a missing or wrong PKCE verifier, a form
without its CSRF token (403), password guessing (throttled, with the same
words for unknown accounts).

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_oidc_front.py
With ZTIAM_TEST_DB=postgres://... the server uses PostgreSQL.
"""
import base64
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import shutil
import sqlite3
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Server, ServerTestCase,  # noqa: E402
                     authlib_session, main, psql, run_node)

HERE = os.path.dirname(os.path.abspath(__file__))
T = "/v1/tenants/front"
I = "/t/front/staff"
PASSWORD = "pat-password-1"
REDIRECT = "https://app.example/cb"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Browser:
    """Cookies and redirects, as a browser keeps and follows them."""

    def __init__(self, anon):
        self.anon = anon
        self.cookies = {}

    def _send(self, method, path, form=None):
        hdrs = {}
        if self.cookies:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv
                                       for kv in self.cookies.items())
        if form is None:
            r = self.anon.request(method, path, headers=hdrs)
        else:
            r = self.anon.request(method, path,
                                  urllib.parse.urlencode(form),
                                  headers=hdrs, content_type="application/"
                                  "x-www-form-urlencoded")
        for c in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return r

    def go(self, method, path, form=None):
        """Follows redirects within the server; stops at the client's."""
        r = self._send(method, path, form)
        while r.status in (302, 303):
            loc = r.header("Location")
            if loc.startswith(REDIRECT) or loc.startswith("https://"):
                return r
            if loc.startswith("http://"):
                loc = "/" + loc.split("/", 3)[3]
            r = self._send("GET", loc)
        return r


def hidden(r, name):
    m = re.search(r'name="%s" value="([^"]*)"' % name, r.body.decode())
    assert m, r.body
    return html.unescape(m.group(1))


class FrontCase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        api = cls.api
        r = api.post("/v1/tenants", {"id": "front"})
        assert r.status == 201, r
        cheap = {"min_length": 10, "argon2_memory_kib": 1024,
                 "argon2_iterations": 1}
        r = api.post(T + "/account-systems", {
            "name": "staff", "kind": "workforce", "password_policy": cheap})
        assert r.status == 201, r
        cls.system_id = r.json()["id"]
        r = api.post(T + "/identities", {
            "kind": "person", "name": "pat", "state": "active",
            "attributes": {"email": "pat@example.com"}})
        assert r.status == 201, r
        cls.identity = r.json()["id"]
        r = api.post(T + "/accounts", {
            "identity_id": cls.identity, "system_id": cls.system_id,
            "login_name": "pat@example.com"})
        assert r.status == 201, r
        r = api.request("PUT", "%s/accounts/%s/password"
                        % (T, r.json()["id"]), body={"password": PASSWORD})
        assert r.status in (200, 204), r
        cls.issuer = "http://127.0.0.1:%d%s" % (cls.server.port, I)

    def count(self, table):
        sql = "SELECT count(*) FROM " + table
        if self.ws.is_postgres:
            return int(psql(self.ws.db_url, sql, tuples=True).strip())
        conn = sqlite3.connect(self.ws.sqlite_path)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()

    def client(self, **meta):
        body = {"account_system": "staff", "client_name": "app",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [REDIRECT],
                "post_logout_redirect_uris": ["https://app.example/bye"],
                "scope": "openid profile email", "first_party": True}
        body.update(meta)
        r = self.api.post(T + "/clients", body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def form(self, path, fields, headers=None):
        return self.anon.post(I + "/" + path, urllib.parse.urlencode(fields),
                              headers=headers or {},
                              content_type="application/"
                              "x-www-form-urlencoded")

    def auth_url(self, c, verifier, **extra):
        q = {"response_type": "code", "client_id": c["client_id"],
             "redirect_uri": REDIRECT, "scope": "openid profile email",
             "state": "st-1", "nonce": "n-1",
             "code_challenge": b64(hashlib.sha256(verifier.encode())
                                   .digest()),
             "code_challenge_method": "S256"}
        q.update(extra)
        return I + "/authorize?" + urllib.parse.urlencode(q)

    def sign_in(self, b, r, password=PASSWORD, login="pat@example.com"):
        self.assertIn(r.status, (200, 401), r)
        return b.go("POST", I + "/login", {
            "csrf": hidden(r, "csrf"), "return_to": hidden(r, "return_to"),
            "login_name": login, "password": password})

    def code_for(self, c, verifier, b=None, **extra):
        b = b or Browser(self.anon)
        r = b.go("GET", self.auth_url(c, verifier, **extra))
        if r.status == 200:
            r = self.sign_in(b, r)
        self.assertEqual(r.status, 303, r)
        loc = urllib.parse.urlparse(r.header("Location"))
        q = dict(urllib.parse.parse_qsl(loc.query))
        self.assertEqual(q.get("state"), "st-1", q)
        self.assertEqual(q.get("iss"), self.issuer, q)
        return q["code"], b

    def redeem(self, c, code, verifier):
        auth = base64.b64encode(("%s:%s" % (c["client_id"],
                                c["client_secret"])).encode()).decode()
        fields = {"grant_type": "authorization_code", "code": code,
                  "redirect_uri": REDIRECT}
        if verifier is not None:
            fields["code_verifier"] = verifier
        return self.form("token", fields,
                         {"Authorization": "Basic " + auth})


class CodeFlowTest(FrontCase):

    def test_discovery_names_the_browser_endpoints(self):
        r = self.anon.get(I + "/.well-known/openid-configuration")
        d = r.json()
        self.assertEqual(d["authorization_endpoint"], self.issuer +
                         "/authorize")
        self.assertEqual(d["userinfo_endpoint"], self.issuer + "/userinfo")
        self.assertEqual(d["end_session_endpoint"], self.issuer + "/logout")
        self.assertEqual(d["response_types_supported"], ["code"])
        self.assertEqual(d["code_challenge_methods_supported"], ["S256"])
        self.assertTrue(d["authorization_response_iss_parameter_supported"])
        r = self.anon.get("/assets/ztiam.css")
        self.assertEqual(r.status, 200)

    def test_code_flow_id_token_userinfo_refresh_logout(self):
        c = self.client()
        v = secrets.token_urlsafe(32)
        code, b = self.code_for(c, v)
        cookie = [k for k in b.cookies if k.endswith("ztiam_session")]
        self.assertTrue(cookie)
        r = self.redeem(c, code, v)
        self.assertEqual(r.status, 200, r)
        tok = r.json()
        idt = claims(tok["id_token"])
        self.assertEqual(idt["iss"], self.issuer)
        self.assertEqual(idt["sub"], self.identity)
        self.assertEqual(idt["aud"], c["client_id"])
        self.assertEqual(idt["nonce"], "n-1")
        self.assertIn("pwd", idt["amr"])
        self.assertIn("sid", idt)
        h = hashlib.sha256(tok["access_token"].encode()).digest()
        self.assertEqual(idt["at_hash"], b64(h[:16]))
        self.assertEqual(idt["email"], "pat@example.com")
        # The access token carries the identity claims its scope opens.
        at = claims(tok["access_token"])
        self.assertEqual(at["sub"], self.identity)
        self.assertEqual(at["tenant"], "front")
        self.assertEqual(at["account_system"], "staff")
        self.assertEqual(at["spiffe_id"], idt["spiffe_id"])
        self.assertTrue(at["spiffe_id"].startswith("spiffe://"))
        self.assertEqual(at["email"], "pat@example.com")
        r = self.anon.get(I + "/userinfo", headers={
            "Authorization": "Bearer " + tok["access_token"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sub"], self.identity)
        self.assertEqual(r.json()["preferred_username"], "pat@example.com")
        r = self.anon.get(I + "/userinfo",
                          headers={"Authorization": "Bearer nope"})
        self.assertEqual(r.status, 401)
        self.assertIn("invalid_token", r.header("WWW-Authenticate"))
        auth = base64.b64encode(("%s:%s" % (c["client_id"],
                                c["client_secret"])).encode()).decode()
        r = self.form("token", {"grant_type": "refresh_token",
                                "refresh_token": tok["refresh_token"]},
                      {"Authorization": "Basic " + auth})
        self.assertEqual(r.status, 200, r)
        rt2 = r.json()["refresh_token"]
        # A second sign-in is not needed while the session lives.
        code2, _ = self.code_for(c, v, b)
        self.assertNotEqual(code, code2)
        # Logout with the hint ends the session and returns to the app.
        r = b.go("GET", I + "/logout?" + urllib.parse.urlencode({
            "id_token_hint": tok["id_token"],
            "post_logout_redirect_uri": "https://app.example/bye",
            "state": "bye-1"}))
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.header("Location"),
                         "https://app.example/bye?state=bye-1")
        r = b.go("GET", self.auth_url(c, v, prompt="none"))
        self.assertEqual(r.status, 303, r)
        self.assertIn("error=login_required", r.header("Location"))
        # The session's grants end with it: its refresh tokens, and a
        # code issued before the logout.
        r = self.form("token", {"grant_type": "refresh_token",
                                "refresh_token": rt2},
                      {"Authorization": "Basic " + auth})
        self.assertEqual(r.json()["error"], "invalid_grant", r)
        r = self.redeem(c, code2, v)
        self.assertEqual(r.json()["error"], "invalid_grant", r)

    def test_prompt_login_and_max_age_ask_again_without_a_loop(self):
        c = self.client()
        v = secrets.token_urlsafe(32)
        code, b = self.code_for(c, v)
        for extra in ({"prompt": "login"}, {"max_age": "0"}):
            time.sleep(1.1)
            r = b.go("GET", self.auth_url(c, v, **extra))
            self.assertEqual(r.status, 200, (extra, r))
            self.assertIn(b'name="password"', r.body)
            time.sleep(1.1)
            r = self.sign_in(b, r)
            self.assertEqual(r.status, 303, (extra, r))
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(
                r.header("Location")).query))
            tok = self.redeem(c, q["code"], v).json()
            self.assertGreater(claims(tok["id_token"])["auth_time"],
                               int(time.time()) - 2)

    def test_device_page_signs_in_through_the_login_page(self):
        c = self.client(grant_types=[
            "urn:ietf:params:oauth:grant-type:device_code"],
            redirect_uris=[], scope="openid profile")
        auth = base64.b64encode(("%s:%s" % (c["client_id"],
                                c["client_secret"])).encode()).decode()
        hdr = {"Authorization": "Basic " + auth}
        r = self.form("device_authorization", {"scope": "openid profile"},
                      hdr)
        self.assertEqual(r.status, 200, r)
        da = r.json()
        b = Browser(self.anon)
        page = b.go("GET", I + "/device?user_code=" + da["user_code"])
        self.assertIn(b'name="password"', page.body)
        shown = self.sign_in(b, page)
        self.assertEqual(shown.status, 200, shown)
        self.assertIn(b"Approve", shown.body)
        r = b.go("POST", I + "/device", {
            "csrf": hidden(shown, "csrf"),
            "user_code": hidden(shown, "user_code"), "action": "approve"})
        self.assertEqual(r.status, 200, r)
        r = self.form("token", {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": da["device_code"]}, hdr)
        self.assertEqual(r.status, 200, r)
        idt = claims(r.json()["id_token"])
        self.assertEqual(idt["sub"], self.identity)
        self.assertEqual(idt["aud"], c["client_id"])
        self.assertEqual(idt["preferred_username"], "pat@example.com")

    def test_request_errors_go_to_the_redirect_uri(self):
        c = self.client()
        cases = [({"prompt": "none login"}, "invalid_request"),
                 ({"prompt": "bogus"}, "invalid_request"),
                 ({"scope": "openid admin"}, "invalid_scope"),
                 ({"response_type": "token"}, "unsupported_response_type"),
                 ({"request": "eyJ"}, "request_not_supported"),
                 ({"zt_auth_after": "1"}, "invalid_request")]
        for extra, error in cases:
            r = Browser(self.anon).go("GET", self.auth_url(
                c, secrets.token_urlsafe(32), **extra))
            self.assertEqual(r.status, 303, (extra, r))
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(
                r.header("Location")).query))
            self.assertEqual(q["error"], error, extra)
            self.assertEqual(q["state"], "st-1")
            self.assertEqual(q["iss"], self.issuer)
        r = Browser(self.anon).go("GET", I + "/authorize?client_id=nope&"
                                  "response_type=code")
        self.assertEqual(r.status, 400, r)
        self.assertIsNone(r.header("Location"))

    def test_a_stranger_costs_no_row(self):
        c = self.client()
        before = self.count("oauth_par")
        for _ in range(3):
            r = Browser(self.anon).go("GET", self.auth_url(
                c, secrets.token_urlsafe(32)))
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.count("oauth_par"), before)

    def test_pushed_request_with_resource_and_rs256(self):
        c = self.client(require_pushed_authorization_requests=True,
                        id_token_signed_response_alg="RS256")
        v = secrets.token_urlsafe(32)
        b = Browser(self.anon)
        r = b.go("GET", self.auth_url(c, v))
        self.assertEqual(r.status, 303, r)
        self.assertIn("error=invalid_request", r.header("Location"))
        auth = base64.b64encode(("%s:%s" % (c["client_id"],
                                c["client_secret"])).encode()).decode()
        fields = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(
            self.auth_url(c, v)).query))
        fields["resource"] = "https://api.example/"
        r = self.form("par", fields, {"Authorization": "Basic " + auth})
        self.assertEqual(r.status, 201, r)
        ru = r.json()["request_uri"]
        # Through the sign-in page: the pushed request is parked and
        # resumed, and still counts as pushed.
        r = b.go("GET", I + "/authorize?" + urllib.parse.urlencode(
            {"client_id": c["client_id"], "request_uri": ru}))
        r = self.sign_in(b, r)
        self.assertEqual(r.status, 303, r)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(
            r.header("Location")).query))
        self.assertIn("code", q, q)
        tok = self.redeem(c, q["code"], v).json()
        self.assertEqual(claims(tok["access_token"])["aud"],
                         "https://api.example/")
        self.assertEqual(json.loads(base64.urlsafe_b64decode(
            tok["id_token"].split(".")[0] + "=="))["alg"], "RS256")
        # The pushed request was used once.
        r = b.go("GET", I + "/authorize?" + urllib.parse.urlencode(
            {"client_id": c["client_id"], "request_uri": ru}))
        self.assertEqual(r.status, 400, r)

    def test_dynamic_registration_cannot_skip_consent(self):
        path = "%s/account-systems/%s/registration" % (T, self.system_id)
        r = self.api.request("PUT", path, body={"enabled": True})
        self.assertEqual(r.status, 200, r)
        r = self.anon.post(I + "/register", {
            "redirect_uris": [REDIRECT], "first_party": True})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"], "invalid_client_metadata")
        r = self.api.request("PUT", path, body={"enabled": False})

    def test_suspended_person_session_counts_no_more(self):
        r = self.api.post(T + "/identities", {"kind": "person",
                                              "name": "kim",
                                              "state": "active"})
        ident = r.json()["id"]
        r = self.api.post(T + "/accounts", {
            "identity_id": ident, "system_id": self.system_id,
            "login_name": "kim@example.com"})
        r = self.api.request("PUT", "%s/accounts/%s/password"
                             % (T, r.json()["id"]),
                             body={"password": PASSWORD})
        c = self.client()
        v = secrets.token_urlsafe(32)
        b = Browser(self.anon)
        r = self.sign_in(b, b.go("GET", self.auth_url(c, v)),
                         login="kim@example.com")
        self.assertEqual(r.status, 303, r)
        r = self.api.get(T + "/identities/" + ident)
        r = self.api.request("PATCH", T + "/identities/" + ident,
                             body={"state": "suspended"},
                             headers={"If-Match": r.header("ETag")})
        self.assertEqual(r.status, 200, r)
        r = b.go("GET", self.auth_url(c, v, prompt="none"))
        self.assertIn("error=login_required", r.header("Location"))

    def test_consent_page_for_other_clients(self):
        c = self.client(first_party=False, client_name="Other app")
        v = secrets.token_urlsafe(32)
        b = Browser(self.anon)
        r = self.sign_in(b, b.go("GET", self.auth_url(c, v)))
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"Other app", r.body)
        r2 = b.go("POST", I + "/consent", {
            "request_uri": hidden(r, "request_uri"),
            "client_id": c["client_id"], "action": "allow"})
        self.assertEqual(r2.status, 403, r2)
        r = b.go("POST", I + "/consent", {
            "csrf": hidden(r, "csrf"),
            "request_uri": hidden(r, "request_uri"),
            "client_id": c["client_id"], "action": "allow"})
        self.assertEqual(r.status, 303, r)
        self.assertIn("code=", r.header("Location"))
        # Remembered: the next request goes straight back.
        code, _ = self.code_for(c, v, b)
        self.assertTrue(code.startswith("ztac_"))

        # An administrator sees the consent and withdraws it: the
        # client's refresh token dies with it, and the page asks again.
        r = self.redeem(c, code, v)
        self.assertEqual(r.status, 200, r)
        rt = r.json()["refresh_token"]
        path = "%s/identities/%s/consents" % (T, self.identity)
        items = self.api.get(path).json()["items"]
        self.assertEqual([(x["client_id"], x["scope"]) for x in items],
                         [(c["client_id"], "openid profile email")])
        self.assertEqual(self.api.delete(
            "/v1/tenants/nope/identities/%s/consents/%s"
            % (self.identity, c["client_id"])).status, 404)
        self.assertEqual(self.api.delete(path + "/other").status, 404)
        self.assertEqual(self.api.delete(
            path + "/" + c["client_id"]).status, 204)
        self.assertEqual(self.api.get(path).json()["items"], [])
        self.assertEqual(self.api.delete(
            path + "/" + c["client_id"]).status, 404)
        auth = base64.b64encode(("%s:%s" % (c["client_id"],
                                c["client_secret"])).encode()).decode()
        r = self.form("token", {"grant_type": "refresh_token",
                                "refresh_token": rt},
                      {"Authorization": "Basic " + auth})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"], "invalid_grant")
        revoked = [a for a in self.api.audit_items()
                   if a.get("action") == "oauth.consent.revoke"]
        self.assertEqual(len(revoked), 1)
        r = b.go("GET", self.auth_url(c, v))
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"Other app", r.body)


class TLSCookieTest(FrontCase):
    """Over TLS only the __Host- session cookie counts."""

    def test_plain_cookie_is_not_a_session_over_tls(self):
        d = self.ws.dir
        subprocess.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-keyout",
            os.path.join(d, "front-tls.key"), "-out",
            os.path.join(d, "front-tls.pem"), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True)
        ctx = ssl.create_default_context(
            cafile=os.path.join(d, "front-tls.pem"))
        node = Server(self.ws, args=[
            "--tls-cert", os.path.join(d, "front-tls.pem"),
            "--tls-key", os.path.join(d, "front-tls.key")],
            ssl_context=ctx)
        self.addCleanup(node.kill)
        node.start()
        anon = node.client(token=None)
        r = self.api.post(T + "/sessions", {
            "system": "staff", "login_name": "pat@example.com",
            "password": PASSWORD})
        self.assertEqual(r.status, 201, r)
        token = r.json()["token"]
        c = self.client()
        url = self.auth_url(c, secrets.token_urlsafe(32))
        # A cookie without the prefix (which any neighbouring host or a
        # plain-HTTP answer could have set) does not sign anyone in.
        r = anon.get(url, headers={"Cookie": "ztiam_session=" + token})
        self.assertEqual(r.status, 303, r)
        self.assertIn(I + "/login", r.header("Location"))
        self.assertNotIn("code=", r.header("Location"))
        r = anon.get(url, headers={
            "Cookie": "__Host-ztiam_session=" + token})
        self.assertEqual(r.status, 303, r)
        self.assertTrue(r.header("Location").startswith(REDIRECT + "?"))
        self.assertIn("code=", r.header("Location"))
        self.assertStops(node)


class AttackTest(FrontCase):

    def test_replayed_code_is_refused_and_revokes_its_tokens(self):
        c = self.client()
        v = secrets.token_urlsafe(32)
        code, _ = self.code_for(c, v)
        r = self.redeem(c, code, v)
        self.assertEqual(r.status, 200, r)
        tok = r.json()
        r = self.redeem(c, code, v)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"], "invalid_grant")
        r = self.anon.get(I + "/userinfo", headers={
            "Authorization": "Bearer " + tok["access_token"]})
        self.assertEqual(r.status, 401, r)
        auth = base64.b64encode(("%s:%s" % (c["client_id"],
                                c["client_secret"])).encode()).decode()
        r = self.form("token", {"grant_type": "refresh_token",
                                "refresh_token": tok["refresh_token"]},
                      {"Authorization": "Basic " + auth})
        self.assertEqual(r.status, 400, r)

    def test_redirect_uri_one_character_off_gets_a_page(self):
        c = self.client()
        b = Browser(self.anon)
        r = b.go("GET", self.auth_url(c, secrets.token_urlsafe(32),
                                      redirect_uri=REDIRECT + "x"))
        self.assertEqual(r.status, 400, r)
        self.assertIsNone(r.header("Location"))
        r = b.go("GET", self.auth_url(c, secrets.token_urlsafe(32),
                                      redirect_uri=REDIRECT[:-1] + "B"))
        self.assertEqual(r.status, 400, r)
        self.assertIsNone(r.header("Location"))

    def test_pkce_is_checked(self):
        c = self.client()
        v = secrets.token_urlsafe(32)
        code, _ = self.code_for(c, v)
        r = self.redeem(c, code, None)
        self.assertEqual(r.json()["error"], "invalid_grant")
        code, _ = self.code_for(c, v)
        r = self.redeem(c, code, secrets.token_urlsafe(32))
        self.assertEqual(r.json()["error"], "invalid_grant")
        r = Browser(self.anon).go("GET", self.auth_url(
            c, v, code_challenge_method="plain", code_challenge=v))
        self.assertEqual(r.status, 303, r)
        self.assertIn("error=invalid_request", r.header("Location"))
        pub = self.client(token_endpoint_auth_method="none")
        q = {"response_type": "code", "client_id": pub["client_id"],
             "redirect_uri": REDIRECT, "state": "s"}
        r = Browser(self.anon).go("GET", I + "/authorize?" +
                                  urllib.parse.urlencode(q))
        self.assertEqual(r.status, 303, r)
        self.assertIn("error=invalid_request", r.header("Location"))

    def test_login_form_needs_its_csrf_token(self):
        c = self.client()
        b = Browser(self.anon)
        r = b.go("GET", self.auth_url(c, secrets.token_urlsafe(32)))
        self.assertEqual(r.status, 200, r)
        r = b.go("POST", I + "/login", {
            "return_to": hidden(r, "return_to"),
            "login_name": "pat@example.com", "password": PASSWORD})
        self.assertEqual(r.status, 403, r)
        self.assertFalse([k for k in b.cookies if "session" in k])

    def test_open_redirect_through_return_to_is_refused(self):
        for rt in ("https://evil.example/", "//evil.example/",
                   "/t/front/other/x", "/t/front/staff/../../x"):
            r = self.anon.get(I + "/login?" + urllib.parse.urlencode(
                {"return_to": rt}))
            self.assertEqual(r.status, 400, rt)


class ThrottleTest(FrontCase):
    """On a server of its own: the locked name would fail the others."""

    def test_password_guessing_is_throttled_alike(self):
        c = self.client()
        msgs = {}
        for who in ("pat@example.com", "nobody@example.com"):
            b = Browser(self.anon)
            page = b.go("GET", self.auth_url(c, secrets.token_urlsafe(32)))
            last = None
            for _ in range(7):
                r = self.sign_in(b, page, password="wrong-password",
                                 login=who)
                last = r
                if r.status == 429:
                    break
                page = r
            self.assertEqual(last.status, 429, last)
            self.assertIsNotNone(last.header("Retry-After"))
            msgs[who] = (re.sub(r"\d+", "N", re.search(
                r'class="error"[^>]*>([^<]*)<', last.body.decode()).group(1)),
                re.search(r'class="error"[^>]*>([^<]*)<',
                          page.body.decode()).group(1))
        self.assertEqual(msgs["pat@example.com"],
                         msgs["nobody@example.com"])


def totp(secret_b32, t):
    """RFC 6238, SHA-1, 6 digits, 30 s steps, written out here."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    d = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    off = d[-1] & 15
    v = (struct.unpack(">I", d[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % v


class SecondFactorTest(FrontCase):

    def test_totp_page_after_the_password(self):
        r = self.api.post(T + "/identities", {"kind": "person",
                                              "name": "sam",
                                              "state": "active"})
        self.assertEqual(r.status, 201, r)
        ident = r.json()["id"]
        r = self.api.post(T + "/accounts", {
            "identity_id": ident, "system_id": self.system_id,
            "login_name": "sam@example.com"})
        acct = r.json()["id"]
        r = self.api.request("PUT", "%s/accounts/%s/password" % (T, acct),
                             body={"password": PASSWORD})
        self.assertIn(r.status, (200, 204), r)
        r = self.api.post("%s/accounts/%s/totp" % (T, acct))
        secret = r.json()["secret"]
        now = time.time()
        r = self.api.post("%s/accounts/%s/totp/confirm" % (T, acct),
                          {"code": totp(secret, now - 30)})
        self.assertEqual(r.status, 204, r)

        c = self.client()
        v = secrets.token_urlsafe(32)
        b = Browser(self.anon)
        page = self.sign_in(b, b.go("GET", self.auth_url(c, v)),
                            login="sam@example.com")
        self.assertEqual(page.status, 200, page)
        self.assertIn(b'name="code"', page.body)
        # Half signed in counts for nothing at the authorization endpoint.
        r = b.go("GET", self.auth_url(c, v, prompt="none"))
        self.assertIn("error=login_required", r.header("Location"))
        r = b.go("POST", I + "/login/totp", {
            "return_to": hidden(page, "return_to"), "code": "000000"})
        self.assertEqual(r.status, 403, r)
        r = b.go("POST", I + "/login/totp", {
            "csrf": hidden(page, "csrf"),
            "return_to": hidden(page, "return_to"), "code": "12345678"})
        self.assertEqual(r.status, 401, r)
        r = b.go("POST", I + "/login/totp", {
            "csrf": hidden(page, "csrf"),
            "return_to": hidden(page, "return_to"),
            "code": totp(secret, now)})
        self.assertEqual(r.status, 303, r)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(
            r.header("Location")).query))
        tok = self.redeem(c, q["code"], v).json()
        idt = claims(tok["id_token"])
        self.assertEqual(idt["amr"], ["pwd", "otp"])
        self.assertEqual(idt["sub"], ident)


class CertifiedClientsTest(FrontCase):
    """openid-client, oauth4webapi and jose (tests/oidc/codeflow.mjs);
    python3-authlib.  A server of its own: the last node check locks the
    person's name."""

    def test_authlib_code_flow_and_client_credentials(self):
        OAuth2Session = authlib_session(self)
        c = self.client()
        s = OAuth2Session(c["client_id"], c["client_secret"],
                          scope="openid email", redirect_uri=REDIRECT,
                          code_challenge_method="S256")
        verifier = secrets.token_urlsafe(48)
        url, state = s.create_authorization_url(
            self.issuer + "/authorize", code_verifier=verifier,
            nonce="n-authlib")
        b = Browser(self.anon)
        r = b.go("GET", url.split(str(self.server.port), 1)[1])
        r = self.sign_in(b, r)
        self.assertEqual(r.status, 303, r)
        tok = s.fetch_token(self.issuer + "/token",
                            authorization_response=r.header("Location"),
                            code_verifier=verifier)
        self.assertEqual(claims(tok["id_token"])["nonce"], "n-authlib")
        info = s.get(self.issuer + "/userinfo").json()
        self.assertEqual(info["email"], "pat@example.com")
        svc = self.client(grant_types=["client_credentials"],
                          redirect_uris=[], scope="read")
        s2 = OAuth2Session(svc["client_id"], svc["client_secret"],
                           scope="read")
        tok = s2.fetch_token(self.issuer + "/token",
                             grant_type="client_credentials")
        self.assertEqual(tok["scope"], "read")

    def test_node_clients(self):
        run_node(self, "codeflow.mjs", need="openid-client",
                 ZTIAM_URL="http://127.0.0.1:%d" % self.server.port,
                 ZTIAM_ADMIN_TOKEN=self.api.token, ZTIAM_TENANT="front",
                 ZTIAM_SYSTEM="staff", ZTIAM_LOGIN="pat@example.com",
                 ZTIAM_PASSWORD=PASSWORD)


class BrowserTest(FrontCase):
    """A real browser (Debian's chromium, which scripts/deps.sh installs,
    driven by playwright-core: tests/oidc/browser.mjs)."""

    def test_chromium_signs_in(self):
        chromium = shutil.which("chromium")
        if chromium is None:
            self.fail("chromium is required (scripts/deps.sh installs it)")
        run_node(self, "browser.mjs", need="playwright-core",
                 ZTIAM_URL="http://127.0.0.1:%d" % self.server.port,
                 ZTIAM_ADMIN_TOKEN=self.api.token, ZTIAM_TENANT="front",
                 ZTIAM_SYSTEM="staff", ZTIAM_LOGIN="pat@example.com",
                 ZTIAM_PASSWORD=PASSWORD, CHROMIUM=chromium)


if __name__ == "__main__":
    main()
