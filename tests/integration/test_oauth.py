#!/usr/bin/env python3
"""
End-to-end tests of the OAuth 2.0 / OpenID Connect provider of `ztiam
serve` (/t/{tenant}/{system}/...): the flows driven by certified client
libraries (tests/oidc/flows.mjs: openid-client, oauth4webapi, jose), a
second client family (python3-authlib) doing client_credentials, and
refused requests that change nothing in the database.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_oauth.py
With ZTIAM_TEST_DB=postgres://... the server uses PostgreSQL.
"""
import base64
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Server, ServerTestCase,  # noqa: E402
                     authlib_session, basic_auth, main, run_node)


class OAuthCase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.api.post("/v1/tenants", {"id": "acme"})
        assert r.status == 201, r
        r = cls.api.post("/v1/tenants/acme/account-systems",
                         {"name": "staff", "kind": "workforce"})
        assert r.status == 201, r
        cls.issuer = "http://127.0.0.1:%d/t/acme/staff" % cls.server.port

    def client(self, **meta):
        body = {"account_system": "staff", "client_name": "t",
                "grant_types": ["client_credentials"], "scope": "read"}
        body.update(meta)
        r = self.api.post("/v1/tenants/acme/clients", body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def form(self, path, fields, headers=None, content_type=None):
        return self.anon.post(
            "/t/acme/staff/" + path, urllib.parse.urlencode(fields),
            headers=headers or {},
            content_type=content_type or "application/x-www-form-urlencoded")

    basic = staticmethod(basic_auth)

    def fingerprint(self):
        return self.ws.fingerprint()


class CertifiedClientsTest(OAuthCase):

    def test_node_clients(self):
        run_node(self, "flows.mjs", ZTIAM_URL="http://127.0.0.1:%d"
                 % self.server.port, ZTIAM_ADMIN_TOKEN=self.api.token,
                 ZTIAM_TENANT="acme", ZTIAM_SYSTEM="staff")

    def test_authlib_client_credentials(self):
        OAuth2Session = authlib_session(self)
        for method in ("client_secret_basic", "client_secret_post"):
            c = self.client(scope="read write",
                            token_endpoint_auth_method=method)
            s = OAuth2Session(c["client_id"], c["client_secret"],
                              token_endpoint_auth_method=method,
                              scope="read")
            tok = s.fetch_token(self.issuer + "/token",
                                grant_type="client_credentials")
            self.assertEqual(tok["token_type"], "Bearer")
            self.assertEqual(tok["scope"], "read")
            payload = tok["access_token"].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(
                payload + "=" * (-len(payload) % 4)))
            self.assertEqual(claims["iss"], self.issuer)
            self.assertEqual(claims["client_id"], c["client_id"])


class EndpointTest(OAuthCase):

    def test_issued_token_is_audited_without_the_token(self):
        c = self.client()
        r = self.form("token", {"grant_type": "client_credentials"},
                      self.basic(c["client_id"], c["client_secret"]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.header("Pragma"), "no-cache")
        token = r.json()["access_token"]
        claims = json.loads(base64.urlsafe_b64decode(
            token.split(".")[1] + "=="))
        items = [i for i in self.api.audit_items()
                 if i["action"] == "oauth.token"]
        self.assertTrue(any(json.dumps(i).find(claims["jti"]) >= 0
                            for i in items))
        self.assertFalse(any(token in json.dumps(i) for i in items))

    def test_concurrent_tokens_are_each_audited(self):
        """Tokens answered together share one group commit: every token
        answered has its record, and the chain still verifies."""
        import concurrent.futures
        c = self.client()
        auth = self.basic(c["client_id"], c["client_secret"])

        def one(_):
            r = self.form("token", {"grant_type": "client_credentials"},
                          auth)
            self.assertEqual(r.status, 200, r)
            tok = r.json()["access_token"].split(".")[1]
            return json.loads(base64.urlsafe_b64decode(
                tok + "=" * (-len(tok) % 4)))["jti"]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            jtis = set(pool.map(one, range(64)))
        self.assertEqual(len(jtis), 64)
        text = json.dumps([i for i in self.api.audit_items()
                           if i["action"] == "oauth.token"])
        for jti in jtis:
            self.assertIn(jti, text)
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_refused_requests_change_nothing(self):
        c = self.client()
        good = self.basic(c["client_id"], c["client_secret"])
        before = self.fingerprint()
        cases = [
            (self.basic(c["client_id"], "ztcs_nope"),
             {"grant_type": "client_credentials"}, 401, "invalid_client"),
            (self.basic("nobody", "x"),
             {"grant_type": "client_credentials"}, 401, "invalid_client"),
            ({}, {"grant_type": "client_credentials",
                  "client_id": c["client_id"],
                  "client_secret": c["client_secret"]},
             401, "invalid_client"),
            (good, {"grant_type": "client_credentials",
                    "client_id": c["client_id"],
                    "client_secret": c["client_secret"]},
             400, "invalid_request"),
            (good, {"grant_type": "authorization_code", "code": "x"},
             400, "unauthorized_client"),
            (good, {"grant_type": "password", "username": "x"},
             400, "unsupported_grant_type"),
            (good, {}, 400, "invalid_request"),
            (good, {"grant_type": "client_credentials", "scope": "write"},
             400, "invalid_scope"),
        ]
        for headers, fields, status, error in cases:
            r = self.form("token", fields, headers)
            self.assertEqual(r.status, status, (fields, r))
            self.assertEqual(r.json()["error"], error, r)
            if status == 401:
                self.assertTrue(r.header("WWW-Authenticate")
                                .startswith("Basic "))
        r = self.anon.post("/t/acme/staff/token",
                           "grant_type=client_credentials&grant_type=x",
                           headers=good,
                           content_type="application/x-www-form-urlencoded")
        self.assertEqual(r.json()["error"], "invalid_request")
        r = self.anon.post("/t/acme/staff/token",
                           {"grant_type": "client_credentials"},
                           headers=good)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"], "invalid_request")
        r = self.form("introspect", {"token": "a.b.c"},
                      self.basic(c["client_id"], "bad"))
        self.assertEqual(r.json()["error"], "invalid_client")
        self.assertEqual(self.fingerprint(), before)

    def test_other_issuer_token_is_inactive(self):
        r = self.api.post("/v1/tenants/acme/account-systems",
                          {"name": "other", "kind": "service"})
        self.assertEqual(r.status, 201, r)
        other = self.api.post("/v1/tenants/acme/clients", {
            "account_system": "other", "grant_types":
            ["client_credentials"], "scope": "read"}).json()
        r = self.anon.post("/t/acme/other/token",
                           "grant_type=client_credentials",
                           headers=self.basic(other["client_id"],
                                              other["client_secret"]),
                           content_type="application/x-www-form-urlencoded")
        self.assertEqual(r.status, 200, r)
        foreign = r.json()["access_token"]
        c = self.client()
        auth = self.basic(c["client_id"], c["client_secret"])
        r = self.form("introspect", {"token": foreign}, auth)
        self.assertEqual(r.json(), {"active": False})
        # The other issuer's client is no client of this one.
        r = self.form("token", {"grant_type": "client_credentials"},
                      self.basic(other["client_id"], other["client_secret"]))
        self.assertEqual(r.status, 401)

    def test_public_client_cannot_introspect(self):
        pub = self.client(token_endpoint_auth_method="none",
                          grant_types=["authorization_code"],
                          redirect_uris=["https://app.example/cb"])
        c = self.client()
        r = self.form("token", {"grant_type": "client_credentials"},
                      self.basic(c["client_id"], c["client_secret"]))
        token = r.json()["access_token"]
        r = self.form("introspect", {"token": token,
                                     "client_id": pub["client_id"]})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"], "invalid_client")

    def test_unknown_issuer_is_404(self):
        r = self.anon.get("/t/acme/nope/.well-known/openid-configuration")
        self.assertEqual(r.status, 404)
        r = self.anon.get("/t/nope/staff/jwks")
        self.assertEqual(r.status, 404)


def dpop_proof(htu, htm="POST"):
    """A fresh DPoP proof (RFC 9449 4.2) under a new P-256 key."""
    sys.path.append("/usr/lib/python3/dist-packages")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import \
        decode_dss_signature

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64(pub.x.to_bytes(32, "big")),
           "y": b64(pub.y.to_bytes(32, "big"))}
    head = b64(json.dumps({"typ": "dpop+jwt", "alg": "ES256",
                           "jwk": jwk}).encode())
    body = b64(json.dumps({"jti": b64(os.urandom(16)), "htm": htm,
                           "htu": htu, "iat": int(time.time())}).encode())
    r, s = decode_dss_signature(key.sign((head + "." + body).encode(),
                                         ec.ECDSA(hashes.SHA256())))
    return "%s.%s.%s" % (head, body,
                         b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")))


class TwoNodesTest(OAuthCase):
    """Two servers on one PostgreSQL database, behind one public URL."""

    server_args = ("--public-url", "https://id.example")

    def test_proof_used_on_one_node_is_refused_on_the_other(self):
        if not self.ws.is_postgres:
            self.skipTest("nodes share state only on PostgreSQL")
        other = Server(self.ws, args=self.server_args)
        self.addCleanup(other.kill)
        other.start()
        anon2 = other.client(token=None)
        c = self.client()
        htu = "https://id.example/t/acme/staff/token"
        body = urllib.parse.urlencode({"grant_type": "client_credentials"})
        headers = basic_auth(c["client_id"], c["client_secret"])
        proof = dpop_proof(htu)

        def post(client, proof):
            return client.post("/t/acme/staff/token", body,
                               headers=dict(headers, DPoP=proof),
                               content_type="application/"
                               "x-www-form-urlencoded")
        r = post(self.anon, proof)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["token_type"], "DPoP")
        r = post(anon2, proof)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"], "invalid_dpop_proof")
        self.assertIn("used before", r.json()["error_description"])
        # The other node takes a proof of its own.
        self.assertEqual(post(anon2, dpop_proof(htu)).status, 200)
        self.assertEqual(other.stop(), 0)


if __name__ == "__main__":
    main()
