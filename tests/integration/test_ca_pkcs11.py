#!/usr/bin/env python3
"""
The server's intermediate key in a PKCS#11 token (--ca-key-uri): a
throwaway softhsm2 token holds a P-256 key pair made inside it (never
extractable), the server starts with the key's URI, makes its CA with
that key as the intermediate's, and every signature (SVIDs, CRLs, OCSP
answers) is made in the token.  Checked with `openssl verify`, against the
token's own public key, and by the database holding no private key for
it.  A server started without the URI refuses to start on such a CA; a
CA made before the token was named takes the token's key as its prepared
intermediate; a root rotation re-signs the token's key under the new
root.

Skipped when softhsm2 or pkcs11-tool is missing (scripts/deps.sh installs
both).

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_ca_pkcs11.py
With ZTIAM_TEST_DB=postgres://... the servers use PostgreSQL.
"""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Checks, Server, Workspace, main  # noqa: E402

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
URI = "pkcs11:token=zt;object=ca;type=private"
PIN = "1234"


def have_softhsm():
    return (os.path.exists(MODULE) and shutil.which("softhsm2-util")
            and shutil.which("pkcs11-tool"))


def run(*cmd, env=None, cwd=None, check=True):
    return subprocess.run(list(cmd), env=env, cwd=cwd, check=check,
                          capture_output=True, text=True, timeout=60)


class Token:
    """A softhsm2 token of its own in `d`, with one P-256 key pair
    labelled "ca", made inside the token."""

    def __init__(self, d):
        self.dir = os.path.join(d, "softhsm")
        os.makedirs(os.path.join(self.dir, "tokens"))
        self.conf = os.path.join(self.dir, "softhsm2.conf")
        with open(self.conf, "w") as f:
            f.write("directories.tokendir = %s/tokens\n"
                    "objectstore.backend = file\n" % self.dir)
        self.env = dict(os.environ, SOFTHSM2_CONF=self.conf)
        run("softhsm2-util", "--init-token", "--free", "--label", "zt",
            "--pin", PIN, "--so-pin", "5678", env=self.env)
        run("pkcs11-tool", "--module", MODULE, "--login", "--pin", PIN,
            "--keypairgen", "--key-type", "EC:prime256v1", "--label", "ca",
            "--id", "01", env=self.env)
        self.pin_file = os.path.join(self.dir, "pin")
        with open(self.pin_file, "w") as f:
            f.write(PIN + "\n")
        os.chmod(self.pin_file, 0o600)

    def public_der(self):
        out = os.path.join(self.dir, "pub.der")
        run("pkcs11-tool", "--module", MODULE, "--read-object", "--type",
            "pubkey", "--label", "ca", "-o", out, env=self.env)
        with open(out, "rb") as f:
            return f.read()

    def server_args(self):
        return ["--ca-key-uri", URI, "--ca-pkcs11-module", MODULE,
                "--ca-key-pin-file", self.pin_file]


def spki_der(cert_pem, d):
    path = os.path.join(d, "cert-for-key.pem")
    with open(path, "w") as f:
        f.write(cert_pem)
    pem = run("openssl", "x509", "-in", path, "-noout", "-pubkey").stdout
    with open(path, "w") as f:
        f.write(pem)
    return subprocess.run(["openssl", "pkey", "-pubin", "-in", path,
                           "-outform", "DER"], capture_output=True,
                          check=True, timeout=60).stdout


@unittest.skipUnless(have_softhsm(), "softhsm2 or pkcs11-tool is missing")
class TokenCATest(Checks):
    """A CA made with the token's key from the first start."""

    @classmethod
    def setUpClass(cls):
        cls.ws = Workspace()
        cls.addClassCleanup(cls.ws.close)
        cls.d = cls.ws.dir
        cls.token = Token(cls.d)
        cls.server = Server(cls.ws, args=cls.token.server_args(),
                            env={"SOFTHSM2_CONF": cls.token.conf})
        cls.addClassCleanup(cls.server.kill)
        cls.server.start()
        cls.api = cls.server.client()
        cls.anon = cls.server.client(token=None)
        cls.api.ensure_tenant("acme")
        r = cls.api.post("/v1/tenants/acme/identities", {
            "kind": "service", "name": "hsm-job", "state": "active"})
        assert r.status == 201, r
        cls.ident = r.json()

    @classmethod
    def tearDownClass(cls):
        if cls.server.proc and cls.server.proc.poll() is None:
            rc = cls.server.stop()
            if rc != 0:
                raise AssertionError("server exited %s:\n%s" % (
                    rc, cls.server.stderr_text()[-3000:]))
        if cls.server.sanitizer_report():
            raise AssertionError(cls.server.sanitizer_report())

    def write(self, name, text):
        path = os.path.join(self.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def issue(self):
        r = self.api.post("/v1/tenants/acme/certificates", {
            "identity_id": self.ident["id"], "generate_key": True})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def test_1_svid_signed_in_the_token(self):
        doc = self.issue()
        bundle = self.write("bundle.pem",
                            self.anon.get("/ca/bundle.pem").body.decode())
        chain = self.write("chain.pem", doc["chain"])
        leaf = self.write("leaf.pem", doc["certificate"])
        out = run("openssl", "verify", "-CAfile", bundle, "-untrusted",
                  chain, leaf, check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # the intermediate is the token's key
        self.assertEqual(spki_der(doc["chain"], self.d),
                         self.token.public_der())
        # the database keeps the URI and no private key for it
        ca = self.api.get("/v1/ca").json()
        r = self.api.get("/v1/keys?scope=ca:ztiam.local/intermediate")
        self.assertEqual(r.status, 200, r)
        rows = [k for k in r.json()["items"]
                if k["kid"] == ca["active_key_id"]]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["alg"], "x509-ca-pkcs11")
        self.assertEqual(rows[0]["public_jwk"]["key_uri"], URI)

    def test_2_crl_and_ocsp_signed_in_the_token(self):
        doc = self.issue()
        chain = self.write("c2.pem", doc["chain"])
        leaf = self.write("l2.pem", doc["certificate"])
        bundle = self.write("b2.pem",
                            self.anon.get("/ca/bundle.pem").body.decode())
        crl = os.path.join(self.d, "crl.der")
        with open(crl, "wb") as f:
            f.write(self.anon.get("/ca/crl").body)
        out = run("openssl", "crl", "-inform", "DER", "-in", crl,
                  "-CAfile", chain, "-noout", check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("verify OK", out.stderr + out.stdout)
        out = run("openssl", "ocsp", "-issuer", chain, "-cert", leaf,
                  "-url", "%s/ca/ocsp" % self.server.url, "-CAfile",
                  bundle, "-verify_other", chain, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Response verify OK", out.stderr)
        self.assertIn(": good", out.stdout)

    def test_3_concurrent_issuance(self):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            docs = list(pool.map(lambda _: self.issue(), range(24)))
        self.assertEqual(len({d["serial"] for d in docs}), 24)

    def test_4_start_without_the_token_is_refused(self):
        self.assertEqual(self.server.stop(), 0)
        plain = Server(self.ws)
        self.addCleanup(plain.kill)
        with self.assertRaises(AssertionError) as cm:
            plain.start()
        self.assertIn("--ca-key-uri", str(cm.exception))
        self.server.start()
        type(self).api = self.server.client()
        type(self).anon = self.server.client(token=None)
        self.issue()

    def test_5_root_rotation_keeps_the_token_key(self):
        # an intermediate rotation would move signing out of the token
        r = self.api.post("/v1/ca/rotate", {})
        self.assertEqual(r.status, 409, r)
        self.assertIn("PKCS#11", r.json()["detail"])
        old = self.issue()
        for step in ("root prepared", "root activated"):
            r = self.api.post("/v1/ca/rotate", {"root": True})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["step"], step)
        new = self.issue()
        self.assertNotEqual(new["chain"], old["chain"])
        self.assertEqual(spki_der(new["chain"], self.d),
                         self.token.public_der())
        bundle = self.write("b5.pem",
                            self.anon.get("/ca/bundle.pem").body.decode())
        for name, doc in (("old", old), ("new", new)):
            chain = self.write(name + "-c5.pem", doc["chain"])
            leaf = self.write(name + "-l5.pem", doc["certificate"])
            out = run("openssl", "verify", "-CAfile", bundle, "-untrusted",
                      chain, leaf, check=False)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


@unittest.skipUnless(have_softhsm(), "softhsm2 or pkcs11-tool is missing")
class TokenLaterTest(Checks):
    """A CA made with sealed keys, then a start with ZTIAM_CA_KEY_URI: the
    token's key becomes the prepared intermediate, and a rotation makes it
    sign."""

    def test_token_key_joins_as_prepared(self):
        ws = Workspace()
        self.addCleanup(ws.close)
        token = Token(ws.dir)
        server = Server(ws)
        self.addCleanup(server.kill)
        server.start()
        api = server.client()
        first = api.get("/v1/ca").json()["active_key_id"]
        self.assertStops(server)

        # this time through the environment
        server = Server(ws, env={
            "SOFTHSM2_CONF": token.conf, "ZTIAM_CA_KEY_URI": URI,
            "ZTIAM_CA_PKCS11_MODULE": MODULE,
            "ZTIAM_CA_KEY_PIN_FILE": token.pin_file})
        self.addCleanup(server.kill)
        server.start()
        api = server.client()
        ca = api.get("/v1/ca").json()
        self.assertEqual(ca["active_key_id"], first)
        prepared = [c for c in ca["intermediates"]
                    if c["state"] == "prepared"]
        self.assertEqual(len(prepared), 1)
        r = api.post("/v1/ca/rotate", {})
        self.assertEqual(r.json()["step"], "activated", r)
        api.ensure_tenant("acme")
        r = api.post("/v1/tenants/acme/identities", {
            "kind": "service", "name": "later", "state": "active"})
        r = api.post("/v1/tenants/acme/certificates", {
            "identity_id": r.json()["id"], "generate_key": True})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(spki_der(r.json()["chain"], ws.dir),
                         token.public_der())
        self.assertStops(server)

    def test_bad_token_settings_stop_the_start(self):
        ws = Workspace()
        self.addCleanup(ws.close)
        token = Token(ws.dir)
        env = {"SOFTHSM2_CONF": token.conf}

        def refused(args, needle):
            server = Server(ws, args=args, env=env)
            self.addCleanup(server.kill)
            with self.assertRaises(AssertionError) as cm:
                server.start()
            self.assertIn(needle, str(cm.exception))
            self.assertNotIn(PIN + "\n", server.stderr_text())

        args = token.server_args()
        refused(args[:2] + args[4:], "--ca-pkcs11-module")
        os.chmod(token.pin_file, 0o644)
        refused(args, "ca-key-pin-file")
        with open(token.pin_file, "w") as f:
            f.write("0000\n")
        os.chmod(token.pin_file, 0o600)
        refused(args, "PIN is wrong")
        refused(["--ca-key-uri", URI + ";pin-value=1234"] + args[2:],
                "not in the URI")


if __name__ == "__main__":
    main()
