#!/usr/bin/env python3
"""The identity-space commands of the `ztiam` CLI against a real server:
tenants, account systems, org units, identities (create, list with
filters, state, move, import, lookups), accounts and groups, in tables
for people and --json for scripts, with exit codes that say what
happened."""

import json
import os
import tempfile

from harness import ServerTestCase, main


class CLIIdentityTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = {"ZTIAM_SERVER": cls.server.url,
                   "ZTIAM_TOKEN": cls.api.token, "ZTIAM_DATA": "",
                   "ZTIAM_TENANT": "cli-acme"}
        out = cls.ws.run_cli("tenant", "create", "cli-acme",
                             "--display-name", "Acme", env=cls.env)
        assert out.returncode == 0, out.stderr

    def cli(self, *args, **env):
        e = dict(self.env)
        e.update(env)
        return self.ws.run_cli(*args, env=e)

    def ok_json(self, *args):
        out = self.cli(*args, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_tenant_list_is_a_table_with_the_new_tenant(self):
        out = self.cli("tenant", "list")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.splitlines()[0].split()[:2],
                         ["ID", "DISPLAY"])
        self.assertIn("cli-acme", out.stdout)

    def test_identity_create_list_filter_and_state(self):
        unit = self.ok_json("org", "create", "--name", "sales")
        person = self.ok_json("identity", "create", "--kind", "person",
                              "--name", "jill", "--unit", unit["id"],
                              "--attr", "dept=sales", "--attr", "level=4")
        self.assertEqual(person["spiffe_id"],
                         "spiffe://ztiam.local/cli-acme/person/jill")
        self.assertEqual(person["attributes"], {"dept": "sales", "level": 4})
        self.ok_json("identity", "create", "--kind", "device",
                     "--name", "printer-9")

        devices = self.ok_json("identity", "list", "--kind", "device")
        self.assertEqual([d["name"] for d in devices["items"]],
                         ["printer-9"])
        sales = self.ok_json("identity", "list", "--attr", "dept=sales")
        self.assertEqual([d["name"] for d in sales["items"]], ["jill"])

        out = self.cli("identity", "set-state", person["id"],
                       "--state", "active")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("active", out.stdout)
        out = self.cli("identity", "set-state", person["id"],
                       "--state", "staged")
        self.assertEqual(out.returncode, 1)
        self.assertIn("409", out.stderr)

        found = self.ok_json("identity", "by-spiffe", "--id",
                             person["spiffe_id"])
        self.assertEqual(found["id"], person["id"])
        groups = self.ok_json("identity", "groups", person["id"])
        self.assertIn(unit["id"], [g["id"] for g in groups["items"]])

    def test_org_move_changes_effective_groups(self):
        a = self.ok_json("org", "create", "--name", "move-a")
        b = self.ok_json("org", "create", "--name", "move-b")
        p = self.ok_json("identity", "create", "--kind", "person",
                         "--name", "mover", "--unit", a["id"])
        moved = self.ok_json("org", "move", a["id"], "--parent", b["id"])
        self.assertEqual(moved["parent_id"], b["id"])
        groups = {g["id"] for g in
                  self.ok_json("identity", "groups", p["id"])["items"]}
        self.assertTrue({a["id"], b["id"]} <= groups, groups)
        out = self.cli("org", "move", b["id"], "--parent", a["id"])
        self.assertEqual(out.returncode, 1, "a move into its own subtree")

    def test_groups_and_members(self):
        g = self.ok_json("group", "create", "--name", "admins")
        p = self.ok_json("identity", "create", "--kind", "service",
                         "--name", "deployer")
        out = self.cli("group", "add", g["id"], "--type", "identity",
                       "--member", p["id"])
        self.assertEqual(out.returncode, 0, out.stderr)
        members = self.ok_json("group", "members", g["id"])
        self.assertEqual([m["id"] for m in members["items"]], [p["id"]])
        out = self.cli("group", "remove", g["id"], "identity", p["id"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.ok_json("group", "members", g["id"])["items"],
                         [])

    def test_accounts_and_login_lookup(self):
        sysdoc = self.ok_json("acctsys", "create", "--name", "customers",
                              "--kind", "customer")
        p = self.ok_json("identity", "create", "--kind", "person",
                         "--name", "carol")
        self.ok_json("account", "create", "--identity", p["id"],
                     "--system", sysdoc["id"], "--login", "Carol@Example.com")
        who = self.ok_json("identity", "by-login", sysdoc["id"],
                           "carol@example.com")
        self.assertEqual(who["id"], p["id"])
        out = self.cli("account", "create", "--identity", p["id"],
                       "--system", sysdoc["id"], "--login",
                       "CAROL@example.com")
        self.assertEqual(out.returncode, 1)
        self.assertIn("409", out.stderr)

    def test_import_reports_each_failed_line_and_exits_1(self):
        lines = [{"kind": "person", "name": "imp-a"},
                 {"kind": "robot", "name": "imp-b"},
                 {"kind": "device", "name": "imp-c"}]
        with tempfile.NamedTemporaryFile("w", suffix=".ndjson",
                                         delete=False) as f:
            f.write("\n".join(json.dumps(x) for x in lines) + "\n")
        try:
            out = self.cli("identity", "import", f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("line 2:", out.stdout)
        self.assertIn("3 lines: 2 imported, 1 failed", out.stdout)
        names = [i["name"] for i in
                 self.ok_json("identity", "list", "--prefix", "imp-")["items"]]
        self.assertEqual(names, ["imp-a", "imp-c"])

    def test_missing_tenant_and_bad_usage_exit_2(self):
        out = self.cli("identity", "list", ZTIAM_TENANT="")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--tenant", out.stderr)
        out = self.cli("identity", "frobnicate")
        self.assertEqual(out.returncode, 2)
        self.assertIn("usage", out.stderr)


if __name__ == "__main__":
    main()
