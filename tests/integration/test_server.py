#!/usr/bin/env python3
"""
End-to-end tests of `ztiam serve`: the real binary on a loopback port,
driven over HTTP (and HTTPS), through its own CLI, and by hand-made bytes
where a well-behaved client library would refuse to send them.

They cover the first start and the bootstrap token, the operational
endpoints, the life of an API token (create, use, list, revoke, expire),
tenant isolation, request ids, every class of bad input the API promises
to reject without touching the database, connection handling (keep-alive,
slow and idle clients), graceful shutdown, TLS and mutual TLS, the CLI,
the audit chain check, and configuration from the environment and a file.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_server.py
With ZTIAM_TEST_DB=postgres://... every server uses a fresh database on
that PostgreSQL server instead of SQLite (tests/store/with-postgres.sh
provides one).  Extra arguments go to unittest (-v, -k NAME).
"""

import base64
import http.client
import json
import os
import re
import secrets
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    REQUEST_ID_RE, TOKEN_RE, Checks, Client, Server, ServerTestCase,
    Workspace, free_port, main, parse_responses, raw_exchange,
    read_response, ztiam_bin)


def forged_token():
    """A token of the right shape that the server never issued."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=")
    return "ztiam_" + raw.decode()


def metric_sum(text, name, **labels):
    """The sum of every sample of `name` whose labels include `labels`."""
    total = 0.0
    pattern = re.compile(r"^%s(\{[^}]*\})?\s+(\S+)$" % re.escape(name))
    for line in text.splitlines():
        m = pattern.match(line)
        if not m:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


# ---- first start ---------------------------------------------------------

class BootstrapTest(Checks):

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.server = Server(self.ws)
        self.addCleanup(self.server.kill)

    def test_first_start_writes_a_0600_token_file_and_prints_it_once(self):
        self.server.start()
        path = os.path.join(self.ws.data, "bootstrap-token")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            content = f.read()
        self.assertRegex(content, r"^ztiam_[A-Za-z0-9_-]{43}\n$")
        token = content.strip()

        r = self.server.client(token).get("/v1/whoami")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["scope"], "system")
        self.assertStops(self.server)
        self.assertEqual(self.server.stdout_text().count(token), 1)
        self.assertNotIn(token, self.server.stderr_text())

    def test_second_start_prints_no_token_and_the_first_one_still_works(self):
        self.server.start()
        token = self.ws.bootstrap_token()
        self.assertStops(self.server)

        self.server.start()
        r = self.server.client(token).get("/v1/whoami")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ws.bootstrap_token(), token)
        audit = self.server.client(token).audit_items()
        self.assertEqual([a["action"] for a in audit], ["system.bootstrap"])
        self.assertStops(self.server)
        self.assertIsNone(TOKEN_RE.search(self.server.stdout_text()))

    def test_data_directory_is_created_private_to_the_owner(self):
        self.server.start()
        mode = stat.S_IMODE(os.stat(self.ws.data).st_mode)
        self.assertEqual(mode & 0o077, 0, oct(mode))
        self.assertStops(self.server)

    def test_ready_log_line_is_json_on_stderr(self):
        self.server.start()
        self.assertStops(self.server)
        lines = [json.loads(line) for line in
                 self.server.stderr_text().splitlines() if line.strip()]
        self.assertIn("ready", [line.get("msg") for line in lines])


# ---- operational endpoints ----------------------------------------------

class OpsEndpointTest(ServerTestCase):

    def test_healthz_answers_ok_without_a_token(self):
        r = self.anon.get("/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith(
            "application/json"))
        self.assertEqual(r.json(), {"status": "ok"})

    def test_readyz_answers_ready_without_a_token(self):
        r = self.anon.get("/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ready"})

    def test_version_matches_the_binary_version_command(self):
        r = self.anon.get("/version")
        self.assertEqual(r.status, 200, r)
        out = subprocess.run([ztiam_bin(), "version"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.stdout.strip(), "ztiam " + r.json()["version"])

    def test_metrics_count_requests_by_route_and_status(self):
        def counts():
            text = self.anon.get("/metrics").body.decode()
            return (metric_sum(text, "ztiam_http_requests_total",
                               route="whoami", status="200"),
                    metric_sum(text, "ztiam_http_requests_total",
                               route="whoami", status="401"))
        ok0, denied0 = counts()
        for _ in range(3):
            self.assertEqual(self.api.get("/v1/whoami").status, 200)
        for _ in range(2):
            self.assertEqual(self.anon.get("/v1/whoami").status, 401)
        ok1, denied1 = counts()
        self.assertEqual(ok1 - ok0, 3)
        self.assertEqual(denied1 - denied0, 2)

    def test_metrics_expose_latency_db_connections_and_memory(self):
        self.api.get("/v1/whoami")
        r = self.anon.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        text = r.body.decode()
        self.assertGreater(metric_sum(
            text, "ztiam_http_request_duration_seconds_bucket",
            le="+Inf"), 0)
        self.assertGreaterEqual(metric_sum(text, "ztiam_db_connections"), 1)
        self.assertGreater(metric_sum(text, "process_resident_memory_bytes"),
                           1 << 20)


# ---- API tokens ----------------------------------------------------------

class TokenLifecycleTest(ServerTestCase):

    def test_create_returns_201_location_and_the_secret(self):
        r = self.api.post("/v1/tokens", {"name": "deploy"})
        self.assertEqual(r.status, 201, r)
        doc = r.json()
        for key in ("id", "name", "tenant", "created_at", "created_by",
                    "expires_at", "revoked_at", "token"):
            self.assertIn(key, doc)
        self.assertEqual(r.header("Location"), "/v1/tokens/" + doc["id"])
        self.assertEqual(doc["name"], "deploy")
        self.assertIsNone(doc["tenant"])
        self.assertIsNone(doc["expires_at"])
        self.assertIsNone(doc["revoked_at"])
        self.assertRegex(doc["token"], "^" + TOKEN_RE.pattern + "$")

    def test_created_token_authenticates_as_itself(self):
        doc = self.api.create_token("whoami-check")
        r = self.server.client(doc["token"]).get("/v1/whoami")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["token_id"], doc["id"])
        self.assertEqual(r.json()["scope"], "system")

    def test_list_and_get_never_return_secrets(self):
        doc = self.api.create_token("listed")
        r = self.api.get("/v1/tokens")
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        self.assertIn(doc["id"], [t["id"] for t in items])
        self.assertTrue(all("token" not in t for t in items), items)
        self.assertNotIn(doc["token"].encode(), r.body)
        self.assertIsNone(TOKEN_RE.search(r.body.decode()))

        r = self.api.get("/v1/tokens/" + doc["id"])
        self.assertEqual(r.status, 200, r)
        got = r.json()
        self.assertNotIn("token", got)
        expected = dict(doc)
        del expected["token"]
        self.assertEqual(got, expected)

    def test_revoked_token_gets_401_and_shows_revoked_at(self):
        doc = self.api.create_token("short-lived")
        user = self.server.client(doc["token"])
        self.assertEqual(user.get("/v1/whoami").status, 200)
        r = self.api.delete("/v1/tokens/" + doc["id"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assertUnauthorized(user.get("/v1/whoami"))
        self.assertUnauthorized(user.get("/v1/tokens"))
        got = self.api.get("/v1/tokens/" + doc["id"]).json()
        self.assertIsNotNone(got["revoked_at"])

    def test_token_with_expires_in_1_gets_401_two_seconds_later(self):
        doc = self.api.create_token("one-second", expires_in=1)
        self.assertIsNotNone(doc["expires_at"])
        time.sleep(2)
        self.assertUnauthorized(
            self.server.client(doc["token"]).get("/v1/whoami"))

    def test_create_and_revoke_each_append_one_audit_record(self):
        before = self.api.audit_items()
        doc = self.api.create_token("audited")
        self.api.delete("/v1/tokens/" + doc["id"])
        new = self.api.audit_items()[len(before):]
        self.assertEqual([a["action"] for a in new],
                         ["token.create", "token.revoke"])
        whoami = self.api.get("/v1/whoami").json()
        for a in new:
            self.assertEqual(a["target"], "token:" + doc["id"])
            self.assertEqual(a["actor"], "token:" + whoami["token_id"])
        seqs = [a["seq"] for a in self.api.audit_items()]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))

    def test_unknown_token_id_is_404_on_get_and_delete(self):
        for method in ("GET", "DELETE"):
            r = self.api.request(method, "/v1/tokens/AAAAAAAAAAAAAAAA")
            self.assertProblem(r, 404, "not_found")

    def test_json_content_type_with_charset_is_accepted(self):
        r = self.api.post("/v1/tokens", {"name": "charset"},
                          content_type="application/json; charset=utf-8")
        self.assertEqual(r.status, 201, r)

    def test_name_of_128_characters_is_accepted(self):
        doc = self.api.create_token("n" * 128)
        self.assertEqual(doc["name"], "n" * 128)

    def test_sql_metacharacters_in_name_are_stored_literally(self):
        names = [
            "'; DROP TABLE api_tokens; --",
            "Robert'); DROP TABLE audit_log;--",
            '" OR ""="',
            "x' OR '1'='1",
            "\\'; SELECT pg_sleep(5); --",
            "$1 $2 ? %s %n %% _",
            "/* comment */ -- dash",
            "\u00fcn\u00efc\u00f8d\u00e9 \u2713",
        ]
        for name in names:
            doc = self.api.create_token(name)
            self.assertEqual(doc["name"], name)
            got = self.api.get("/v1/tokens/" + doc["id"]).json()
            self.assertEqual(got["name"], name)
            self.assertEqual(self.server.client(doc["token"])
                             .get("/v1/whoami").status, 200)
        listed = [t["name"] for t in self.api.token_list()]
        for name in names:
            self.assertIn(name, listed)
        self.assertEqual(self.ws.audit_verify().returncode, 0)

    def test_secrets_never_reach_the_log(self):
        doc = self.api.create_token("log-check")
        self.server.client(doc["token"]).get("/v1/whoami")
        forged = forged_token()
        self.server.client(forged).get("/v1/whoami")
        self.api.post("/v1/tokens", b'{"name": "' + forged.encode() + b'"')
        log = self.server.stderr_text()
        self.assertNotIn(doc["token"], log)
        self.assertNotIn(self.ws.bootstrap_token(), log)
        self.assertNotIn(forged, log)


# ---- tenants -------------------------------------------------------------

class TenantScopeTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for tenant in ("acme", "globex"):
            cls.api.ensure_tenant(tenant)
        cls.acme = cls.api.create_token("acme-admin", tenant="acme")
        cls.globex = cls.api.create_token("globex-admin", tenant="globex")
        cls.as_acme = cls.server.client(cls.acme["token"])
        cls.as_globex = cls.server.client(cls.globex["token"])
        cls.acme2 = cls.as_acme.create_token("acme-ci", tenant="acme")
        cls.as_globex.create_token("globex-ci", tenant="globex")

    def test_whoami_reports_tenant_scope(self):
        r = self.as_acme.get("/v1/whoami")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"token_id": self.acme["id"],
                                    "tenant": "acme", "scope": "tenant"})

    def test_tenant_token_creates_tokens_of_its_own_tenant(self):
        self.assertEqual(self.acme2["tenant"], "acme")
        self.assertIn(self.acme["id"], self.acme2["created_by"])
        r = self.server.client(self.acme2["token"]).get("/v1/whoami")
        self.assertEqual(r.json()["tenant"], "acme")

    def test_tenant_token_gets_403_creating_a_system_token(self):
        before = len(self.api.audit_items())
        r = self.as_acme.post("/v1/tokens", {"name": "escalate"})
        self.assertProblem(r, 403, "forbidden")
        self.assertEqual(len(self.api.audit_items()), before)

    def test_tenant_token_gets_404_creating_another_tenants_token(self):
        # Another tenant does not exist for this token: 404, not 403.
        r = self.as_acme.post("/v1/tokens",
                              {"name": "sideways", "tenant": "globex"})
        self.assertProblem(r, 404, "not_found")
        self.assertNotIn("sideways",
                         [t["name"] for t in self.api.token_list()])

    def test_tenant_token_gets_404_for_another_tenants_token(self):
        path = "/v1/tokens/" + self.globex["id"]
        self.assertProblem(self.as_acme.get(path), 404, "not_found")
        self.assertProblem(self.as_acme.delete(path), 404, "not_found")
        self.assertEqual(self.as_globex.get("/v1/whoami").status, 200)
        self.assertIsNone(self.api.get(path).json()["revoked_at"])

    def test_tenant_token_gets_404_for_a_system_token(self):
        me = self.api.get("/v1/whoami").json()["token_id"]
        self.assertProblem(self.as_acme.get("/v1/tokens/" + me), 404,
                           "not_found")
        self.assertProblem(self.as_acme.delete("/v1/tokens/" + me), 404,
                           "not_found")
        self.assertEqual(self.api.get("/v1/whoami").status, 200)

    def test_tenant_token_lists_only_its_own_tenants_tokens(self):
        items = self.as_acme.token_list()
        self.assertTrue(items)
        self.assertEqual({t["tenant"] for t in items}, {"acme"})
        self.assertIn(self.acme2["id"], [t["id"] for t in items])
        everyone = {t["tenant"] for t in self.api.token_list()}
        self.assertTrue({None, "acme", "globex"} <= everyone, everyone)

    def test_tenant_token_reads_only_its_own_tenants_audit_records(self):
        mine = self.as_acme.audit_items()
        self.assertTrue(mine)
        self.assertEqual({a["tenant"] for a in mine}, {"acme"})
        everyone = {a["tenant"] for a in self.api.audit_items()}
        self.assertTrue({None, "acme", "globex"} <= everyone, everyone)

    def test_tenant_token_revokes_a_token_of_its_own_tenant(self):
        doc = self.as_acme.create_token("acme-temp", tenant="acme")
        r = self.as_acme.delete("/v1/tokens/" + doc["id"])
        self.assertEqual(r.status, 204, r)
        self.assertUnauthorized(
            self.server.client(doc["token"]).get("/v1/whoami"))


# ---- request ids ---------------------------------------------------------

class RequestIdTest(ServerTestCase):

    def test_valid_client_request_id_is_echoed_on_success_and_errors(self):
        rid = "it-Req_1.2-3"
        cases = [(self.anon, "/healthz", 200), (self.api, "/v1/nope", 404),
                 (self.anon, "/v1/whoami", 401), (self.api, "/v1/whoami", 200)]
        for client, path, status in cases:
            r = client.get(path, headers={"X-Request-Id": rid})
            self.assertEqual(r.status, status, r)
            self.assertEqual(r.header("X-Request-Id"), rid, path)
            if status >= 400:
                self.assertEqual(r.json()["request_id"], rid)

    def test_request_id_of_64_characters_is_echoed(self):
        rid = "r" * 64
        r = self.anon.get("/healthz", headers={"X-Request-Id": rid})
        self.assertEqual(r.header("X-Request-Id"), rid)

    def test_invalid_client_request_id_is_replaced_by_a_generated_one(self):
        for bad in ("r" * 65, "has space", "slash/id", "semi;colon",
                    "quote'id", "<script>", ""):
            for client, path in ((self.anon, "/healthz"),
                                 (self.anon, "/v1/whoami")):
                r = client.get(path, headers={"X-Request-Id": bad})
                rid = r.header("X-Request-Id")
                self.assertIsNotNone(rid, bad)
                self.assertNotEqual(rid, bad)
                self.assertRegex(rid, REQUEST_ID_RE)

    def test_request_id_is_generated_when_absent_and_unique(self):
        seen = set()
        for path in ["/healthz", "/v1/nope", "/v1/whoami"] * 7:
            r = self.anon.get(path)
            rid = r.header("X-Request-Id")
            self.assertRegex(rid or "", REQUEST_ID_RE)
            seen.add(rid)
        self.assertEqual(len(seen), 21)

    def test_audit_record_carries_the_request_id_of_the_change(self):
        r = self.api.post("/v1/tokens", {"name": "traced"},
                          headers={"X-Request-Id": "it-trace-42"})
        self.assertEqual(r.status, 201, r)
        last = self.api.audit_items()[-1]
        self.assertEqual(last["action"], "token.create")
        self.assertEqual(last["request_id"], "it-trace-42")


# ---- bad input -----------------------------------------------------------

class BadInputTest(ServerTestCase):
    """Each test sends input the API must refuse and then checks that the
    database did not change: the audit trail, the token list and a digest
    of every row are the same before and after."""

    def setUp(self):
        self.before = self.snapshot()

    def snapshot(self):
        return (len(self.api.audit_items()), self.api.token_list(),
                self.ws.fingerprint())

    def assertUnchanged(self):
        after = self.snapshot()
        self.assertEqual(after[0], self.before[0], "audit record count")
        self.assertEqual(after[1], self.before[1], "token list")
        self.assertEqual(after[2], self.before[2], "database rows")
        self.assertEqual(self.anon.get("/healthz").status, 200)

    def post_raw(self, body, **kw):
        return self.api.post("/v1/tokens", body, **kw)

    def test_malformed_json_is_400_invalid_json(self):
        for body in (b'{"name": "x"', b'{name: "x"}', b"{'name': 'x'}",
                     b'{"name": "x",}', b'{"name": "x"} trailing',
                     b'{"name": "x"}{"name": "y"}', b'{"name": "\\q"}'):
            self.assertProblem(self.post_raw(body), 400, "invalid_json")
        self.assertUnchanged()

    def test_invalid_utf8_is_400_invalid_json(self):
        for body in (b'{"name": "\xff\xfe"}', b'{"name": "\xc0\xaf"}',
                     b'{"name": "\xed\xa0\x80"}', b'{"name": "ok\x80"}'):
            self.assertProblem(self.post_raw(body), 400, "invalid_json")
        self.assertUnchanged()

    def test_json_that_is_not_an_object_is_400_invalid_json(self):
        for body in (b'[]', b'["name", "x"]', b'"x"', b'42', b'null',
                     b'true'):
            self.assertProblem(self.post_raw(body), 400, "invalid_json")
        self.assertUnchanged()

    def test_empty_body_is_400_invalid_json(self):
        for body in (b"", b"   \r\n"):
            self.assertProblem(self.post_raw(body), 400, "invalid_json")
        self.assertUnchanged()

    def test_unknown_field_is_400_invalid_request(self):
        for body in ({"name": "x", "admin": True},
                     {"name": "x", "scope": "system"},
                     {"name": "x", "id": "AAAAAAAAAAAAAAAA"},
                     {"name": "x", "token": "ztiam_x"}):
            self.assertProblem(self.post_raw(body), 400, "invalid_request")
        self.assertUnchanged()

    def test_wrong_field_type_is_400_invalid_request(self):
        for body in ({"name": 5}, {"name": ["x"]}, {"name": {"a": 1}},
                     {"name": True}, {"name": "x", "tenant": 7},
                     {"name": "x", "expires_in": "10"},
                     {"name": "x", "expires_in": 1.5},
                     {"name": "x", "expires_in": True}, {}):
            self.assertProblem(self.post_raw(body), 400, "invalid_request")
        self.assertUnchanged()

    def test_out_of_range_values_are_400_invalid_request(self):
        for body in ({"name": ""}, {"name": "n" * 129},
                     {"name": "x", "tenant": ""},
                     {"name": "x", "tenant": "Acme"},
                     {"name": "x", "tenant": "t" * 65},
                     {"name": "x", "tenant": "a b"},
                     {"name": "x", "tenant": "acme\u00e9"},
                     {"name": "x", "expires_in": -1},
                     {"name": "x", "expires_in": 10 ** 12}):
            self.assertProblem(self.post_raw(body), 400, "invalid_request")
        self.assertUnchanged()

    def test_integer_beyond_64_bits_is_400(self):
        r = self.post_raw(b'{"name": "x", "expires_in": 1'
                          + b"0" * 30 + b"}")
        self.assertProblem(r, 400, ("invalid_json", "invalid_request"))
        self.assertUnchanged()

    def test_nul_character_in_name_is_400(self):
        r = self.post_raw(b'{"name": "admin\\u0000evil"}')
        self.assertProblem(r, 400, ("invalid_json", "invalid_request"))
        self.assertUnchanged()

    def test_sql_metacharacters_in_tenant_are_400_invalid_request(self):
        for tenant in ("acme'; DROP TABLE api_tokens; --", "a' OR '1'='1",
                       'a"b', "a;b", "a\\b", "a%", "a*", "a/**/b"):
            r = self.post_raw({"name": "x", "tenant": tenant})
            self.assertProblem(r, 400, "invalid_request")
        self.assertUnchanged()

    def test_sql_metacharacters_in_path_and_query_are_rejected(self):
        for path in ("/v1/tokens/%27%20OR%20%271%27%3D%271",
                     "/v1/tokens/x%27%3B%20DROP%20TABLE%20api_tokens%3B--",
                     "/v1/tokens/" + "A" * 300):
            self.assertProblem(self.api.get(path), 404, "not_found")
            self.assertProblem(self.api.delete(path), 404, "not_found")
        for query in ("after=0%20OR%201%3D1", "limit=1%3BDROP", "limit=0",
                      "limit=1001", "after=-1", "limit=", "after=1e3",
                      "limit=99999999999999999999999"):
            r = self.api.get("/v1/audit?" + query)
            self.assertProblem(r, 400, "invalid_parameter")
        self.assertUnchanged()

    def test_body_over_max_body_is_413_payload_too_large(self):
        body = b'{"name": "' + b"x" * (2 << 20) + b'"}'
        data = self._send_large(body, {"Content-Length": str(len(body))})
        self._assert_413(data)
        self.assertUnchanged()

    def test_chunked_body_over_max_body_is_413_payload_too_large(self):
        chunk = b"x" * 65536
        body = b'{"name": "'
        framed = b"%x\r\n%s\r\n" % (len(body), body)
        for _ in range(32):
            framed += b"%x\r\n%s\r\n" % (len(chunk), chunk)
        framed += b'2\r\n"}\r\n0\r\n\r\n'
        data = self._send_large(framed, {"Transfer-Encoding": "chunked"})
        self._assert_413(data)
        self.assertUnchanged()

    def _send_large(self, body, extra):
        """Sends a big POST the way a client would, but stops sending as
        soon as the server has answered, so an early 413 is read rather
        than lost to a connection reset."""
        head = ("POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Authorization: Bearer %s\r\n"
                "Content-Type: application/json\r\n" % self.api.token)
        head += "".join("%s: %s\r\n" % kv for kv in extra.items()) + "\r\n"
        s = socket.create_connection(("127.0.0.1", self.server.port),
                                     timeout=15)
        with s:
            s.sendall(head.encode())
            for i in range(0, len(body), 65536):
                s.settimeout(0.0)
                try:
                    peek = s.recv(1, socket.MSG_PEEK)
                except BlockingIOError:
                    peek = None
                except ConnectionError:
                    break
                s.settimeout(15)
                if peek is not None:
                    break
                try:
                    s.sendall(body[i:i + 65536])
                except ConnectionError:
                    break
            return read_response(s)

    def _assert_413(self, data):
        self.assertTrue(data, "no response at all")
        status, headers, body = parse_responses(data)[0]
        self.assertEqual(status, 413, data[:300])
        self.assertTrue(headers.get("content-type", "").startswith(
            "application/problem+json"), headers)
        self.assertEqual(json.loads(body)["code"], "payload_too_large")

    def test_oversized_header_block_is_refused_with_4xx(self):
        req = ("GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Authorization: Bearer %s\r\nX-Filler: %s\r\n\r\n"
               % (self.api.token, "f" * (64 << 10)))
        data = raw_exchange(self.server.port, req.encode())
        self.assertTrue(data, "the connection closed without a response")
        status = int(data.split(b" ", 2)[1])
        self.assertIn(status, (400, 413, 431), data[:200])
        self.assertUnchanged()

    def test_many_headers_summing_past_the_limit_are_refused_with_4xx(self):
        req = "GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        req += "".join("X-H%d: %s\r\n" % (i, "v" * 100) for i in range(400))
        data = raw_exchange(self.server.port, (req + "\r\n").encode())
        self.assertTrue(data, "the connection closed without a response")
        self.assertIn(int(data.split(b" ", 2)[1]), (400, 413, 431))
        self.assertUnchanged()

    def test_content_type_other_than_json_is_415(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded",
                      "application/jsonx", "multipart/form-data", None):
            r = self.post_raw(b'{"name": "x"}', content_type=ctype)
            self.assertProblem(r, 415, "unsupported_media_type")
        self.assertUnchanged()

    def test_unknown_route_is_404_not_found(self):
        for path in ("/v1/nope", "/", "/v1", "/v1/tokens/a/b",
                     "/v2/tokens", "/V1/TOKENS"):
            self.assertProblem(self.api.get(path), 404, "not_found")
        self.assertProblem(self.api.post("/v1/nope", {"name": "x"}), 404,
                           "not_found")
        self.assertUnchanged()

    def test_wrong_method_is_405_with_an_allow_header(self):
        cases = [("PUT", "/v1/tokens", {"GET", "POST"}),
                 ("DELETE", "/v1/tokens", {"GET", "POST"}),
                 ("PATCH", "/v1/tokens/AAAAAAAAAAAAAAAA", {"GET", "DELETE"}),
                 ("POST", "/v1/tokens/AAAAAAAAAAAAAAAA", {"GET", "DELETE"}),
                 ("POST", "/healthz", {"GET"}),
                 ("DELETE", "/v1/audit", {"GET"})]
        for method, path, allowed in cases:
            r = self.api.request(method, path, body=b'{"name": "x"}')
            self.assertProblem(r, 405, "method_not_allowed")
            allow = {m.strip() for m in (r.header("Allow") or "").split(",")}
            self.assertTrue(allowed <= allow, (method, path, allow))
            self.assertNotIn(method, allow)
        self.assertUnchanged()

    def test_missing_or_malformed_authorization_is_401(self):
        token = self.api.token
        for value in (None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ",
                      "Token " + token, token, "Bearer  " + token + "x",
                      "Bearer " + token[:-1], "Bearer " + token + " extra"):
            hdrs = {} if value is None else {"Authorization": value}
            r = self.anon.get("/v1/whoami", headers=hdrs)
            self.assertUnauthorized(r)
        self.assertUnchanged()

    def test_forged_token_of_the_right_shape_is_401(self):
        flipped = self.api.token[:-1] + (
            "A" if self.api.token[-1] != "A" else "B")
        for token in (forged_token(), forged_token(), flipped):
            self.assertUnauthorized(
                self.server.client(token).get("/v1/whoami"))
            self.assertUnauthorized(self.server.client(token).post(
                "/v1/tokens", {"name": "forged"}))
        self.assertUnchanged()

    def test_token_with_sql_metacharacters_is_401(self):
        for token in ("ztiam_' OR '1'='1' --", "' OR 1=1 --",
                      "ztiam_" + "'" * 43,
                      "ztiam_" + "x' OR hash LIKE '%".ljust(43, "a"),
                      "ztiam_%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"):
            self.assertUnauthorized(
                self.server.client(token).get("/v1/tokens"))
        self.assertUnchanged()

    def test_deeply_nested_json_is_400_invalid_json(self):
        # Nested in a field of the right name and in an unknown one: the
        # parser's depth limit must refuse both before any field check.
        nested = b"[" * 100 + b"]" * 100
        r = self.post_raw(b'{"name": "x", "tenant": ' + nested + b"}")
        self.assertProblem(r, 400, "invalid_json")
        r = self.post_raw(b'{"name": "x", "extra": ' + b'{"a":' * 100
                          + b"1" + b"}" * 100 + b"}")
        self.assertProblem(r, 400, "invalid_json")
        self.assertUnchanged()

    def test_nesting_of_200000_levels_is_400_and_does_not_crash(self):
        r = self.post_raw(b"[" * 200000)
        self.assertProblem(r, 400, ("invalid_json", "invalid_request"))
        r = self.post_raw(b'{"a":' * 100000)
        self.assertProblem(r, 400, ("invalid_json", "invalid_request"))
        self.assertUnchanged()

    def test_duplicate_keys_are_400(self):
        for body in (b'{"name": "a", "name": "b"}',
                     b'{"name": "a", "tenant": "t", "tenant": "t"}'):
            r = self.post_raw(body)
            self.assertProblem(r, 400, ("invalid_json", "invalid_request"))
        self.assertUnchanged()

    def test_malformed_request_line_is_refused_with_4xx(self):
        for req in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n",
                    b"GET /healthz HTTP/9.9\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"\x00\x01\x02\x03\r\n\r\n"):
            data = raw_exchange(self.server.port, req, timeout=5)
            if data:
                self.assertRegex(data, rb"^HTTP/1\.[01] (4\d\d|505) ", req)
        self.assertUnchanged()


# ---- connections ---------------------------------------------------------

class SlowClientTest(ServerTestCase):
    server_args = ("--idle-timeout", "2s")

    def open_partial(self, data):
        s = socket.create_connection(("127.0.0.1", self.server.port),
                                     timeout=15)
        self.addCleanup(s.close)
        s.sendall(data)
        return s

    def test_half_sent_requests_do_not_block_other_clients(self):
        head = ("POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json"
                "\r\nContent-Length: 100\r\n\r\n{\"na" % self.api.token)
        for i in range(8):
            self.open_partial(head.encode() if i % 2 else
                              b"GET /v1/whoami HTTP/1.1\r\nHost: 12")
        client = Client(self.server.port, token=self.api.token)
        for _ in range(20):
            conn = client.connect(timeout=5)
            r = client.request("GET", "/v1/whoami", conn=conn)
            conn.close()
            self.assertEqual(r.status, 200, r)

    def wait_closed(self, s, limit):
        """Seconds until the server closes `s`, or None after `limit`."""
        t0 = time.monotonic()
        s.settimeout(limit)
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
        except socket.timeout:
            return None
        except ConnectionResetError:
            pass
        return time.monotonic() - t0

    def test_idle_connection_is_closed_after_the_idle_timeout(self):
        s = self.open_partial(b"")
        took = self.wait_closed(s, 10)
        self.assertIsNotNone(took, "still open after 10s")
        self.assertGreaterEqual(took, 1.0)

    def test_half_sent_request_is_closed_after_the_idle_timeout(self):
        s = self.open_partial(b"GET /v1/whoami HTTP/1.1\r\nHost: 1")
        took = self.wait_closed(s, 10)
        self.assertIsNotNone(took, "still open after 10s")

    def test_keep_alive_connection_is_closed_after_the_idle_timeout(self):
        s = self.open_partial(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = parse_responses(read_response(s))[0]
        self.assertEqual(status, 200)
        took = self.wait_closed(s, 10)
        self.assertIsNotNone(took, "still open after 10s")
        self.assertGreaterEqual(took, 1.0)


class KeepAliveTest(ServerTestCase):

    def test_many_requests_share_one_connection(self):
        conn = self.api.connect()
        self.addCleanup(conn.close)
        r = self.api.request("GET", "/v1/whoami", conn=conn)
        self.assertEqual(r.status, 200)
        sock = conn.sock
        self.assertIsNotNone(sock)
        steps = [("GET", "/v1/whoami", None, self.api.token, 200),
                 ("POST", "/v1/tokens", {"name": "ka"}, self.api.token, 201),
                 ("GET", "/v1/tokens", None, self.api.token, 200),
                 ("GET", "/v1/nope", None, self.api.token, 404),
                 ("GET", "/v1/whoami", None, None, 401),
                 ("POST", "/v1/tokens", b"{bad", self.api.token, 400),
                 ("GET", "/v1/audit?limit=1", None, self.api.token, 200),
                 ("GET", "/healthz", None, None, 200)] * 3
        for method, path, body, token, status in steps:
            r = self.api.request(method, path, body=body, token=token,
                                 conn=conn)
            self.assertEqual(r.status, status, (method, path, r))
            self.assertIs(conn.sock, sock, "reconnected after %s %s"
                          % (method, path))

    def test_pipelined_requests_are_answered_in_order(self):
        reqs = b"".join(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                        b"X-Request-Id: pipe-%d\r\n\r\n" % i
                        for i in range(5))
        with socket.create_connection(("127.0.0.1", self.server.port),
                                      timeout=15) as s:
            s.sendall(reqs)
            data = b""
            got = []
            deadline = time.monotonic() + 15
            while len(got) < 5 and time.monotonic() < deadline:
                b = s.recv(65536)
                if not b:
                    break
                data += b
                try:
                    got = parse_responses(data)
                except AssertionError:
                    got = []
        self.assertEqual([h["x-request-id"] for _, h, _ in got],
                         ["pipe-%d" % i for i in range(5)])


# ---- shutdown ------------------------------------------------------------

class GracefulShutdownTest(Checks):

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.server = Server(self.ws)
        self.addCleanup(self.server.kill)
        self.server.start()
        self.token = self.ws.bootstrap_token()

    def test_sigterm_answers_a_half_sent_request_fully_or_not_at_all(self):
        """A request whose body is still arriving at SIGTERM may be
        dropped (the server closes connections that have no dispatched
        request), but it must then leave no trace; if it is answered, the
        answer is whole and the token exists after a restart."""
        name = "in flight at shutdown"
        body = json.dumps({"name": name}).encode()
        head = ("POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json"
                "\r\nContent-Length: %d\r\n\r\n" % (self.token, len(body)))
        with socket.create_connection(("127.0.0.1", self.server.port),
                                      timeout=15) as s:
            s.sendall(head.encode() + body[:10])
            time.sleep(0.3)
            self.server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            try:
                s.sendall(body[10:])
            except ConnectionError:
                pass
            data = read_response(s)
        self.assertEqual(self.server.proc.wait(20), 0)

        self.server.start()
        api = self.server.client()
        names = [t["name"] for t in api.token_list()]
        if data:
            status, _, resp = parse_responses(data)[0]
            self.assertEqual(status, 201, data[:300])
            r = api.get("/v1/tokens/" + json.loads(resp)["id"])
            self.assertEqual(r.status, 200, r)
        else:
            self.assertNotIn(name, names)
            self.assertEqual(len(api.audit_items()), 1)
        self.assertStops(self.server)

    def test_sigterm_during_a_stream_of_requests_truncates_no_response(self):
        outcomes = []
        lock = threading.Lock()
        signalled = threading.Event()

        def stream(n):
            client = self.server.client(self.token)
            deadline = time.monotonic() + 30
            conn = None
            while time.monotonic() < deadline:
                try:
                    if conn is None:
                        conn = client.connect(timeout=10)
                    r = client.request("POST" if n % 2 else "GET",
                                       "/v1/tokens" if n % 2 else
                                       "/v1/whoami", conn=conn,
                                       body={"name": "s%d" % n}
                                       if n % 2 else None)
                    if r.status not in (200, 201, 503):
                        kind = "status %d" % r.status
                    else:
                        kind = "after" if signalled.is_set() else "before"
                        if r.status != 503:
                            r.json()
                except (http.client.IncompleteRead, ValueError) as e:
                    kind = "truncated: %r" % e
                except (OSError, http.client.HTTPException):
                    conn = None
                    if signalled.is_set():
                        try:
                            socket.create_connection(
                                ("127.0.0.1", self.server.port), 1).close()
                        except OSError:
                            return
                    continue
                with lock:
                    outcomes.append(kind)
                time.sleep(0.02)

        threads = [threading.Thread(target=stream, args=(i,))
                   for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        signalled.set()
        self.server.proc.send_signal(signal.SIGTERM)
        rc = self.server.proc.wait(20)
        for t in threads:
            t.join(40)
        self.assertEqual(rc, 0)
        self.assertGreaterEqual(outcomes.count("before"), 8, outcomes)
        bad = [o for o in outcomes if o not in ("before", "after")]
        self.assertEqual(bad, [])
        self.assertIsNone(self.server.sanitizer_report())
        self.assertEqual(self.ws.audit_verify().returncode, 0)

    def test_sigterm_with_idle_keep_alive_connections_exits_0(self):
        conns = []
        client = self.server.client(self.token)
        for _ in range(6):
            conn = client.connect()
            self.addCleanup(conn.close)
            self.assertEqual(client.request("GET", "/v1/whoami",
                                            conn=conn).status, 200)
            conns.append(conn)
        self.assertStops(self.server)


# ---- TLS -----------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and localhost, a client
    certificate, and a second CA with its own client certificate."""
    def ca(name):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-keyout", name + ".key", "-out", name + ".pem",
                "-subj", "/CN=ztiam test " + name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def leaf(name, ca_name, ext):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n"
                    "basicConstraints=critical,CA:FALSE\n")
        openssl("req", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                name + ".key", "-out", name + ".csr", "-subj",
                "/CN=" + name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA",
                ca_name + ".pem", "-CAkey", ca_name + ".key",
                "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                "-days", "2", "-out", name + ".pem", "-extfile",
                name + ".ext", cwd=d)

    ca("ca")
    ca("other-ca")
    leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
         "extendedKeyUsage=serverAuth\n")
    leaf("client", "ca", "extendedKeyUsage=clientAuth\n")
    leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth\n")
    return {n: os.path.join(d, n) for n in
            ("ca", "other-ca", "server", "client", "stranger")}


def client_context(pki, cert=None):
    ctx = ssl.create_default_context(cafile=pki["ca"] + ".pem")
    if cert:
        ctx.load_cert_chain(pki[cert] + ".pem", pki[cert] + ".key")
    return ctx


class TLSTest(Checks):

    @classmethod
    def setUpClass(cls):
        if subprocess.run(["which", "openssl"],
                          capture_output=True).returncode != 0:
            raise unittest.SkipTest("no openssl command")
        cls.ws = Workspace()
        cls.addClassCleanup(cls.ws.close)
        cls.pki = make_pki(cls.ws.dir)
        tls = ["--tls-cert", cls.pki["server"] + ".pem",
               "--tls-key", cls.pki["server"] + ".key"]
        cls.tls = Server(cls.ws, args=tls,
                         ssl_context=client_context(cls.pki))
        cls.addClassCleanup(cls.tls.kill)
        cls.tls.start()

        cls.mws = Workspace()
        cls.addClassCleanup(cls.mws.close)
        cls.mtls = Server(cls.mws, args=tls + [
            "--tls-client-ca", cls.pki["ca"] + ".pem"],
            ssl_context=client_context(cls.pki, "client"))
        cls.addClassCleanup(cls.mtls.kill)
        cls.mtls.start()

    @classmethod
    def tearDownClass(cls):
        for srv in (cls.tls, cls.mtls):
            rc = srv.stop()
            if rc != 0 or srv.sanitizer_report():
                raise AssertionError("TLS server exited %s: %s"
                                     % (rc, srv.sanitizer_report()))

    def curl(self, url, *args):
        return subprocess.run(["curl", "-sS", "--max-time", "10", "-o",
                               "/dev/null", "-w", "%{http_code}"]
                              + list(args) + [url], capture_output=True,
                              text=True, timeout=30)

    def test_https_serves_the_api_with_the_server_certificate(self):
        r = self.tls.client().get("/v1/whoami")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["scope"], "system")

    def test_curl_verifies_the_server_certificate(self):
        out = self.curl(self.tls.url + "/healthz",
                        "--cacert", self.pki["ca"] + ".pem")
        self.assertEqual(out.stdout, "200", out.stderr)
        out = self.curl(self.tls.url + "/healthz")
        self.assertNotEqual(out.returncode, 0)

    def test_plain_http_to_the_tls_port_gets_no_api_response(self):
        try:
            r = Client(self.tls.port, token=None).get("/healthz")
        except (OSError, http.client.HTTPException):
            return
        self.assertNotEqual(r.status, 200)

    def test_cli_talks_https_with_cacert(self):
        out = self.ws.run_cli("token", "list", "--server", self.tls.url,
                              "--cacert", self.pki["ca"] + ".pem",
                              "--token", self.ws.bootstrap_token(), "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(json.loads(out.stdout)), 1)

    def mtls_request(self, ctx):
        return Client(self.mtls.port, token=self.mws.bootstrap_token(),
                      ssl_context=ctx).get("/v1/whoami")

    def test_mutual_tls_accepts_a_client_certificate_from_the_ca(self):
        r = self.mtls_request(client_context(self.pki, "client"))
        self.assertEqual(r.status, 200, r)
        out = self.curl(self.mtls.url + "/healthz", "--cacert",
                        self.pki["ca"] + ".pem", "--cert",
                        self.pki["client"] + ".pem", "--key",
                        self.pki["client"] + ".key")
        self.assertEqual(out.stdout, "200", out.stderr)

    def test_mutual_tls_refuses_a_client_without_certificate(self):
        with self.assertRaises((OSError, http.client.HTTPException)):
            self.mtls_request(client_context(self.pki))
        out = self.curl(self.mtls.url + "/healthz", "--cacert",
                        self.pki["ca"] + ".pem")
        self.assertNotEqual(out.stdout, "200")

    def test_mutual_tls_refuses_a_client_certificate_from_another_ca(self):
        with self.assertRaises((OSError, http.client.HTTPException)):
            self.mtls_request(client_context(self.pki, "stranger"))

    def test_mutual_tls_handshake_fails_without_certificate_on_tls12(self):
        ctx = client_context(self.pki)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", self.mtls.port),
                                      timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                    pass


# ---- the CLI -------------------------------------------------------------

class CLITest(ServerTestCase):

    def cli(self, *args, **env):
        e = {"ZTIAM_SERVER": self.server.url,
             "ZTIAM_TOKEN": self.api.token, "ZTIAM_DATA": ""}
        e.update(env)
        return self.ws.run_cli(*args, env=e)

    def create(self, name, *extra):
        out = self.cli("token", "create", "--name", name, "--json", *extra)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_token_create_prints_the_id_and_the_secret_once(self):
        out = self.cli("token", "create", "--name", "cli-one")
        self.assertEqual(out.returncode, 0, out.stderr)
        tid = re.search(r"^id:\s+(\S+)$", out.stdout, re.M).group(1)
        secret = re.search(r"^token:\s+(\S+)$", out.stdout, re.M).group(1)
        self.assertEqual(out.stdout.count(secret), 1)
        r = self.server.client(secret).get("/v1/whoami")
        self.assertEqual(r.json()["token_id"], tid)

    def test_token_create_json_prints_the_created_document(self):
        self.server.client().ensure_tenant("cli-t")
        doc = self.create("cli-json", "--tenant", "cli-t",
                          "--expires-in", "1h")
        self.assertEqual(doc["name"], "cli-json")
        self.assertEqual(doc["tenant"], "cli-t")
        self.assertIsNotNone(doc["expires_at"])
        self.assertRegex(doc["token"], TOKEN_RE)

    def test_token_list_prints_a_table_without_secrets(self):
        doc = self.create("cli-table")
        out = self.cli("token", "list")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0].split()[:3], ["ID", "NAME", "TENANT"])
        self.assertIn("CREATED AT", lines[0])
        row = [ln for ln in lines if ln.startswith(doc["id"])]
        self.assertEqual(len(row), 1, out.stdout)
        self.assertIn("cli-table", row[0])
        self.assertIsNone(TOKEN_RE.search(out.stdout))

    def test_token_list_json_prints_an_array_without_secrets(self):
        doc = self.create("cli-list-json")
        out = self.cli("token", "list", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        items = json.loads(out.stdout)
        self.assertIn(doc["id"], [t["id"] for t in items])
        self.assertTrue(all("token" not in t for t in items))

    def test_token_get_prints_one_token_as_table_and_as_json(self):
        doc = self.create("cli-get")
        out = self.cli("token", "get", doc["id"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.splitlines()), 2)
        self.assertIn(doc["id"], out.stdout.splitlines()[1])
        out = self.cli("token", "get", doc["id"], "--json")
        got = json.loads(out.stdout)
        self.assertEqual(got["id"], doc["id"])
        self.assertNotIn("token", got)

    def test_token_revoke_stops_the_token_working(self):
        doc = self.create("cli-revoke")
        out = self.cli("token", "revoke", doc["id"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "revoked " + doc["id"])
        self.assertUnauthorized(
            self.server.client(doc["token"]).get("/v1/whoami"))

    def test_token_commands_exit_1_and_name_the_http_error(self):
        out = self.cli("token", "get", "AAAAAAAAAAAAAAAA")
        self.assertEqual(out.returncode, 1)
        self.assertIn("404", out.stderr)
        out = self.cli("token", "list", ZTIAM_TOKEN=forged_token())
        self.assertEqual(out.returncode, 1)
        self.assertIn("401", out.stderr)
        out = self.cli("token", "create", "--name", "x", "--tenant", "BAD")
        self.assertEqual(out.returncode, 1)
        self.assertIn("invalid_request", out.stderr)

    def test_token_command_without_server_exits_non_zero(self):
        out = self.cli("token", "list",
                       ZTIAM_SERVER="http://127.0.0.1:%d" % free_port())
        self.assertNotEqual(out.returncode, 0)

    def test_token_falls_back_to_the_bootstrap_token_file(self):
        out = self.cli("token", "list", ZTIAM_TOKEN="",
                       ZTIAM_DATA=self.ws.data)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_flags_override_the_environment(self):
        out = self.cli("token", "list", "--server", self.server.url,
                       "--token", self.api.token,
                       ZTIAM_SERVER="http://127.0.0.1:%d" % free_port(),
                       ZTIAM_TOKEN=forged_token())
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_audit_list_prints_a_table_and_json(self):
        self.create("cli-audit")
        out = self.cli("audit", "list")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["SEQ", "AT", "ACTOR", "TENANT",
                                            "ACTION", "TARGET"])
        self.assertTrue(lines[1].split()[0] == "1", lines[1])
        self.assertIn("system.bootstrap", lines[1])
        self.assertIn("token.create", out.stdout)

        out = self.cli("audit", "list", "--json", "--after", "1",
                       "--limit", "1")
        self.assertEqual(out.returncode, 0, out.stderr)
        items = json.loads(out.stdout)
        self.assertEqual([a["seq"] for a in items], [2])

    def test_audit_verify_reports_an_intact_chain(self):
        self.create("cli-verify")
        n = len(self.api.audit_items())
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(out.stdout.strip(),
                         "audit chain intact: %d records verified" % n)


class AuditTamperTest(Checks):
    """`ztiam audit verify` on a database edited behind the server's back,
    with the server stopped."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        server = Server(self.ws)
        self.addCleanup(server.kill)
        server.start()
        for i in range(3):
            server.client().create_token("tamper-%d" % i)
        self.assertStops(server)
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("4 records verified", out.stdout)

    def assertBrokenAt(self, seq):
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("audit chain BROKEN at record %d:" % seq, out.stdout)

    def test_edited_summary_is_reported_at_its_record(self):
        self.ws.execute("UPDATE audit_log SET summary = '{}' WHERE seq = 2")
        self.assertBrokenAt(2)

    def test_edited_actor_is_reported_at_its_record(self):
        self.ws.execute("UPDATE audit_log SET actor = 'someone-else'"
                        " WHERE seq = 3")
        self.assertBrokenAt(3)

    def test_deleted_record_breaks_the_chain(self):
        self.ws.execute("DELETE FROM audit_log WHERE seq = 2")
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("audit chain BROKEN at record", out.stdout)

    def test_deleted_last_record_breaks_the_chain(self):
        self.ws.execute("DELETE FROM audit_log WHERE seq = 4")
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("audit chain BROKEN at record", out.stdout)


# ---- configuration -------------------------------------------------------

class ConfigurationTest(Checks):

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)

    def db_settings(self):
        return {"ZTIAM_DB": self.ws.db_url} if self.ws.db_url else {}

    def test_environment_alone_sets_listen_and_data(self):
        env = {"ZTIAM_LISTEN": "127.0.0.1:{port}", "ZTIAM_DATA": self.ws.data}
        env.update(self.db_settings())
        server = Server(self.ws, env=env, use_flags=False)
        self.addCleanup(server.kill)
        server.start()
        r = server.client().get("/v1/whoami")
        self.assertEqual(r.status, 200, r)
        self.assertStops(server)

    def test_config_file_sets_listen_data_and_log_format(self):
        text = ("# written by the integration tests\n"
                "listen = 127.0.0.1:{port}\n"
                "data = %s\n"
                "log-format = logfmt\n"
                "idle-timeout = 30s\n" % self.ws.data)
        if self.ws.db_url:
            text += "db = %s\n" % self.ws.db_url
        server = Server(self.ws, use_flags=False, config_text=text)
        self.addCleanup(server.kill)
        server.start()
        self.assertEqual(server.client().get("/v1/whoami").status, 200)
        self.assertStops(server)
        self.assertRegex(server.stderr_text(), r'(?m)\bmsg="?ready"?( |$)')

    def test_command_line_overrides_environment(self):
        other = free_port()
        server = Server(self.ws, env={
            "ZTIAM_LISTEN": "127.0.0.1:%d" % other})
        self.addCleanup(server.kill)
        server.start()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", other), timeout=5)
        self.assertStops(server)

    def test_invalid_setting_stops_the_server_with_an_error(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ZTIAM_")}
        env["ZTIAM_MAX_BODY"] = "lots"
        out = subprocess.run([ztiam_bin(), "serve", "--listen",
                              "127.0.0.1:%d" % free_port()]
                             + self.ws.db_args(), env=env,
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("ZTIAM_MAX_BODY", out.stderr)

    def test_unknown_flag_stops_the_server_with_an_error(self):
        out = subprocess.run([ztiam_bin(), "serve", "--no-such-flag", "1"],
                             capture_output=True, text=True, timeout=30,
                             cwd=self.ws.dir)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("no-such-flag", out.stderr)


if __name__ == "__main__":
    main()
