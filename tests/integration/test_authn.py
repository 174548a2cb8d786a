#!/usr/bin/env python3
"""Credentials and sessions through the running server: passwords under
an account system's policy, logins with throttling that never tells a
known name from an unknown one, TOTP enrollment and use, recovery codes,
session listing and revocation, and the CLI for all of it.  The last test
reads the server's whole log and audit trail for every password, secret,
code and cookie value the others used: none may appear."""

import base64
import hashlib
import hmac
import json
import struct
import time

from harness import ServerTestCase, main

T = "/v1/tenants/auth-acme"

# Every secret the tests handle; the last test looks for each.
SECRETS = []


def totp(secret_b32, t):
    """RFC 6238 with SHA-1, 6 digits, 30 s steps, written out here so the
    test does not trust the server's own code maker."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1)
    d = mac.digest()
    off = d[-1] & 15
    v = (struct.unpack(">I", d[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % v


class AuthnTest(ServerTestCase):
    server_args = ("--log-level", "debug")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        api = cls.api
        api.ensure_tenant("auth-acme")
        cheap = {"min_length": 10, "history": 2, "argon2_memory_kib": 1024,
                 "argon2_iterations": 1}
        r = api.post(T + "/account-systems", {
            "name": "staff", "kind": "workforce",
            "password_policy": cheap})
        assert r.status == 201, r
        cls.sys = r.json()["id"]
        cls.people = {}
        for name in ("alice", "bob", "carol", "dave"):
            r = api.post(T + "/identities", {
                "kind": "person", "name": name, "state": "active"})
            assert r.status == 201, r
            ident = r.json()["id"]
            r = api.post(T + "/accounts", {
                "identity_id": ident, "system_id": cls.sys,
                "login_name": name + "@example.com"})
            assert r.status == 201, r
            cls.people[name] = (ident, r.json()["id"])
        cls.env = {"ZTIAM_SERVER": cls.server.url,
                   "ZTIAM_TOKEN": cls.api.token, "ZTIAM_DATA": "",
                   "ZTIAM_TENANT": "auth-acme"}

    # ---- helpers ---------------------------------------------------------

    def set_password(self, who, pw):
        SECRETS.append(pw)
        return self.api.request("PUT", "%s/accounts/%s/password"
                                % (T, self.people[who][1]),
                                body={"password": pw})

    def login(self, who, pw, **extra):
        body = {"system": "staff", "login_name": who + "@example.com",
                "password": pw}
        body.update(extra)
        r = self.api.post(T + "/sessions", body)
        if r.status == 201:
            SECRETS.append(r.json()["token"])
        return r

    # ---- passwords and login ---------------------------------------------

    def test_password_policy_is_named_and_login_works(self):
        for pw, rule in (("short-1", "min_length"),
                         ("QwertyUIOP", "common"),
                         ("x" * 257, "max_bytes")):
            doc = self.assertProblem(self.set_password("alice", pw), 400,
                                     "password_policy")
            self.assertEqual(doc["rule"], rule)
            self.assertIn(rule, doc["detail"])
            self.assertNotIn(pw, doc["detail"])
        self.assertEqual(self.set_password("alice", "alice-first-pw").status,
                         204)
        doc = self.assertProblem(self.set_password("alice", "alice-first-pw"),
                                 400, "password_policy")
        self.assertEqual(doc["rule"], "history")
        r = self.api.request("PUT", T + "/accounts/AAAAAAAAAAAAAAAA/password",
                             body={"password": "whatever-long-1"})
        self.assertProblem(r, 404, "not_found")

        r = self.login("alice", "alice-first-pw")
        self.assertEqual(r.status, 201, r)
        doc = r.json()
        self.assertEqual(doc["identity_id"], self.people["alice"][0])
        self.assertEqual(doc["amr"], "pwd")
        self.assertEqual(doc["set_cookie"], "ztiam_session=%s; Path=/;"
                         " HttpOnly; SameSite=Lax" % doc["token"])

        wrong = self.login("alice", "not-her-password")
        unknown = self.login("nobody", "alice-first-pw")
        for r in (wrong, unknown):
            d = self.assertProblem(r, 401, "invalid_credentials")
            self.assertEqual(d["detail"], "invalid credentials")

    def test_throttling_looks_the_same_for_known_and_unknown(self):
        self.assertEqual(self.set_password("bob", "bob-password-1").status,
                         204)
        answers = {}
        for name in ("bob", "no-such-person"):
            for _ in range(5):
                r = self.login(name, "wrong-guess-123")
                self.assertProblem(r, 401, "invalid_credentials")
            # Even the right password waits now.
            r = self.login(name, "bob-password-1")
            d = self.assertProblem(r, 429, "too_many_attempts")
            self.assertEqual(r.header("Retry-After"), "1")
            answers[name] = d["detail"]
        self.assertEqual(answers["bob"], answers["no-such-person"])
        self.assertEqual(answers["bob"], "too many attempts, retry after 1 s")
        time.sleep(1.1)
        self.assertEqual(self.login("bob", "bob-password-1").status, 201)

    def test_argon2_cost_bounds_and_other_tenants(self):
        for bad in ({"argon2_memory_kib": 32}, {"argon2_iterations": 0},
                    {"argon2_parallelism": 17}):
            r = self.api.post(T + "/account-systems", {
                "name": "bad-cost", "kind": "customer",
                "password_policy": bad})
            self.assertProblem(r, 400, "invalid_request")
        # Another tenant's token finds none of this tenant's accounts.
        self.api.ensure_tenant("auth-other")
        other = self.api.create_token("other", tenant="auth-other")["token"]
        ident, acct = self.people["alice"]
        for method, path, body in (
                ("PUT", "%s/accounts/%s/password" % (T, acct),
                 {"password": "another-tenant-pw"}),
                ("POST", "%s/accounts/%s/totp" % (T, acct), None),
                ("GET", "%s/identities/%s/sessions" % (T, ident), None)):
            r = self.api.request(method, path, body=body, token=other)
            self.assertProblem(r, 404, "not_found")

    # ---- TOTP and recovery codes -----------------------------------------

    def test_totp_enroll_confirm_and_login(self):
        ident, acct = self.people["carol"]
        self.assertEqual(self.set_password("carol", "carol-password").status,
                         204)
        r = self.api.post("%s/accounts/%s/totp" % (T, acct))
        self.assertEqual(r.status, 201, r)
        doc = r.json()
        SECRETS.append(doc["secret"])
        self.assertTrue(doc["uri"].startswith(
            "otpauth://totp/auth-acme:carol%40example.com?secret="))
        self.assertIn("&issuer=auth-acme&", doc["uri"])
        self.assertTrue(doc["qr_svg"].startswith("<svg "))

        # Pending until confirmed: the password alone still logs in.
        self.assertEqual(self.login("carol", "carol-password").status, 201)
        r = self.api.post("%s/accounts/%s/totp/confirm" % (T, acct),
                          {"code": "12345"})
        self.assertProblem(r, 400, "invalid_request")
        now = time.time()
        code = totp(doc["secret"], now)
        r = self.api.post("%s/accounts/%s/totp/confirm" % (T, acct),
                          {"code": code})
        self.assertEqual(r.status, 204, r)

        r = self.login("carol", "carol-password")
        self.assertProblem(r, 401, "mfa_required")
        r = self.login("carol", "carol-password", code=code)
        self.assertProblem(r, 401, "invalid_credentials")  # spent
        nxt = totp(doc["secret"], now + 30)
        r = self.login("carol", "carol-password", code=nxt)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["amr"], "pwd otp")

        r = self.api.post("%s/accounts/%s/recovery-codes" % (T, acct))
        self.assertEqual(r.status, 201, r)
        codes = r.json()["codes"]
        SECRETS.extend(codes)
        self.assertEqual(len(codes), 10)
        r = self.login("carol", "carol-password", recovery_code=codes[0])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["amr"], "pwd rcode")
        r = self.login("carol", "carol-password", recovery_code=codes[0])
        self.assertProblem(r, 401, "invalid_credentials")

        # Sessions of carol: listed without their cookie values.
        r = self.api.get("%s/identities/%s/sessions" % (T, ident))
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        self.assertEqual(len(items), 3)
        for s in SECRETS:
            self.assertNotIn(s, r.body.decode())
        self.assertEqual(items[0]["amr"], ["pwd", "rcode"])
        r = self.api.delete("%s/sessions/%s" % (T, items[0]["id"]))
        self.assertEqual(r.status, 204, r)
        r = self.api.delete("%s/sessions/%s" % (T, items[0]["id"]))
        self.assertProblem(r, 404, "not_found")
        r = self.api.delete("%s/identities/%s/sessions" % (T, ident))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"revoked": 2})
        r = self.api.get("%s/identities/%s/sessions" % (T, ident))
        self.assertEqual(r.json()["items"], [])

        r = self.api.delete("%s/accounts/%s/totp" % (T, acct))
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.login("carol", "carol-password").status, 201)

    # ---- the CLI ---------------------------------------------------------

    def cli(self, *args, stdin=None):
        return self.ws.run_cli(*args, env=self.env, stdin_text=stdin)

    def test_cli_password_totp_sessions(self):
        ident, acct = self.people["dave"]
        pw = "dave-typed-on-stdin"
        SECRETS.append(pw)
        out = self.cli("account", "password", "set", "--account", acct,
                       stdin=pw + "\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.login("dave", pw).status, 201)
        out = self.cli("account", "password", "set", "--account", acct,
                       stdin="1234567890\n")
        self.assertEqual(out.returncode, 1)
        self.assertIn("common", out.stderr)

        out = self.cli("account", "totp", "enroll", "--account", acct,
                       "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        secret = json.loads(out.stdout)["secret"]
        SECRETS.append(secret)
        out = self.cli("account", "totp", "confirm", "--account", acct,
                       "--code", totp(secret, time.time()))
        self.assertEqual(out.returncode, 0, out.stderr)
        out = self.cli("account", "recovery-codes", "--account", acct)
        self.assertEqual(out.returncode, 0, out.stderr)
        SECRETS.extend(out.stdout.split()[:10])
        out = self.cli("account", "totp", "delete", "--account", acct)
        self.assertEqual(out.returncode, 0, out.stderr)

        out = self.cli("session", "list", "--identity", ident, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        sessions = json.loads(out.stdout)
        self.assertEqual(len(sessions), 1)
        out = self.cli("session", "revoke", sessions[0]["id"])
        self.assertEqual(out.returncode, 0, out.stderr)
        out = self.cli("session", "revoke", sessions[0]["id"])
        self.assertEqual(out.returncode, 1)
        out = self.cli("session", "revoke", "--identity", ident)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("revoked 0 sessions", out.stdout)

    # ---- last: nothing secret leaked ----------------------------------------

    def test_zz_no_secret_in_log_or_audit(self):
        self.assertGreater(len(SECRETS), 20)
        audit = json.dumps(self.api.audit_items())
        log = self.server.stderr_text()
        self.assertIn("accounts.password.set", log)    # the log is there
        self.assertIn("password.set", audit)
        for s in SECRETS:
            self.assertNotIn(s, log)
            self.assertNotIn(s, audit)
        self.assertNotIn("$argon2id", log + audit)


if __name__ == "__main__":
    main()
