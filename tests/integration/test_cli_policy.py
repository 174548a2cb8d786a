#!/usr/bin/env python3
"""
Tests of `ztiam policy eval`, the offline evaluator (src/cli/cmd_policy.c):
one JSON line per request with the decision, the determining policies and
the policies that raised errors; malformed lines answered and skipped;
--schema validating the set, converting entities and contexts, and
denying a request that does not fit with a request_error; exit statuses.
It needs no server.  The differential suite (tests/policy-diff) checks the
decisions themselves against Cedar.

Run:  ZTIAM_BIN=build/src/ztiam python3 tests/integration/test_cli_policy.py
"""

import json
import os
import subprocess
import tempfile
import unittest

ZTIAM = os.environ.get("ZTIAM_BIN", "build/src/ztiam")

POLICIES = """\
permit (principal in Group::"eng", action == Action::"read", resource)
  when { context.n > 3 };
forbid (principal, action, resource) when { principal.age > 60 };
permit (principal, action, resource) when { principal.nope };
"""

ENTITIES = [
    {"uid": {"type": "User", "id": "alice"}, "attrs": {"age": 30},
     "parents": [{"type": "Group", "id": "eng"}]},
    {"uid": {"type": "User", "id": "old"}, "attrs": {"age": 70},
     "parents": [{"type": "Group", "id": "eng"}]},
]

SCHEMA = {"": {
    "entityTypes": {
        "User": {"memberOfTypes": ["Group"], "shape": {
            "type": "Record",
            "attributes": {"age": {"type": "Long"}}}},
        "Group": {}, "Doc": {}},
    "actions": {"read": {"appliesTo": {
        "principalTypes": ["User"], "resourceTypes": ["Doc"],
        "context": {"type": "Record",
                    "attributes": {"n": {"type": "Long"}}}}}}}}


def req(principal, n=None):
    r = {"principal": {"type": "User", "id": principal},
         "action": {"type": "Action", "id": "read"},
         "resource": {"type": "Doc", "id": "d1"}}
    if n is not None:
        r["context"] = {"n": n}
    return json.dumps(r)


class PolicyEval(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_eval(self, requests, policies=POLICIES, schema=None):
        args = [ZTIAM, "policy", "eval",
                "--policies", self.write("p.cedar", policies),
                "--entities", self.write("e.json", json.dumps(ENTITIES)),
                "--requests", self.write("r.jsonl", "\n".join(requests))]
        if schema is not None:
            args += ["--schema", self.write("s.json", json.dumps(schema))]
        p = subprocess.run(args, capture_output=True, text=True,
                           timeout=30, check=False)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        return p.returncode, lines, p.stderr

    def test_decisions_and_errors(self):
        rc, out, _ = self.run_eval([req("alice", 5), req("alice", 1),
                                    req("old", 5), req("alice")])
        self.assertEqual(rc, 0)
        self.assertEqual(len(out), 4)
        self.assertEqual(out[0]["decision"], "allow")
        self.assertEqual(out[0]["determining"], ["policy0"])
        # policy2 reads a missing attribute: skipped and reported.
        self.assertEqual([e["policy"] for e in out[0]["errors"]],
                         ["policy2"])
        self.assertEqual(out[1], {"decision": "deny", "determining": [],
                                  "errors": out[1]["errors"]})
        self.assertEqual(out[2]["decision"], "deny")
        self.assertEqual(out[2]["determining"], ["policy1"])
        # No context: context.n is an error, so policy0 is skipped too.
        self.assertEqual(sorted(e["policy"] for e in out[3]["errors"]),
                         ["policy0", "policy2"])

    def test_malformed_lines_answered_and_skipped(self):
        rc, out, _ = self.run_eval([
            "not json", req("alice", 5), "", '{"principal": 1}',
            '{"principal": {"type": "User", "id": "a"}, "action": '
            '{"type": "Action", "id": "read"}, "resource": {"type": "D", '
            '"id": "d"}, "extra": 1}'])
        self.assertEqual(rc, 1)
        self.assertEqual(len(out), 4)      # the blank line is skipped
        self.assertIn("error", out[0])
        self.assertEqual(out[1]["decision"], "allow")
        self.assertIn("error", out[2])
        self.assertIn("error", out[3])

    def test_unparsable_policy_names_line_and_column(self):
        rc, out, err = self.run_eval([req("alice", 5)],
                                     policies="permit (principal,\n  oops);")
        self.assertEqual(rc, 1)
        self.assertEqual(out, [])
        self.assertRegex(err, r"p\.cedar:2:3: ")

    def test_usage(self):
        p = subprocess.run([ZTIAM, "policy", "eval", "--policies", "x"],
                           capture_output=True, text=True, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage", p.stderr)

    def test_schema_converts_and_refuses_requests(self):
        rc, out, _ = self.run_eval(
            [req("alice", "5"), req("alice", "five"), req("alice")],
            policies=POLICIES.replace(
                "permit (principal, action, resource) when "
                "{ principal.nope };\n", ""),
            schema=SCHEMA)
        self.assertEqual(rc, 0)
        # "5" becomes the Long 5, as the schema says.
        self.assertEqual(out[0]["decision"], "allow")
        self.assertEqual(out[0]["errors"], [])
        for line in out[1:]:
            self.assertEqual(line["decision"], "deny")
            self.assertIn("context.n", line["request_error"])

    def test_schema_refuses_an_invalid_set(self):
        rc, out, err = self.run_eval([req("alice", 5)], schema=SCHEMA)
        self.assertEqual(rc, 1)
        self.assertEqual(out, [])
        self.assertIn("policy2", err)
        self.assertIn("does not validate", err)


if __name__ == "__main__":
    unittest.main()
