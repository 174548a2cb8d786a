#!/usr/bin/env python3
"""
End-to-end tests of the certificate center served by `ztiam serve`: the CA
made on the first start, X.509-SVIDs issued through the API and checked
rule by rule, openssl's own verifier with the served CRL before and after
a revocation, `openssl ocsp` against the responder, curl with an issued
client certificate against a second node that requires one, renewal over
mutual TLS, the issuance gate's refusals (each audited, nothing signed),
and `ztiam cert issue|list|revoke|renew` and `ztiam ca show`; JWT-SVIDs
through the API and `ztiam cert jwt` (by token and by the workload's own
SVID over mutual TLS), verified against the bundle's jwt-svid key; the
rotation of that key; root rotation with both chains verifying against
one bundle; a second node loading a rotation made by the first, and
showing a revocation made by the first in its CRL and OCSP answers.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_ca.py
With ZTIAM_TEST_DB=postgres://... the servers use PostgreSQL.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, ServerTestCase, main  # noqa: E402

try:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
except ImportError:  # python3-cryptography missing: openssl checks only
    x509 = None

# Revocations reach OCSP and the CRL within a second; poll up to this.
REVOCATION_BOUND_S = 10.0
# Another node loads a CA change within about a second; poll up to this.
NODE_BOUND_S = 10.0


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BadSignature(Exception):
    pass


def der_int(b):
    """A DER INTEGER of the big-endian unsigned bytes `b`."""
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return bytes([2, len(b)]) + b


def jwt_verify(token, bundle):
    """Verifies an ES256 JWT-SVID against the bundle's "jwt-svid" key
    named by its kid, with `openssl dgst`; returns (header, claims).
    Raises BadSignature on a bad signature, AssertionError when the
    bundle has no such key."""
    head, payload, sig = token.split(".")
    header = json.loads(b64url(head))
    keys = [k for k in bundle["keys"] if k.get("use") == "jwt-svid"
            and k.get("kid") == header["kid"]]
    if len(keys) != 1:
        raise AssertionError("no jwt-svid key %r in the bundle"
                             % header["kid"])
    k = keys[0]
    if header["alg"] != "ES256" or k["kty"] != "EC" or k["crv"] != "P-256":
        raise AssertionError("unexpected key or algorithm %r" % header)
    # SubjectPublicKeyInfo of a P-256 point: a fixed prefix, then 04 x y
    spki = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703"
                         "420004") + b64url(k["x"]) + b64url(k["y"])
    raw = b64url(sig)
    body = der_int(raw[:32]) + der_int(raw[32:])
    with tempfile.TemporaryDirectory() as d:
        files = {}
        for name, data in (("pub.der", spki), ("sig.der",
                           bytes([0x30, len(body)]) + body),
                           ("msg", (head + "." + payload).encode())):
            files[name] = os.path.join(d, name)
            with open(files[name], "wb") as f:
                f.write(data)
        out = subprocess.run(
            ["openssl", "dgst", "-sha256", "-keyform", "DER", "-verify",
             files["pub.der"], "-signature", files["sig.der"],
             files["msg"]], capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or "Verified OK" not in out.stdout:
        raise BadSignature(out.stdout + out.stderr)
    return header, json.loads(b64url(payload))


def openssl(*args, cwd, check=True, stdin=None):
    return subprocess.run(["openssl"] + list(args), cwd=cwd, check=check,
                          capture_output=True, text=True, timeout=60,
                          input=stdin)


class CATest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.ws.dir
        cls.api.ensure_tenant("acme")
        cls.api.ensure_tenant("beta")
        cls.web = cls.identity("acme", "web", dns_names=["localhost"],
                               ip_addresses=["127.0.0.1"])
        cls.job = cls.identity("acme", "job")
        cls.other = cls.identity("beta", "db")
        cls.sus = cls.identity("acme", "sleepy", state="suspended")
        r = cls.api.get("/ca/bundle.pem")
        assert r.status == 200, r
        cls.bundle = cls.write("bundle.pem", r.body.decode())

    # -- helpers

    @classmethod
    def identity(cls, tenant, name, state="active", unit=None, **attrs):
        body = {"kind": "service", "name": name, "state": "active",
                "attributes": attrs}
        if unit:
            body["unit_id"] = unit
        r = cls.api.post("/v1/tenants/%s/identities" % tenant, body)
        assert r.status == 201, r
        if state != "active":
            r = cls.api.patch("/v1/tenants/%s/identities/%s"
                              % (tenant, r.json()["id"]), {"state": state})
            assert r.status == 200, r
        return r.json()

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def issue(self, ident, client=None, status=201, **body):
        body.setdefault("identity_id", ident["id"])
        if "csr" not in body:
            body.setdefault("generate_key", True)
        r = (client or self.api).post(
            "/v1/tenants/%s/certificates" % ident["tenant"], body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def save(self, doc, name):
        """Writes name.pem (leaf), name-chain.pem, name-full.pem and
        name.key; returns the paths' stem."""
        stem = os.path.join(self.d, name)
        self.write(stem + ".pem", doc["certificate"])
        self.write(stem + "-chain.pem", doc["chain"])
        self.write(stem + "-full.pem", doc["certificate"] + doc["chain"])
        if doc.get("private_key"):
            self.write(stem + ".key", doc["private_key"])
            os.chmod(stem + ".key", 0o600)
        return stem

    def csr(self, name, *extra, newkey=("ec", "-pkeyopt",
                                           "ec_paramgen_curve:P-256")):
        stem = os.path.join(self.d, name)
        openssl("req", "-new", "-newkey", *newkey, "-nodes", "-keyout",
                stem + ".key", "-out", stem + ".csr", "-subj", "/CN=x",
                *extra, cwd=self.d)
        with open(stem + ".csr") as f:
            return f.read()

    def count(self):
        r = self.api.get("/v1/tenants/acme/certificates?limit=1000")
        self.assertEqual(r.status, 200, r)
        n = len(r.json()["items"])
        r = self.api.get("/v1/tenants/acme/certificates?revoked=true"
                         "&limit=1000")
        return n + len(r.json()["items"])

    def refusals(self):
        return [a for a in self.api.audit_items()
                if a.get("action") == "cert.refuse"]

    def crl_file(self, name):
        r = self.anon.get("/ca/crl")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/pkix-crl")
        der = os.path.join(self.d, name + ".der")
        with open(der, "wb") as f:
            f.write(r.body)
        pem = os.path.join(self.d, name + ".pem")
        openssl("crl", "-inform", "DER", "-in", der, "-out", pem,
                cwd=self.d)
        with open(pem) as f, open(self.bundle) as b:
            return self.write(name + "-ca.pem", b.read() + f.read())

    def verify(self, stem, crl_ca):
        return openssl("verify", "-CAfile", crl_ca, "-untrusted",
                       stem + "-chain.pem", "-crl_check", stem + ".pem",
                       cwd=self.d, check=False)

    def ocsp(self, stem):
        out = openssl("ocsp", "-issuer", stem + "-chain.pem", "-cert",
                      stem + ".pem", "-url", "http://127.0.0.1:%d/ca/ocsp"
                      % self.server.port, "-CAfile", self.bundle,
                      "-verify_other", stem + "-chain.pem", cwd=self.d,
                      check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Response verify OK", out.stderr)
        return out.stdout

    # -- the X509-SVID

    def test_svid_follows_the_x509_svid_rules(self):
        doc = self.issue(self.job)
        self.assertEqual(doc["spiffe_id"], self.job["spiffe_id"])
        stem = self.save(doc, "svid-rules")
        text = openssl("x509", "-in", stem + ".pem", "-noout", "-text",
                       cwd=self.d).stdout
        self.assertIn("URI:" + self.job["spiffe_id"], text)
        self.assertIn("CA:FALSE", text)
        self.assertNotIn("Certificate Sign", text)
        self.assertIn("/ca/crl/", text)
        self.assertIn("OCSP - URI:http://127.0.0.1:%d/ca/ocsp"
                      % self.server.port, text)
        if x509 is None:
            return
        with open(stem + ".pem", "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        san = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName)
        self.assertTrue(san.critical)      # the subject is empty
        self.assertEqual(san.value.get_values_for_type(
            x509.UniformResourceIdentifier), [self.job["spiffe_id"]])
        self.assertEqual(len(list(san.value)), 1)
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertTrue(bc.critical)
        self.assertFalse(bc.value.ca)
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        self.assertTrue(ku.critical)
        self.assertTrue(ku.value.digital_signature)
        self.assertFalse(ku.value.key_cert_sign)
        self.assertFalse(ku.value.crl_sign)
        eku = cert.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage).value
        self.assertIn(ExtendedKeyUsageOID.SERVER_AUTH, eku)
        self.assertIn(ExtendedKeyUsageOID.CLIENT_AUTH, eku)
        life = (cert.not_valid_after_utc - cert.not_valid_before_utc)
        self.assertLessEqual(life.total_seconds(), 3600 + 60)
        self.assertEqual(len(cert.subject), 0)

    def test_bundle_is_a_spiffe_jwks(self):
        r = self.anon.get("/ca/bundle")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertIn("spiffe_sequence", doc)
        self.assertEqual(sorted(k["use"] for k in doc["keys"]),
                         ["jwt-svid", "x509-svid"])
        x = [k for k in doc["keys"] if k["use"] == "x509-svid"][0]
        self.assertEqual(len(x["x5c"]), 1)
        self.assertNotIn("kid", x)
        j = [k for k in doc["keys"] if k["use"] == "jwt-svid"][0]
        self.assertTrue(j["kid"])
        self.assertNotIn("d", j)
        # the same keys keep the same sequence number
        self.assertEqual(self.anon.get("/ca/bundle").json()
                         ["spiffe_sequence"], doc["spiffe_sequence"])

    # -- JWT-SVIDs

    def jwt(self, ident, client=None, status=201, **body):
        r = (client or self.api).post(
            "/v1/tenants/%s/identities/%s/jwt-svids"
            % (ident["tenant"], ident["id"]), body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def jwt_refusals(self):
        return [a for a in self.refusals()
                if a.get("target") == "identity:" + self.job["id"]]

    def test_jwt_svid_verifies_against_the_bundle(self):
        doc = self.jwt(self.job, audience=["https://db.example"])
        self.assertEqual(doc["spiffe_id"], self.job["spiffe_id"])
        bundle = self.anon.get("/ca/bundle").json()
        header, claims = jwt_verify(doc["token"], bundle)
        self.assertEqual(header["typ"], "JWT")
        self.assertEqual(claims["sub"], self.job["spiffe_id"])
        self.assertEqual(claims["aud"], "https://db.example")
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        # several audiences, a TTL of its own
        doc = self.jwt(self.job, audience=["a", "b"], ttl=60)
        _, claims = jwt_verify(doc["token"], bundle)
        self.assertEqual(claims["aud"], ["a", "b"])
        self.assertEqual(claims["exp"] - claims["iat"], 60)
        # a token altered in one byte does not verify
        head, payload, sig = doc["token"].split(".")
        bad = json.loads(b64url(payload))
        bad["sub"] = self.other["spiffe_id"]
        forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(
            bad).encode()).decode().rstrip("="), sig])
        with self.assertRaises(BadSignature):
            jwt_verify(forged, bundle)
        issued = [a for a in self.api.audit_items()
                  if a.get("action") == "jwt_svid.issue"]
        self.assertGreaterEqual(len(issued), 2)
        self.assertNotIn(doc["token"], json.dumps(issued))

    def test_jwt_svid_refusals_are_audited(self):
        before = len(self.jwt_refusals())
        # the audience is required
        self.jwt(self.job, status=400)
        self.jwt(self.job, status=400, audience=[])
        self.jwt(self.job, status=400, audience=["ok"], ttl=7200)
        self.assertEqual(len(self.jwt_refusals()), before + 3)
        self.jwt(self.job, status=400, audience="not-a-list")
        # a suspended identity, another tenant's token
        n = len(self.refusals())
        self.jwt(self.sus, status=403, audience=["x"])
        beta = self.server.client(self.api.create_token(
            "beta-jwt", tenant="beta")["token"])
        self.jwt(self.job, client=beta, status=404, audience=["x"])
        self.assertEqual(len(self.refusals()), n + 2)
        # no credential at all
        r = self.anon.post("/v1/tenants/acme/identities/%s/jwt-svids"
                           % self.job["id"], {"audience": ["x"]})
        self.assertUnauthorized(r)

    def test_cli_jwt(self):
        out = os.path.join(self.d, "cli.jwt")
        r = self.ws.run_cli("cert", "jwt", "--tenant", "acme", "--identity",
                            self.job["id"], "--audience", "svc", "--ttl",
                            "2m", "--out", out, "--server", self.server.url,
                            "--token", self.ws.bootstrap_token())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        with open(out) as f:
            token = f.read().strip()
        self.assertNotIn(token, r.stdout)
        _, claims = jwt_verify(token, self.anon.get("/ca/bundle").json())
        self.assertEqual(claims["aud"], "svc")
        self.assertEqual(claims["exp"] - claims["iat"], 120)
        r = self.ws.run_cli("cert", "jwt", "--tenant", "acme", "--identity",
                            self.job["id"], "--out", out, "--server",
                            self.server.url, "--token",
                            self.ws.bootstrap_token())
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("audience", r.stderr)

    # -- revocation seen by openssl verify -crl_check and openssl ocsp

    def test_revocation_reaches_crl_and_ocsp(self):
        stem = self.save(self.issue(self.job), "revoke-me")
        serial = openssl("x509", "-in", stem + ".pem", "-noout", "-serial",
                         cwd=self.d).stdout.strip().split("=")[1].lower()
        out = self.verify(stem, self.crl_file("crl-before"))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(": good", self.ocsp(stem))

        r = self.api.post("/v1/tenants/acme/certificates/%s/revoke"
                          % serial.lstrip("0"), {"reason": "keyCompromise"})
        self.assertEqual(r.status, 200, r)
        deadline = time.monotonic() + REVOCATION_BOUND_S
        while True:
            text = self.ocsp(stem)
            if ": revoked" in text or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertIn(": revoked", text)
        self.assertIn("keyCompromise", text)
        while True:
            out = self.verify(stem, self.crl_file("crl-after"))
            if out.returncode != 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertIn("certificate revoked", out.stdout + out.stderr)
        r = self.api.post("/v1/tenants/acme/certificates/%s/revoke"
                          % serial.lstrip("0"))
        self.assertEqual(r.status, 409, r)

    def test_revoke_every_certificate_of_an_identity(self):
        ident = self.identity("acme", "many")
        for _ in range(3):
            self.issue(ident)
        r = self.api.post("/v1/tenants/acme/identities/%s/certificates/"
                          "revoke" % ident["id"], {"reason": "superseded"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["revoked"], 3)
        r = self.api.get("/v1/tenants/acme/certificates?identity_id=%s"
                         % ident["id"])
        self.assertTrue(all(c["revoked_at"] for c in r.json()["items"]))

    def test_ocsp_get_and_malformed(self):
        stem = self.save(self.issue(self.job), "ocsp-get")
        req = os.path.join(self.d, "ocsp.req")
        openssl("ocsp", "-issuer", stem + "-chain.pem", "-cert",
                stem + ".pem", "-reqout", req, "-no_nonce", cwd=self.d)
        import base64
        from urllib.parse import quote
        with open(req, "rb") as f:
            b64 = quote(base64.b64encode(f.read()).decode(), safe="")
        r = self.anon.get("/ca/ocsp/" + b64)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"),
                         "application/ocsp-response")
        resp = os.path.join(self.d, "ocsp-get.der")
        with open(resp, "wb") as f:
            f.write(r.body)
        out = openssl("ocsp", "-respin", resp, "-resp_text", "-noverify",
                      cwd=self.d).stdout
        self.assertIn("successful", out)
        self.assertIn("Cert Status: good", out)
        r = self.anon.post("/ca/ocsp", b"\x30\x03\x02\x01",
                           content_type="application/ocsp-request")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"\x30\x03\x0a\x01\x01")  # malformed

    # -- the gate's refusals: audited, nothing signed

    def assertRefused(self, ident, status, client=None, **body):
        before_n, before_a = self.count(), len(self.refusals())
        self.issue(ident, client=client, status=status, **body)
        self.assertEqual(self.count(), before_n)
        self.assertEqual(len(self.refusals()), before_a + 1)

    def test_refusals(self):
        beta = self.api.create_token("beta-admin", tenant="beta")
        beta_client = self.server.client(beta["token"])
        # another tenant's identity, asked for through either tenant
        self.assertRefused(self.job, 404, client=beta_client)
        acme = self.server.client(self.api.create_token(
            "acme-admin", tenant="acme")["token"])
        r = acme.post("/v1/tenants/acme/certificates",
                      {"identity_id": self.other["id"],
                       "generate_key": True})
        self.assertEqual(r.status, 404, r)
        self.assertRefused(self.sus, 403)
        self.assertRefused(self.job, 400,
                           csr=self.csr("ca-true", "-addext",
                                        "basicConstraints=critical,CA:TRUE"))
        self.assertRefused(self.job, 400,
                           csr=self.csr("weak", newkey=("rsa:1024",)))
        self.assertRefused(self.job, 400,
                           csr="-----BEGIN CERTIFICATE REQUEST-----\nnope\n"
                               "-----END CERTIFICATE REQUEST-----\n")
        self.assertRefused(self.job, 413,
                           csr="A" * 20000)
        # a TLS server name the identity's dns_names does not allow
        self.assertRefused(self.web, 403, profile="tls-server",
                           dns_names=["evil.example"])

    def test_unit_token_only_its_subtree(self):
        r = self.api.post("/v1/tenants/acme/units", {"name": "ops"})
        self.assertEqual(r.status, 201, r)
        unit = r.json()
        inside = self.identity("acme", "ops-agent", unit=unit["id"])
        r = self.api.post("/v1/tokens", {"name": "ops", "tenant": "acme",
                                         "unit_id": unit["id"]})
        self.assertEqual(r.status, 201, r)
        ops = self.server.client(r.json()["token"])
        self.issue(inside, client=ops)
        self.assertRefused(self.job, 404, client=ops)

    def test_tls_server_names_from_attributes(self):
        doc = self.issue(self.web, profile="tls-server",
                         dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        stem = self.save(doc, "tls-names")
        text = openssl("x509", "-in", stem + ".pem", "-noout", "-text",
                       cwd=self.d).stdout
        self.assertIn("DNS:localhost", text)
        self.assertIn("IP Address:127.0.0.1", text)

    # -- mutual TLS: a second node that requires client certificates

    def test_mtls_client_certificate_and_renewal(self):
        tls = self.save(self.issue(self.web, profile="tls-server",
                                   dns_names=["localhost"],
                                   ip_addresses=["127.0.0.1"]), "node2")
        node = Server(self.ws, args=[
            "--tls-cert", tls + "-full.pem", "--tls-key", tls + ".key",
            "--tls-client-ca", self.bundle])
        node.ssl_context = __import__("ssl").create_default_context(
            cafile=self.bundle)
        svid = self.save(self.issue(self.job), "client")
        node.ssl_context.load_cert_chain(svid + "-full.pem", svid + ".key")
        self.addCleanup(node.kill)
        node.start()
        url = "https://127.0.0.1:%d" % node.port

        def curl(*args):
            return subprocess.run(["curl", "-sS", "--cacert", self.bundle]
                                  + list(args), capture_output=True,
                                  text=True, timeout=60)

        out = curl("--cert", svid + "-full.pem", "--key", svid + ".key",
                   url + "/healthz")
        self.assertEqual(out.returncode, 0, out.stderr)
        out = curl(url + "/healthz")
        self.assertNotEqual(out.returncode, 0)

        # renewal with the current SVID, through the CLI
        csr = self.csr("renew")
        self.write("renew.csr", csr)
        out = self.ws.run_cli("cert", "renew", "--server", url, "--cacert",
                              self.bundle, "--cert", svid + "-full.pem",
                              "--key", svid + ".key", "--csr",
                              os.path.join(self.d, "renew.csr"), "--out",
                              os.path.join(self.d, "renewed.pem"),
                              "--json")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(json.loads(out.stdout)["spiffe_id"],
                         self.job["spiffe_id"])
        text = openssl("x509", "-in", os.path.join(self.d, "renewed.pem"),
                       "-noout", "-text", cwd=self.d).stdout
        self.assertIn("URI:" + self.job["spiffe_id"], text)

        # a JWT-SVID asked for by the workload with its own SVID: its
        # own SPIFFE ID only
        def jwt_by_svid(ident):
            return curl("--cert", svid + "-full.pem", "--key", svid + ".key",
                        "-H", "Content-Type: application/json", "-d",
                        json.dumps({"audience": ["peer"]}), "-w",
                        "\n%{http_code}", url + "/v1/tenants/%s/identities/"
                        "%s/jwt-svids" % (ident["tenant"], ident["id"]))
        out = jwt_by_svid(self.job)
        body, code = out.stdout.rsplit("\n", 1)
        self.assertEqual(code, "201", out.stdout + out.stderr)
        _, claims = jwt_verify(json.loads(body)["token"],
                               self.anon.get("/ca/bundle").json())
        self.assertEqual(claims["sub"], self.job["spiffe_id"])
        n = len(self.refusals())
        out = jwt_by_svid(self.web)
        self.assertEqual(out.stdout.rsplit("\n", 1)[1], "403", out.stdout)
        self.assertEqual(len(self.refusals()), n + 1)
        jwt_out = os.path.join(self.d, "svid.jwt")
        r = self.ws.run_cli("cert", "jwt", "--server", url, "--cacert",
                            self.bundle, "--tenant", "acme", "--identity",
                            self.job["id"], "--audience", "peer", "--cert",
                            svid + "-full.pem", "--key", svid + ".key",
                            "--out", jwt_out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # renewal with a revoked SVID is refused
        serial = openssl("x509", "-in", svid + ".pem", "-noout", "-serial",
                         cwd=self.d).stdout.strip().split("=")[1]
        r = self.api.post("/v1/tenants/acme/certificates/%s/revoke"
                          % serial.lower().lstrip("0"))
        self.assertEqual(r.status, 200, r)
        out = curl("--cert", svid + "-full.pem", "--key", svid + ".key",
                   "-H", "Content-Type: application/json", "-d",
                   json.dumps({"csr": csr}), "-o", "/dev/null", "-w",
                   "%{http_code}", url + "/v1/certificates/renew")
        self.assertEqual(out.stdout, "403", out.stderr)
        n = len(self.refusals())
        out = jwt_by_svid(self.job)
        self.assertEqual(out.stdout.rsplit("\n", 1)[1], "403", out.stdout)
        self.assertEqual(len(self.refusals()), n + 1)
        self.assertEqual(node.stop(), 0)

    # -- the CLI

    def test_cli_issue_list_revoke_show(self):
        out_pem = os.path.join(self.d, "cli.pem")
        out_key = os.path.join(self.d, "cli.key")
        common = ["--server", self.server.url, "--token",
                  self.ws.bootstrap_token()]
        r = self.ws.run_cli("cert", "issue", "--tenant", "acme",
                            "--identity", self.job["id"], "--out-key",
                            out_key, "--out", out_pem, "--ttl", "10m",
                            "--json", *common)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        serial = json.loads(r.stdout)["serial"]
        self.assertEqual(os.stat(out_key).st_mode & 0o777, 0o600)
        self.assertNotIn("PRIVATE KEY", r.stdout)
        r = self.ws.run_cli("cert", "list", "--tenant", "acme", "--identity",
                            self.job["id"], *common)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(serial, r.stdout)
        r = self.ws.run_cli("cert", "revoke", serial, "--tenant", "acme",
                            "--reason", "superseded", *common)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ws.run_cli("cert", "list", "--tenant", "acme", "--revoked",
                            "--json", *common)
        self.assertIn(serial, [c["serial"] for c in json.loads(r.stdout)])
        r = self.ws.run_cli("ca", "show", *common)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("active", r.stdout)
        r = self.ws.run_cli("cert", "issue", "--tenant", "acme",
                            "--identity", self.sus["id"], "--out-key",
                            out_key, "--out", out_pem, *common)
        self.assertEqual(r.returncode, 1, r.stdout)


class CARotationTest(ServerTestCase):
    """Rotation and the upstream-signed intermediate, on a server of
    their own: they change the active CA and the bundle."""

    def setUp(self):
        self.d = self.ws.dir
        self.api.ensure_tenant("acme")
        if not hasattr(self, "ident"):
            r = self.api.post("/v1/tenants/acme/identities", {
                "kind": "service", "name": "rot-%d" % time.monotonic_ns(),
                "state": "active"})
            self.assertEqual(r.status, 201, r)
            type(self).ident = r.json()

    def issue(self):
        r = self.api.post("/v1/tenants/acme/certificates", {
            "identity_id": self.ident["id"], "generate_key": True})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def ca(self):
        r = self.api.get("/v1/ca")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def issuer_of(self, serial):
        r = self.api.get("/v1/tenants/acme/certificates?identity_id=%s"
                         % self.ident["id"])
        return [c["issuer_key_id"] for c in r.json()["items"]
                if c["serial"] == serial][0]

    def verify(self, doc):
        r = self.anon.get("/ca/bundle.pem")
        self.assertEqual(r.status, 200, r)
        files = {}
        for name, text in (("b", r.body.decode()), ("c", doc["chain"]),
                           ("l", doc["certificate"])):
            files[name] = os.path.join(self.d, "v-%s.pem" % name)
            with open(files[name], "w") as f:
                f.write(text)
        return openssl("verify", "-CAfile", files["b"], "-untrusted",
                       files["c"], files["l"], cwd=self.d, check=False)

    def test_1_rotation_prepares_then_activates(self):
        first = self.ca()["active_key_id"]
        old = self.issue()
        r = self.api.post("/v1/ca/rotate", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["step"], "prepared")
        new = r.json()["key_id"]
        states = {c["key_id"]: c["state"] for c in self.ca()["intermediates"]}
        self.assertEqual(states, {first: "active", new: "prepared"})
        # the prepared key does not sign yet; its CRL is served already
        self.assertEqual(self.issuer_of(self.issue()["serial"]), first)
        self.assertEqual(self.anon.get("/ca/crl/" + new).status, 200)

        r = self.api.post("/v1/ca/rotate", {})
        self.assertEqual(r.json()["step"], "activated", r)
        self.assertEqual(self.ca()["active_key_id"], new)
        doc = self.issue()
        self.assertEqual(self.issuer_of(doc["serial"]), new)
        self.assertEqual(self.verify(doc).returncode, 0)
        # the retired intermediate still answers for what it signed
        states = {c["key_id"]: c["state"] for c in self.ca()["intermediates"]}
        self.assertEqual(states[first], "retired")
        r = self.api.post("/v1/tenants/acme/certificates/%s/revoke"
                          % old["serial"])
        self.assertEqual(r.status, 200, r)
        r = self.anon.get("/ca/crl/" + first)
        self.assertEqual(r.status, 200, r)
        crl = os.path.join(self.d, "old.crl")
        with open(crl, "wb") as f:
            f.write(r.body)
        text = openssl("crl", "-inform", "DER", "-in", crl, "-noout",
                       "-text", cwd=self.d).stdout
        self.assertIn(old["serial"].upper(), text.replace(":", "").upper())
        self.assertEqual(self.verify(old).returncode, 0)

    def test_2_upstream_signed_intermediate(self):
        r = self.api.post("/v1/ca/import", {"chain": "x"})
        self.assertEqual(r.status, 409, r)
        out = os.path.join(self.d, "up.csr")
        r = self.ws.run_cli("ca", "csr", "--out", out, "--server",
                            self.server.url, "--token",
                            self.ws.bootstrap_token())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.api.post("/v1/ca/rotate", {}).status, 409)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-keyout", "up.key", "-out", "up.pem", "-subj",
                "/CN=upstream root", "-addext",
                "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign", cwd=self.d)
        openssl("x509", "-req", "-in", "up.csr", "-CA", "up.pem", "-CAkey",
                "up.key", "-days", "20", "-copy_extensions", "copyall",
                "-out", "inter.pem", cwd=self.d)
        with open(os.path.join(self.d, "inter.pem")) as a, \
                open(os.path.join(self.d, "up.pem")) as b:
            chain = self.write_text("upchain.pem", a.read() + b.read())
        r = self.ws.run_cli("ca", "import", "--chain", chain, "--server",
                            self.server.url, "--token",
                            self.ws.bootstrap_token())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        bundle = self.anon.get("/ca/bundle").json()
        self.assertEqual(len([k for k in bundle["keys"]    # ours and
                              if k["use"] == "x509-svid"]), 2)  # upstream's
        r = self.ws.run_cli("ca", "rotate", "--server", self.server.url,
                            "--token", self.ws.bootstrap_token())
        self.assertIn("activated", r.stdout, r.stderr)
        doc = self.issue()
        out = self.verify(doc)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        with open(os.path.join(self.d, "v-c.pem")) as f, \
                open(chain) as g:
            self.assertIn(f.read().strip(), g.read())

    def write_text(self, name, text):
        path = os.path.join(self.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_3_jwt_svid_key_rotation(self):
        def jwt():
            r = self.api.post("/v1/tenants/acme/identities/%s/jwt-svids"
                              % self.ident["id"], {"audience": ["x"]})
            self.assertEqual(r.status, 201, r)
            return r.json()["token"]

        def jwt_kids(bundle):
            return sorted(k["kid"] for k in bundle["keys"]
                          if k["use"] == "jwt-svid")

        old = jwt()
        b0 = self.anon.get("/ca/bundle").json()
        self.assertEqual(len(jwt_kids(b0)), 1)
        scope = "jwt-svid:ztiam.local"
        r = self.api.post("/v1/keys/rotate", {"scope": scope})
        self.assertEqual(r.json()["step"], "prepared", r)
        # published before it signs: the bundle has both, a new sequence
        b1 = self.anon.get("/ca/bundle").json()
        self.assertEqual(len(jwt_kids(b1)), 2)
        self.assertGreater(b1["spiffe_sequence"], b0["spiffe_sequence"])
        self.assertEqual(jwt_verify(jwt(), b1)[0]["kid"], jwt_kids(b0)[0])
        r = self.api.post("/v1/keys/rotate", {"scope": scope})
        self.assertEqual(r.json()["step"], "activated", r)
        b2 = self.anon.get("/ca/bundle").json()
        new = jwt_verify(jwt(), b2)[0]["kid"]
        self.assertNotEqual(new, jwt_kids(b0)[0])
        # the retired key stays until every token it signed expired
        self.assertEqual(jwt_kids(b2), jwt_kids(b1))
        jwt_verify(old, b2)


class CARootRotationTest(ServerTestCase):
    """Root rotation: the new root is in the bundle before anything below
    it is used; afterwards certificates under the old root and under the
    new one both verify against the one bundle."""

    def setUp(self):
        self.d = self.ws.dir
        self.api.ensure_tenant("acme")
        r = self.api.post("/v1/tenants/acme/identities", {
            "kind": "service", "name": "root-%d" % time.monotonic_ns(),
            "state": "active"})
        self.assertEqual(r.status, 201, r)
        self.ident = r.json()

    def issue(self):
        r = self.api.post("/v1/tenants/acme/certificates", {
            "identity_id": self.ident["id"], "generate_key": True})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def cli(self, *args):
        return self.ws.run_cli(*args, "--server", self.server.url,
                               "--token", self.ws.bootstrap_token())

    def verify(self, doc, name, bundle_pem):
        files = []
        for part, text in (("bundle", bundle_pem), ("chain", doc["chain"]),
                           ("leaf", doc["certificate"])):
            files.append(os.path.join(self.d, "%s-%s.pem" % (name, part)))
            with open(files[-1], "w") as f:
                f.write(text)
        return openssl("verify", "-CAfile", files[0], "-untrusted",
                       files[1], files[2], cwd=self.d, check=False)

    def test_root_rotation_keeps_both_chains_valid(self):
        old = self.issue()
        b0 = self.anon.get("/ca/bundle").json()
        first = self.api.get("/v1/ca").json()
        self.assertEqual([r["state"] for r in first["roots"]], ["active"])

        r = self.cli("ca", "rotate", "--root")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("root prepared", r.stdout)
        # published (JWKS and PEM) before anything below it is used
        b1 = self.anon.get("/ca/bundle").json()
        x509_keys = [k for k in b1["keys"] if k["use"] == "x509-svid"]
        self.assertEqual(len(x509_keys), 2)
        self.assertGreater(b1["spiffe_sequence"], b0["spiffe_sequence"])
        pem = self.anon.get("/ca/bundle.pem").body.decode()
        self.assertEqual(pem.count("BEGIN CERTIFICATE"), 2)
        ca = self.api.get("/v1/ca").json()
        self.assertEqual(ca["active_key_id"], first["active_key_id"])
        self.assertEqual(sorted(r["state"] for r in ca["roots"]),
                         ["active", "prepared"])
        mid = self.issue()
        self.assertEqual(mid["chain"], old["chain"])

        # an intermediate rotation under way blocks the root's
        self.assertEqual(self.api.post("/v1/ca/rotate", {}).status, 200)
        r = self.api.post("/v1/ca/rotate", {"root": True})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(self.api.post("/v1/ca/rotate", {}).status, 200)

        r = self.api.post("/v1/ca/rotate", {"root": True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["step"], "root activated")
        ca = self.api.get("/v1/ca").json()
        self.assertEqual(sorted(x["state"] for x in ca["roots"]),
                         ["active", "retired"])
        retired = [x for x in ca["roots"] if x["state"] == "retired"][0]
        self.assertIsNotNone(retired["published_until"])
        out = self.cli("ca", "show")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(retired["key_id"], out.stdout.split("roots")[1])
        new = self.issue()
        self.assertEqual(ca["active_key_id"], r.json()["key_id"])
        self.assertNotEqual(new["chain"], old["chain"])

        # one bundle, both chains
        pem = self.anon.get("/ca/bundle.pem").body.decode()
        self.assertEqual(pem.count("BEGIN CERTIFICATE"), 2)
        for name, doc in (("old", old), ("new", new)):
            out = self.verify(doc, name, pem)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # the new chain does not verify against the old root alone
        b0_pem = [x["x5c"][0] for x in b0["keys"] if x["use"] == "x509-svid"]
        only_old = ("-----BEGIN CERTIFICATE-----\n" + "\n".join(
            b0_pem[0][i:i + 64] for i in range(0, len(b0_pem[0]), 64)) +
            "\n-----END CERTIFICATE-----\n")
        out = self.verify(new, "new-vs-old", only_old)
        self.assertNotEqual(out.returncode, 0, out.stdout)
        self.assertEqual(self.verify(old, "old-vs-old",
                                     only_old).returncode, 0)

    def test_second_step_resumes_after_a_failure(self):
        """The activation is three transactions; states left behind by a
        failure between them (made here by hand) are finished, not made
        again."""
        td = "ztiam.local"

        def kids(role):
            r = self.api.get("/v1/keys?scope=ca:%s/%s" % (td, role))
            return {k["kid"]: k["state"] for k in r.json()["items"]}

        def set_state(role, kid, state):
            self.ws.execute("UPDATE signing_keys SET state = '%s' WHERE"
                            " scope = 'ca:%s/%s' AND kid = '%s'"
                            % (state, td, role, kid))

        def active(role):
            return [k for k, v in kids(role).items() if v == "active"][0]

        self.assertEqual(self.api.post("/v1/ca/rotate",
                                       {"root": True}).status, 200)
        old_root, old_int = active("root"), active("intermediate")
        r = self.api.post("/v1/ca/rotate", {"root": True})
        self.assertEqual(r.status, 200, r)
        new_root, new_int = active("root"), r.json()["key_id"]
        n = len(kids("intermediate"))

        # failed after the intermediate was stored: it is still prepared
        set_state("root", new_root, "prepared")
        set_state("root", old_root, "active")
        set_state("intermediate", new_int, "prepared")
        set_state("intermediate", old_int, "active")
        r = self.api.post("/v1/ca/rotate", {"root": True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"step": "root activated",
                                    "key_id": new_int})
        self.assertEqual(len(kids("intermediate")), n)
        self.assertEqual(active("root"), new_root)

        # failed after the intermediate was activated, not the root
        set_state("root", new_root, "prepared")
        set_state("root", old_root, "active")
        r = self.api.post("/v1/ca/rotate", {"root": True})
        self.assertEqual(r.json(), {"step": "root activated",
                                    "key_id": new_int})
        self.assertEqual(len(kids("intermediate")), n)
        self.assertEqual(active("root"), new_root)
        self.assertEqual(active("intermediate"), new_int)
        doc = self.issue()
        pem = self.anon.get("/ca/bundle.pem").body.decode()
        out = self.verify(doc, "resumed", pem)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


class CAMultiNodeTest(ServerTestCase):
    """Two servers on one database: a rotation made on one is loaded by
    the other within a few seconds, without a restart."""

    def test_second_node_loads_rotations(self):
        self.api.ensure_tenant("acme")
        r = self.api.post("/v1/tenants/acme/identities", {
            "kind": "service", "name": "multi", "state": "active"})
        self.assertEqual(r.status, 201, r)
        ident = r.json()
        first = self.api.get("/v1/ca").json()["active_key_id"]
        node = Server(self.ws)
        self.addCleanup(node.kill)
        node.start()
        api2 = node.client()
        self.assertEqual(api2.get("/v1/ca").json()["active_key_id"], first)

        def wait_for(pred):
            deadline = time.monotonic() + NODE_BOUND_S
            while not pred() and time.monotonic() < deadline:
                time.sleep(0.1)
            return pred()

        # an intermediate rotation, both steps on the first node
        self.assertEqual(self.api.post("/v1/ca/rotate", {}).status, 200)
        r = self.api.post("/v1/ca/rotate", {})
        self.assertEqual(r.json()["step"], "activated", r)
        new = r.json()["key_id"]
        self.assertTrue(wait_for(lambda: api2.get("/v1/ca").json()
                                 ["active_key_id"] == new))
        r = api2.post("/v1/tenants/acme/certificates", {
            "identity_id": ident["id"], "generate_key": True})
        self.assertEqual(r.status, 201, r)
        serial = r.json()["serial"]
        items = self.api.get("/v1/tenants/acme/certificates?identity_id=%s"
                             % ident["id"]).json()["items"]
        self.assertEqual([c["issuer_key_id"] for c in items
                          if c["serial"] == serial], [new])
        # a prepared root reaches the second node's bundle
        self.assertEqual(self.api.post("/v1/ca/rotate",
                                       {"root": True}).status, 200)
        self.assertTrue(wait_for(lambda: len(
            api2.get("/ca/bundle.pem").body.split(b"BEGIN")) == 3))
        self.assertStops(node)

    def test_revocation_on_one_node_reaches_the_others_crl_and_ocsp(self):
        """The second node has made and cached its CRL before the first
        node revokes; its CRL and its OCSP answers then say revoked."""
        self.api.ensure_tenant("acme")
        r = self.api.post("/v1/tenants/acme/identities", {
            "kind": "service", "name": "revoked-elsewhere",
            "state": "active"})
        self.assertEqual(r.status, 201, r)
        r = self.api.post("/v1/tenants/acme/certificates", {
            "identity_id": r.json()["id"], "generate_key": True})
        self.assertEqual(r.status, 201, r)
        doc = r.json()
        d = self.ws.dir
        paths = {}
        for name, text in (("leaf", doc["certificate"]),
                           ("chain", doc["chain"])):
            paths[name] = os.path.join(d, "elsewhere-%s.pem" % name)
            with open(paths[name], "w") as f:
                f.write(text)
        node = Server(self.ws)
        self.addCleanup(node.kill)
        node.start()
        anon2 = node.client(token=None)

        def crl_serials():
            r = anon2.get("/ca/crl")
            assert r.status == 200, r
            der = os.path.join(d, "elsewhere.crl")
            with open(der, "wb") as f:
                f.write(r.body)
            return openssl("crl", "-inform", "DER", "-in", der, "-noout",
                           "-text", cwd=d).stdout.lower()

        def ocsp():
            return openssl("ocsp", "-issuer", paths["chain"], "-cert",
                           paths["leaf"], "-url", "http://127.0.0.1:%d/ca/"
                           "ocsp" % node.port, "-noverify", cwd=d,
                           check=False).stdout

        serial = doc["serial"].lower().lstrip("0")
        self.assertNotIn(serial, crl_serials())
        self.assertIn(": good", ocsp())
        r = self.api.post("/v1/tenants/acme/certificates/%s/revoke"
                          % doc["serial"], {"reason": "keyCompromise"})
        self.assertEqual(r.status, 200, r)
        deadline = time.monotonic() + REVOCATION_BOUND_S
        while serial not in crl_serials() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn(serial, crl_serials())
        self.assertIn(": revoked", ocsp())
        self.assertStops(node)


class CARootRenewalTest(ServerTestCase):
    """A workload whose SVID chains to a root published after a mutual
    TLS listener started renews there without a restart: the listener
    trusts each root the CA loads."""

    def test_renewal_under_a_root_newer_than_the_listener(self):
        d = self.ws.dir
        self.api.ensure_tenant("acme")

        def identity(name, **attrs):
            r = self.api.post("/v1/tenants/acme/identities", {
                "kind": "service", "name": name, "state": "active",
                "attributes": attrs})
            self.assertEqual(r.status, 201, r)
            return r.json()

        def write(name, text):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        def issue(ident, **body):
            body.update(identity_id=ident["id"], generate_key=True)
            r = self.api.post("/v1/tenants/acme/certificates", body)
            self.assertEqual(r.status, 201, r)
            doc = r.json()
            stem = os.path.join(d, "renewal-%s" % doc["serial"])
            write(stem + "-full.pem", doc["certificate"] + doc["chain"])
            write(stem + ".key", doc["private_key"])
            return stem

        web = identity("web-renew", dns_names=["localhost"],
                       ip_addresses=["127.0.0.1"])
        job = identity("job-renew")
        bundle = write("renewal-bundle.pem",
                       self.anon.get("/ca/bundle.pem").body.decode())
        tls = issue(web, profile="tls-server", dns_names=["localhost"],
                    ip_addresses=["127.0.0.1"])
        old = issue(job)
        node = Server(self.ws, args=[
            "--tls-cert", tls + "-full.pem", "--tls-key", tls + ".key",
            "--tls-client-ca", bundle])
        node.ssl_context = __import__("ssl").create_default_context(
            cafile=bundle)
        node.ssl_context.load_cert_chain(old + "-full.pem", old + ".key")
        self.addCleanup(node.kill)
        node.start()
        for step in ("root prepared", "root activated"):
            r = self.api.post("/v1/ca/rotate", {"root": True})
            self.assertEqual(r.json()["step"], step, r)
        new = issue(job)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                os.path.join(d, "renewal-csr.key"), "-out",
                os.path.join(d, "renewal.csr"), "-subj", "/CN=x", cwd=d)
        with open(os.path.join(d, "renewal.csr")) as f:
            csr = f.read()

        def renew(stem):
            out = subprocess.run([
                "curl", "-sS", "--cacert", bundle, "--cert",
                stem + "-full.pem", "--key", stem + ".key", "-H",
                "Content-Type: application/json", "-d",
                json.dumps({"csr": csr}), "-o", "/dev/null", "-w",
                "%{http_code}", "https://127.0.0.1:%d/v1/certificates/"
                "renew" % node.port], capture_output=True, text=True,
                timeout=60)
            return out.stdout

        # The listener's --tls-client-ca file has the old root only; the
        # second node learns of the new one when it reloads the CA (a
        # request with the old SVID makes it look).
        self.assertEqual(renew(old), "201")
        deadline = time.monotonic() + NODE_BOUND_S
        code = renew(new)
        while code != "201" and time.monotonic() < deadline:
            time.sleep(0.2)
            renew(old)
            code = renew(new)
        self.assertEqual(code, "201")
        self.assertStops(node)


if __name__ == "__main__":
    main()
