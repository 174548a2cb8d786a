#!/usr/bin/env python3
"""
Durability of `ztiam serve` under kill -9.  Writer threads create and
revoke API tokens as fast as the server answers; the server is killed
with SIGKILL in the middle of the burst, restarted on the same data, and
then every change the server had acknowledged (a 201 or 204 whose whole
response arrived) must be there, the audit trail must verify, and tokens
and audit records must agree, because each change and its audit record
are written in one transaction.

Runs on SQLite by default and on PostgreSQL when ZTIAM_TEST_DB is set,
like test_server.py:
    ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_crash.py
"""

import http.client
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import TOKEN_RE, Checks, Server, Workspace, main  # noqa: E402

WRITERS = 4
ROUNDS = 4
# Each burst is killed after a random time in this range (seconds), long
# enough for hundreds of changes, so the kill lands at a random point of
# a write; a burst that has no acknowledged change by then runs on until
# it does, for at most BURST_MAX_S.
KILL_AFTER_S = (0.3, 1.0)
BURST_MAX_S = 10.0


class Ledger:
    """What the server acknowledged, shared by the writer threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.created = {}	# token id -> secret
        self.revoking = set()	# revocations sent, acknowledged or not
        self.revoked = set()	# revocations acknowledged

    def count(self):
        with self.lock:
            return len(self.created) + len(self.revoked)


def writer(server, ledger, n, stop):
    """Creates tokens on one keep-alive connection and revokes every third
    one it made, until the connection dies or `stop` is set.  A change is
    recorded only once its whole response has been read."""
    client = server.client()
    mine = []
    i = 0
    try:
        conn = client.connect(timeout=10)
        while not stop.is_set():
            i += 1
            if i % 3 == 0 and mine:
                tid = mine.pop(0)
                with ledger.lock:
                    ledger.revoking.add(tid)
                r = client.request("DELETE", "/v1/tokens/" + tid, conn=conn)
                if r.status == 204:
                    with ledger.lock:
                        ledger.revoked.add(tid)
                continue
            r = client.request("POST", "/v1/tokens", conn=conn,
                               body={"name": "crash-%d-%d" % (n, i)})
            if r.status == 201:
                doc = r.json()
                mine.append(doc["id"])
                with ledger.lock:
                    ledger.created[doc["id"]] = doc["token"]
    except (OSError, http.client.HTTPException, ValueError):
        return


class CrashTest(Checks):

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)
        self.server = Server(self.ws)
        self.addCleanup(self.server.kill)

    def burst_then_kill(self, ledger):
        """Runs the writers and SIGKILLs the server while they write."""
        stop = threading.Event()
        threads = [threading.Thread(target=writer,
                                    args=(self.server, ledger, n, stop))
                   for n in range(WRITERS)]
        start = ledger.count()
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(random.uniform(*KILL_AFTER_S))
        while ledger.count() == start and \
                time.monotonic() - t0 < BURST_MAX_S:
            time.sleep(0.01)
        self.server.kill()
        stop.set()
        for t in threads:
            t.join(30)
            self.assertFalse(t.is_alive(), "a writer hung after the kill")
        self.assertGreater(ledger.count(), start,
                           "no change acknowledged before the kill")
        sys.stderr.write("  burst of %.2fs: %d changes acknowledged\n"
                         % (time.monotonic() - t0, ledger.count() - start))

    def assertLedgerHolds(self, ledger):
        """Every acknowledged change is in the restarted server."""
        api = self.server.client()
        conn = api.connect()
        try:
            for tid, secret in sorted(ledger.created.items()):
                r = api.request("GET", "/v1/tokens/" + tid, conn=conn)
                self.assertEqual(r.status, 200, "acknowledged token %s "
                                 "lost: %r" % (tid, r))
                revoked = r.json()["revoked_at"] is not None
                if tid in ledger.revoked:
                    self.assertTrue(revoked, "acknowledged revocation of "
                                    "%s lost" % tid)
                elif tid not in ledger.revoking:
                    self.assertFalse(revoked, "%s revoked unasked" % tid)
                r = api.request("GET", "/v1/whoami", conn=conn,
                                token=secret)
                self.assertEqual(r.status, 401 if revoked else 200, tid)
        finally:
            conn.close()

    def assertTokensMatchAudit(self, ledger):
        """Tokens and audit records agree: no token without its creation
        record and no record of a token that does not exist."""
        api = self.server.client()
        audit = api.audit_items()
        seqs = [a["seq"] for a in audit]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        self.assertGreaterEqual(len(audit), 1 + len(ledger.created)
                                + len(ledger.revoked))
        tokens = {t["id"]: t for t in api.token_list()}
        boot = [a for a in audit if a["action"] == "system.bootstrap"]
        self.assertEqual(len(boot), 1)
        created = {a["target"][len("token:"):] for a in audit
                   if a["action"] == "token.create"}
        revoked = {a["target"][len("token:"):] for a in audit
                   if a["action"] == "token.revoke"}
        self.assertEqual(created | {boot[0]["target"][len("token:"):]},
                         set(tokens))
        self.assertEqual(revoked, {t for t, doc in tokens.items()
                                   if doc["revoked_at"] is not None})

    def test_acknowledged_changes_survive_kill_9_mid_burst(self):
        ledger = Ledger()
        self.server.start()
        bootstrap = self.ws.bootstrap_token()
        for _ in range(ROUNDS):
            self.burst_then_kill(ledger)
            self.server.start()
            self.assertIsNone(TOKEN_RE.search(self.server.stdout_text()),
                              "a restart printed a new bootstrap token")
            self.assertEqual(self.ws.bootstrap_token(), bootstrap)
            self.assertLedgerHolds(ledger)
        self.assertTokensMatchAudit(ledger)
        self.assertStops(self.server)
        out = self.ws.audit_verify()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"^audit chain intact: \d+ records")

    def test_kill_9_right_after_first_start_keeps_the_bootstrap_token(self):
        self.server.start()
        token = self.ws.bootstrap_token()
        self.server.kill()
        self.server.start()
        self.assertEqual(self.ws.bootstrap_token(), token)
        r = self.server.client().get("/v1/whoami")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.server.client().audit_items()), 1)
        self.assertStops(self.server)
        self.assertEqual(self.ws.audit_verify().returncode, 0)


if __name__ == "__main__":
    main()
