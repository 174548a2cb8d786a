#!/usr/bin/env python3
"""
End-to-end tests of the ACME server (RFC 8555) that `ztiam serve` runs
per tenant at /acme/{tenant}/directory: certbot and lego (Debian's
packages) obtain, renew and revoke TLS server certificates through it
with http-01 and tls-alpn-01, and the chains verify with `openssl
verify` against the served trust bundle.  A small ACME client written
here (python3-cryptography) then sends what real clients never do:
malformed JWS, bad and replayed nonces, wrong URLs, unknown accounts,
refused algorithms, CSRs naming other names, finalize before ready.
Each gets its ACME problem type and changes nothing.

Validation connects to 127.0.0.1 only: the server runs with
--acme-test-resolve 127.0.0.1 and --acme-http01-port /
--acme-tls-alpn01-port set to free loopback ports.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_acme.py
With ZTIAM_TEST_DB=postgres://... the server uses PostgreSQL.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ServerTestCase, free_port, main, psql  # noqa: E402

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature)
    from cryptography.x509.oid import NameOID
except ImportError:
    x509 = None

TENANT = "web"
ACME_ERR = "urn:ietf:params:acme:error:"
# Validation and polling are asynchronous; wait at most this long.
POLL_BOUND_S = 30.0
CLIENT_TIMEOUT_S = 180


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tool(name):
    path = shutil.which(name)
    if path is None:
        raise unittest.SkipTest("%s is not installed (scripts/deps.sh)"
                                % name)
    return path


# ---- a small ACME client -------------------------------------------------

class Key:
    """An ECDSA P-256 key that signs ES256 JWS."""

    def __init__(self):
        self.priv = ec.generate_private_key(ec.SECP256R1())

    def jwk(self):
        n = self.priv.public_key().public_numbers()
        return {"crv": "P-256", "kty": "EC",
                "x": b64u(n.x.to_bytes(32, "big")),
                "y": b64u(n.y.to_bytes(32, "big"))}

    def thumbprint(self):
        text = json.dumps(self.jwk(), sort_keys=True, separators=(",", ":"))
        return b64u(hashlib.sha256(text.encode()).digest())

    def sign(self, protected, payload):
        """A flattened JWS; `payload` None means POST-as-GET."""
        p64 = b64u(json.dumps(protected))
        pl64 = "" if payload is None else b64u(json.dumps(payload))
        der = self.priv.sign(("%s.%s" % (p64, pl64)).encode(),
                             ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return {"protected": p64, "payload": pl64, "signature": b64u(sig)}


class Acme:
    """Speaks ACME to the server under test through the harness client."""

    def __init__(self, http, base):
        self.http = http
        self.base = base        # http://127.0.0.1:PORT
        self.dir = None
        self.key = Key()
        self.kid = None

    def path(self, url):
        self.assert_ours(url)
        return url[len(self.base):]

    def assert_ours(self, url):
        if not url.startswith(self.base):
            raise AssertionError("URL %r is not under %r" % (url, self.base))

    def directory(self):
        r = self.http.get("/acme/%s/directory" % TENANT)
        assert r.status == 200, r
        self.dir = r.json()
        return self.dir

    def nonce(self):
        r = self.http.request("HEAD", self.path(self.dir["newNonce"]))
        assert r.status == 200, r
        return r.header("Replay-Nonce")

    def raw(self, url, body, ctype="application/jose+json"):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.http.request("POST", self.path(url), body=data,
                                 headers={"Content-Type": ctype})

    def post(self, url, payload, key=None, kid=None, use_jwk=False,
             nonce=None, header=None, sign_url=None):
        key = key or self.key
        prot = {"alg": "ES256", "url": sign_url or url,
                "nonce": nonce or self.nonce()}
        if use_jwk:
            prot["jwk"] = key.jwk()
        else:
            prot["kid"] = kid or self.kid
        prot.update(header or {})
        return self.raw(url, key.sign(prot, payload))

    def register(self):
        r = self.post(self.dir["newAccount"], {"termsOfServiceAgreed": True,
                      "contact": ["mailto:ops@example.com"]}, use_jwk=True)
        assert r.status == 201, r
        self.kid = r.header("Location")
        return r

    def order(self, names):
        r = self.post(self.dir["newOrder"], {"identifiers": [
            {"type": "dns", "value": n} for n in names]})
        assert r.status == 201, r
        return r.header("Location"), r.json()

    def get(self, url):
        return self.post(url, None)

    def poll(self, url, until):
        deadline = time.monotonic() + POLL_BOUND_S
        while True:
            r = self.get(url)
            assert r.status == 200, r
            if r.json()["status"] in until:
                return r.json()
            if time.monotonic() > deadline:
                raise AssertionError("still %s: %r" % (r.json()["status"],
                                                       r.json()))
            time.sleep(0.2)


class Http01Responder:
    """Serves key authorizations on the http-01 port, in a thread."""

    def __init__(self, port):
        self.answers = {}
        answers = self.answers

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                token = self.path.rsplit("/", 1)[-1]
                body = answers.get(token)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                     Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def csr_der(names, key=None, cn=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder()
    b = b.subject_name(x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
    b = b.add_extension(x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in names]), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)


# ---- the tests --------------------------------------------------------------

class AcmeTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if x509 is None:
            raise unittest.SkipTest("python3-cryptography is missing")
        cls.http01 = free_port()
        cls.alpn = free_port()
        cls.server_args = ("--acme-http01-port", str(cls.http01),
                           "--acme-tls-alpn01-port", str(cls.alpn),
                           "--acme-test-resolve", "127.0.0.1")
        super().setUpClass()
        cls.api.ensure_tenant(TENANT)
        cls.base = "http://127.0.0.1:%d" % cls.server.port
        cls.dir_url = "%s/acme/%s/directory" % (cls.base, TENANT)
        r = cls.api.get("/ca/bundle.pem")
        assert r.status == 200, r
        cls.bundle = os.path.join(cls.ws.dir, "bundle.pem")
        with open(cls.bundle, "w") as f:
            f.write(r.body.decode())

    def client(self):
        c = Acme(self.anon, self.base)
        c.directory()
        return c

    def verify_chain(self, leaf, chain):
        r = subprocess.run(["openssl", "verify", "-CAfile", self.bundle,
                            "-untrusted", chain, leaf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def revoked_serials(self):
        r = self.api.get("/v1/tenants/%s/certificates?revoked=true"
                         % TENANT)
        self.assertEqual(r.status, 200, r)
        return {c["serial"] for c in r.json()["items"]}

    def serial_of(self, pem_path):
        r = subprocess.run(["openssl", "x509", "-in", pem_path, "-noout",
                            "-serial"], capture_output=True, text=True,
                           timeout=60, check=True)
        return r.stdout.strip().split("=", 1)[1].lower().lstrip("0")

    def state(self):
        """Every row of the ACME and certificate tables but the nonces:
        equal states mean a request changed nothing."""
        tables = ("acme_accounts", "acme_orders", "acme_authzs",
                  "acme_challenges", "ca_certs")
        out = []
        for t in tables:
            if self.ws.is_postgres:
                out.append(psql(self.ws.db_url, "SELECT md5(coalesce("
                                "string_agg(r::text, '|' ORDER BY "
                                "r::text), '')) FROM %s r" % t,
                                tuples=True).strip())
            else:
                conn = sqlite3.connect("file:%s?mode=ro"
                                       % self.ws.sqlite_path, uri=True)
                try:
                    out.append(repr(sorted(repr(r) for r in conn.execute(
                        "SELECT * FROM %s" % t).fetchall())))
                finally:
                    conn.close()
        return out

    def assertAcmeProblem(self, r, kind, status=None):
        self.assertTrue((r.header("Content-Type") or "").startswith(
            "application/problem+json"), r)
        doc = r.json()
        self.assertEqual(doc["type"], ACME_ERR + kind, doc)
        if status:
            self.assertEqual(r.status, status, r)
        self.assertTrue(r.header("Replay-Nonce"), r)
        return doc

    # -- real clients

    def certbot(self, cfg, *args):
        cmd = [tool("certbot")] + list(args) + [
            "--config-dir", os.path.join(cfg, "c"),
            "--work-dir", os.path.join(cfg, "w"),
            "--logs-dir", os.path.join(cfg, "l"),
            "--non-interactive"]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=CLIENT_TIMEOUT_S)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def test_certbot_issue_renew_revoke(self):
        cfg = os.path.join(self.ws.dir, "certbot")
        name = "www.certbot.example"
        self.certbot(cfg, "certonly", "--standalone",
                     "--preferred-challenges", "http",
                     "--http-01-port", str(self.http01),
                     "--http-01-address", "127.0.0.1",
                     "--server", self.dir_url, "--agree-tos",
                     "-m", "ops@example.com", "-d", name)
        live = os.path.join(cfg, "c", "live", name)
        self.verify_chain(os.path.join(live, "cert.pem"),
                          os.path.join(live, "chain.pem"))
        first = self.serial_of(os.path.join(live, "cert.pem"))

        self.certbot(cfg, "renew", "--force-renewal",
                     "--no-random-sleep-on-renew")
        second = self.serial_of(os.path.join(live, "cert.pem"))
        self.assertNotEqual(first, second)
        self.verify_chain(os.path.join(live, "cert.pem"),
                          os.path.join(live, "chain.pem"))

        self.certbot(cfg, "revoke", "--cert-path",
                     os.path.join(live, "cert.pem"), "--server",
                     self.dir_url, "--no-delete-after-revoke",
                     "--reason", "superseded")
        self.assertIn(second, self.revoked_serials())
        self.assertNotIn(first, self.revoked_serials())

    def lego(self, path, *args):
        cmd = [tool("lego"), "--path", path, "--server", self.dir_url,
               "--email", "ops@example.com", "--accept-tos"] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=CLIENT_TIMEOUT_S)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def test_lego_http01_renew(self):
        path = os.path.join(self.ws.dir, "lego-http")
        name = "app.lego.example"
        port = "127.0.0.1:%d" % self.http01
        self.lego(path, "--domains", name, "--http", "--http.port", port,
                  "run")
        crt = os.path.join(path, "certificates", name + ".crt")
        issuer = os.path.join(path, "certificates", name + ".issuer.crt")
        self.verify_chain(crt, issuer)
        first = self.serial_of(crt)
        self.lego(path, "--domains", name, "--http", "--http.port", port,
                  "renew", "--days", "100000", "--no-random-sleep")
        self.assertNotEqual(first, self.serial_of(crt))
        self.verify_chain(crt, issuer)

    def test_lego_tls_alpn01(self):
        path = os.path.join(self.ws.dir, "lego-tls")
        name = "tls.lego.example"
        self.lego(path, "--domains", name, "--tls", "--tls.port",
                  "127.0.0.1:%d" % self.alpn, "run")
        crt = os.path.join(path, "certificates", name + ".crt")
        self.verify_chain(crt, os.path.join(path, "certificates",
                                            name + ".issuer.crt"))

    # -- the protocol, by hand

    def test_directory_and_nonces(self):
        c = self.client()
        for k in ("newNonce", "newAccount", "newOrder", "revokeCert",
                  "keyChange"):
            c.assert_ours(c.dir[k])
        r = self.anon.get(c.path(c.dir["newNonce"]))
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        a, b = c.nonce(), c.nonce()
        self.assertNotEqual(a, b)
        r = self.anon.get("/acme/no-such-tenant/directory")
        self.assertEqual(r.status, 404)
        self.assertAcmeProblem(r, "malformed")

    def test_account_lifecycle(self):
        c = self.client()
        r = c.post(c.dir["newAccount"], {"onlyReturnExisting": True},
                   use_jwk=True)
        self.assertAcmeProblem(r, "accountDoesNotExist", 400)
        r = c.register()
        self.assertEqual(r.json()["status"], "valid")
        again = c.post(c.dir["newAccount"], {"termsOfServiceAgreed": True},
                       use_jwk=True)
        self.assertEqual(again.status, 200)
        self.assertEqual(again.header("Location"), c.kid)
        r = c.post(c.dir["newAccount"], {"onlyReturnExisting": True},
                   use_jwk=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Location"), c.kid)

        r = c.post(c.kid, {"contact": ["mailto:new@example.com"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["contact"], ["mailto:new@example.com"])
        r = c.post(c.kid, {"contact": ["tel:+1555"]})
        self.assertAcmeProblem(r, "unsupportedContact")

        # Key roll-over: the new key works, the old one no longer does.
        new = Key()
        inner = new.sign({"alg": "ES256", "jwk": new.jwk(),
                          "url": c.dir["keyChange"]},
                         {"account": c.kid, "oldKey": c.key.jwk()})
        r = c.post(c.dir["keyChange"], inner)
        self.assertEqual(r.status, 200, r)
        old = c.key
        c.key = new
        self.assertEqual(c.get(c.kid).status, 200)
        r = c.post(c.kid, None, key=old)
        self.assertAcmeProblem(r, "malformed")

        r = c.post(c.kid, {"status": "deactivated"})
        self.assertEqual(r.json()["status"], "deactivated")
        r = c.get(c.kid)
        self.assertAcmeProblem(r, "unauthorized", 403)

    def test_bad_envelopes_change_nothing(self):
        c = self.client()
        c.register()
        url = c.dir["newOrder"]
        ids = {"identifiers": [{"type": "dns", "value": "x.example"}]}
        before = self.state()

        r = c.raw(url, b"{not json")
        self.assertAcmeProblem(r, "malformed", 400)
        r = c.raw(url, {"protected": "e30", "payload": "",
                        "signature": "", "header": {}})
        self.assertAcmeProblem(r, "malformed", 400)
        r = c.raw(url, {"protected": "e30", "payload": "",
                        "signature": "AA"}, ctype="application/json")
        self.assertAcmeProblem(r, "malformed", 415)

        # No nonce, a made-up one, a used one.
        jws = c.key.sign({"alg": "ES256", "url": url, "kid": c.kid}, ids)
        self.assertAcmeProblem(c.raw(url, jws), "badNonce", 400)
        r = c.post(url, ids, nonce="AAAAAAAAAAAAAAAAAAAAAA")
        self.assertAcmeProblem(r, "badNonce", 400)
        n = c.nonce()
        first = c.post(c.kid, None, nonce=n)
        self.assertEqual(first.status, 200)
        r = c.post(url, ids, nonce=n)
        self.assertAcmeProblem(r, "badNonce", 400)

        # The URL signed is not the URL requested.
        r = c.post(url, ids, sign_url=c.dir["newAccount"])
        self.assertAcmeProblem(r, "unauthorized", 403)
        # An account that does not exist; both jwk and kid; a refused alg.
        r = c.post(url, ids, kid=c.kid[:-4] + "AAAA")
        self.assertAcmeProblem(r, "accountDoesNotExist", 400)
        r = c.post(url, ids, header={"jwk": c.key.jwk()})
        self.assertAcmeProblem(r, "malformed", 400)
        r = c.post(url, ids, header={"alg": "HS256"})
        self.assertAcmeProblem(r, "badSignatureAlgorithm", 400)
        r = c.post(url, ids, header={"alg": "none"})
        self.assertAcmeProblem(r, "badSignatureAlgorithm", 400)
        # Signed by another key than the account's.
        r = c.post(url, ids, key=Key())
        self.assertAcmeProblem(r, "malformed", 400)
        # A newAccount must carry a jwk, the rest a kid.
        r = c.post(url, ids, use_jwk=True)
        self.assertAcmeProblem(r, "malformed", 400)
        # Identifiers this server refuses.
        r = c.post(url, {"identifiers": [{"type": "dns",
                                          "value": "*.x.example"}]})
        self.assertAcmeProblem(r, "rejectedIdentifier", 400)
        r = c.post(url, {"identifiers": [{"type": "email",
                                          "value": "a@x.example"}]})
        self.assertAcmeProblem(r, "unsupportedIdentifier", 400)

        self.assertEqual(self.state(), before)

    def test_order_flow_by_hand(self):
        c = self.client()
        c.register()
        names = ["one.hand.example", "two.hand.example"]
        order_url, order = c.order(names)
        self.assertEqual(order["status"], "pending")

        # Finalize before the order is ready.
        before = self.state()
        r = c.post(order["finalize"], {"csr": b64u(csr_der(names))})
        self.assertAcmeProblem(r, "orderNotReady", 403)
        self.assertEqual(self.state(), before)

        # Another account can read neither the order nor its authz.
        other = self.client()
        other.register()
        self.assertAcmeProblem(other.get(order_url), "unauthorized", 403)
        self.assertAcmeProblem(other.get(order["authorizations"][0]),
                               "unauthorized", 403)

        responder = Http01Responder(self.http01)
        self.addCleanup(responder.close)
        for authz_url in order["authorizations"]:
            authz = c.get(authz_url).json()
            ch = [x for x in authz["challenges"] if x["type"] == "http-01"][0]
            responder.answers[ch["token"]] = "%s.%s" % (ch["token"],
                                                        c.key.thumbprint())
            r = c.post(ch["url"], {})
            self.assertEqual(r.status, 200, r)
            self.assertIn(r.json()["status"], ("processing", "valid"))
            links = r.headers.get_all("Link") or []
            self.assertTrue(any('rel="up"' in v for v in links), links)
            done = c.poll(authz_url, ("valid", "invalid"))
            self.assertEqual(done["status"], "valid", done)
        self.assertEqual(c.poll(order_url, ("ready", "invalid"))["status"],
                         "ready")

        # A CSR naming more, fewer or other names than the order.
        before = self.state()
        for bad in (names[:1], names + ["three.hand.example"],
                    ["one.hand.example", "other.example"]):
            r = c.post(order["finalize"], {"csr": b64u(csr_der(bad))})
            self.assertAcmeProblem(r, "badCSR", 400)
        r = c.post(order["finalize"], {"csr": b64u(csr_der(
            names, cn="other.example"))})
        self.assertAcmeProblem(r, "badCSR", 400)
        r = c.post(order["finalize"], {"csr": b64u(b"\x30\x03\x02\x01")})
        self.assertAcmeProblem(r, "badCSR", 400)
        # The right names, but a key the CA refuses (RSA under 2048):
        # refused after the order was taken, and it is ready again.
        weak = rsa.generate_private_key(public_exponent=65537,
                                        key_size=1024)
        r = c.post(order["finalize"], {"csr": b64u(csr_der(names, weak))})
        self.assertAcmeProblem(r, "badCSR", 400)
        self.assertEqual(self.state(), before)
        self.assertEqual(c.get(order_url).json()["status"], "ready")

        key = ec.generate_private_key(ec.SECP256R1())
        r = c.post(order["finalize"], {"csr": b64u(csr_der(names, key))})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "valid")
        r = c.get(r.json()["certificate"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"),
                         "application/pem-certificate-chain")
        pem = r.body.decode()
        self.assertEqual(pem.count("BEGIN CERTIFICATE"), 2)
        leaf = x509.load_pem_x509_certificate(pem.encode())
        sans = leaf.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
        self.assertEqual(sorted(sans), sorted(names))

        # Revocation: another account may not; the certificate's key may.
        der = leaf.public_bytes(serialization.Encoding.DER)
        r = other.post(other.dir["revokeCert"], {"certificate": b64u(der)})
        self.assertAcmeProblem(r, "unauthorized", 403)
        r = c.post(c.dir["revokeCert"], {"certificate": b64u(der),
                                         "reason": 7})
        self.assertAcmeProblem(r, "badRevocationReason", 400)
        holder = Key()
        holder.priv = key
        r = c.post(c.dir["revokeCert"], {"certificate": b64u(der),
                                         "reason": 1}, key=holder,
                   use_jwk=True)
        self.assertEqual(r.status, 200, r)
        r = c.post(c.dir["revokeCert"], {"certificate": b64u(der)})
        self.assertAcmeProblem(r, "alreadyRevoked", 400)
        self.assertIn(format(leaf.serial_number, "x"),
                      self.revoked_serials())

    def test_failed_validation(self):
        c = self.client()
        c.register()
        order_url, order = c.order(["nobody.example"])
        authz = c.get(order["authorizations"][0]).json()
        ch = [x for x in authz["challenges"] if x["type"] == "http-01"][0]
        # Something answers on the port, but with the wrong text.
        responder = Http01Responder(self.http01)
        self.addCleanup(responder.close)
        responder.answers[ch["token"]] = "wrong"
        r = c.post(ch["url"], {})
        self.assertEqual(r.status, 200, r)
        done = c.poll(order["authorizations"][0], ("valid", "invalid"))
        self.assertEqual(done["status"], "invalid")
        chall = [x for x in done["challenges"] if x["type"] == "http-01"][0]
        self.assertEqual(chall["error"]["type"],
                         ACME_ERR + "incorrectResponse")
        self.assertEqual(c.get(order_url).json()["status"], "invalid")


if __name__ == "__main__":
    main()
