#!/usr/bin/env python3
"""
End-to-end tests of the signing keys of `ztiam serve`: the master key
(made on first start with mode 0600, taken from ZTIAM_MASTER_KEY or
--master-key-file, refused when others may read its file), rotation
through the REST API and through `ztiam keys`, the states and public JWKs
that lists show, the system-administrator-only rule, the audit records of
each step, and that no private key or master key ever appears in a
response or a log line.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_keys.py
With ZTIAM_TEST_DB=postgres://... the servers use PostgreSQL.
"""

import base64
import json
import os
import subprocess
import sys
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    Checks, Server, ServerTestCase, Workspace, free_port, main, psql,
    ztiam_bin)

PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


def sealed_keys(ws):
    """The sealed private keys, read from the database directly."""
    sql = "SELECT private_sealed FROM signing_keys"
    if ws.is_postgres:
        return [line for line in psql(ws.db_url, sql,
                                      tuples=True).split() if line]
    import sqlite3
    conn = sqlite3.connect("file:%s?mode=ro" % ws.sqlite_path, uri=True)
    try:
        return [r[0] for r in conn.execute(sql)]
    finally:
        conn.close()


class KeysAPITest(ServerTestCase):

    def rotate(self, scope, alg="ES256", **kw):
        body = {"scope": scope, "alg": alg}
        body.update(kw)
        r = self.api.post("/v1/keys/rotate", body)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def keys(self, scope=None):
        path = "/v1/keys"
        if scope:
            path += "?scope=" + quote(scope, safe="")
        r = self.api.get(path)
        self.assertEqual(r.status, 200, r)
        return r.json()["items"]

    def cli(self, *args):
        env = {"ZTIAM_SERVER": self.server.url, "ZTIAM_TOKEN":
               self.api.token, "ZTIAM_DATA": ""}
        return self.ws.run_cli(*args, env=env)

    def test_rotation_timeline_through_api_and_cli(self):
        scope = "oidc:acme/main"
        first = self.rotate(scope)
        self.assertEqual(first["step"], "created")
        k1 = first["key"]["kid"]
        self.assertEqual(first["key"]["state"], "active")

        out = self.cli("keys", "rotate", "--scope", scope, "--alg", "EdDSA")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("prepared", out.stdout)
        states = {k["kid"]: k["state"] for k in self.keys(scope)}
        self.assertEqual(states[k1], "active")
        k2 = [kid for kid, st in states.items() if st == "prepared"][0]

        # The second step through the API, with a stated token lifetime.
        second = self.rotate(scope, alg="EdDSA", max_token_lifetime=600)
        self.assertEqual(second["step"], "activated")
        self.assertEqual(second["key"]["kid"], k2)
        items = {k["kid"]: k for k in self.keys(scope)}
        self.assertEqual(items[k1]["state"], "retired")
        self.assertEqual(items[k2]["state"], "active")
        self.assertIsNotNone(items[k1]["retired_at"])
        self.assertIsNotNone(items[k1]["publish_until"])
        self.assertGreater(items[k1]["publish_until"],
                           items[k1]["retired_at"])

        # Public JWKs: the right members, kid and alg, nothing private.
        jwk1, jwk2 = items[k1]["public_jwk"], items[k2]["public_jwk"]
        self.assertEqual((jwk1["kty"], jwk1["crv"], jwk1["alg"]),
                         ("EC", "P-256", "ES256"))
        self.assertEqual((jwk2["kty"], jwk2["crv"], jwk2["alg"]),
                         ("OKP", "Ed25519", "EdDSA"))
        self.assertEqual(jwk1["kid"], k1)
        self.assertEqual(jwk1["use"], "sig")
        for jwk in (jwk1, jwk2):
            for m in PRIVATE_JWK_MEMBERS:
                self.assertNotIn(m, jwk)

        # The CLI's table and --json agree with the API.
        out = self.cli("keys", "list", "--scope", scope)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.splitlines()[0].split()[:4],
                         ["SCOPE", "KID", "ALG", "STATE"])
        self.assertIn(k1, out.stdout)
        out = self.cli("keys", "list", "--scope", scope, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual({k["kid"] for k in json.loads(out.stdout)},
                         {k1, k2})

        # Each step is in the audit trail, without key material.
        records = [a for a in self.api.audit_items()
                   if a["action"].startswith("key.")
                   and a["target"].startswith("key:" + scope + "/")]
        self.assertEqual([a["action"] for a in records],
                         ["key.create", "key.prepare", "key.activate"])
        for a in records:
            self.assertNotIn("public_jwk", json.dumps(a))

    def test_scopes_are_apart_and_listed(self):
        self.rotate("jwt-svid:example.org", alg="RS256")
        self.rotate("oidc:other/x", alg="PS256")
        svid = self.keys("jwt-svid:example.org")
        self.assertEqual(len(svid), 1)
        self.assertEqual(svid[0]["public_jwk"]["kty"], "RSA")
        every = {k["scope"] for k in self.keys()}
        self.assertTrue({"jwt-svid:example.org", "oidc:other/x"} <= every)

    def test_bad_requests(self):
        for body in ({"scope": "no colon"}, {"scope": "a:b", "alg": "HS256"},
                     {"scope": "a:b", "alg": "none"}, {"alg": "ES256"},
                     {"scope": "a:b", "extra": 1}):
            r = self.api.post("/v1/keys/rotate", body)
            self.assertProblem(r, 400, ("invalid_request", "invalid"))
        r = self.api.get("/v1/keys?scope=" + quote("bad scope"))
        self.assertEqual(r.status, 400, r)
        out = self.cli("keys", "rotate", "--alg", "ES256")
        self.assertEqual(out.returncode, 2)

    def test_only_system_administrators(self):
        self.api.ensure_tenant("keys-t")
        tok = self.api.create_token("t-admin", tenant="keys-t")["token"]
        r = self.api.get("/v1/keys", token=tok)
        self.assertProblem(r, 403, "forbidden")
        r = self.api.post("/v1/keys/rotate", {"scope": "oidc:keys-t/x"},
                          token=tok)
        self.assertProblem(r, 403, "forbidden")
        self.assertUnauthorized(self.anon.get("/v1/keys"))

    def test_zz_no_private_material_in_responses_or_logs(self):
        # Named to run last in the class: it reads every key made.
        self.rotate("oidc:leak/check")
        sealed = sealed_keys(self.ws)
        self.assertTrue(sealed)
        with open(os.path.join(self.ws.data, "master.key")) as f:
            master = f.read().strip()
        bodies = [self.api.get("/v1/keys").body.decode(),
                  self.api.get("/v1/audit?limit=1000").body.decode()]
        logs = self.server.stderr_text() + self.server.stdout_text()
        for text in bodies + [logs]:
            self.assertNotIn(master, text)
            for s in sealed:
                self.assertNotIn(s, text)
                self.assertNotIn(s[:40], text)
        for text in bodies:
            doc = json.loads(text)
            for item in doc["items"]:
                jwk = item.get("public_jwk") or {}
                for m in PRIVATE_JWK_MEMBERS:
                    self.assertNotIn(m, jwk)
        self.assertIn("master key created", logs)
        mode = os.stat(os.path.join(self.ws.data, "master.key")).st_mode
        self.assertEqual(mode & 0o777, 0o600)


class MasterKeyTest(Checks):
    """Where the master key comes from, and the files refused."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)

    def start_fails(self, args=(), env=None):
        """Runs `ztiam serve` expecting it to refuse to start."""
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("ZTIAM_")}
        e.update(env or {})
        cmd = [ztiam_bin(), "serve", "--listen",
               "127.0.0.1:%d" % free_port()] + self.ws.db_args() + list(args)
        out = subprocess.run(cmd, env=e, capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
        self.assertNotEqual(out.returncode, 0, out.stderr)
        return out.stderr

    def test_key_file_readable_by_others_is_refused(self):
        os.makedirs(self.ws.data, exist_ok=True)
        path = os.path.join(self.ws.dir, "mk")
        key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        with open(path, "w") as f:
            f.write(key + "\n")
        for mode in (0o644, 0o640, 0o604):
            os.chmod(path, mode)
            err = self.start_fails(["--master-key-file", path])
            self.assertIn("chmod 600", err)
            self.assertNotIn(key, err)
        os.chmod(path, 0o600)
        server = Server(self.ws, args=["--master-key-file", path])
        self.addCleanup(server.kill)
        server.start()
        self.assertIn("master key loaded", server.stderr_text())
        self.assertNotIn(key, server.stderr_text())
        self.assertFalse(os.path.exists(os.path.join(self.ws.data,
                                                     "master.key")))
        self.assertStops(server)

    def test_default_file_with_loose_mode_is_refused(self):
        server = Server(self.ws)
        self.addCleanup(server.kill)
        server.start()
        self.assertStops(server)
        path = os.path.join(self.ws.data, "master.key")
        os.chmod(path, 0o644)
        self.assertIn("chmod 600", self.start_fails())

    def test_missing_named_file_and_bad_env_are_refused(self):
        self.start_fails(["--master-key-file",
                          os.path.join(self.ws.dir, "absent")])
        err = self.start_fails(env={"ZTIAM_MASTER_KEY": "not-a-key"})
        self.assertNotIn("not-a-key", err)

    def test_master_key_from_environment(self):
        key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        server = Server(self.ws, env={"ZTIAM_MASTER_KEY": key})
        self.addCleanup(server.kill)
        server.start()
        r = server.client().post("/v1/keys/rotate", {"scope": "oidc:e/x"})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(key, server.stderr_text() + server.stdout_text())
        self.assertFalse(os.path.exists(os.path.join(self.ws.data,
                                                     "master.key")))
        self.assertStops(server)


if __name__ == "__main__":
    main()
