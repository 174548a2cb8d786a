"""
What the integration tests share: finding the ztiam binary, a workspace
(a temporary data directory and, when ZTIAM_TEST_DB names a PostgreSQL
server, a database of its own), starting and stopping `ztiam serve` on a
free loopback port, a small HTTP client that returns whole responses, and
the checks every test repeats (problem documents, audit paging, a
fingerprint of every row in the database).

Only the Python standard library is used.  PostgreSQL databases are made
and dropped with the `psql` client, which comes with the server packages,
so the tests run under any python3 on the PATH.

The binary comes from ZTIAM_BIN or from the first command-line argument;
see take_binary_argument().
"""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

# Bounds on every wait, so that a hung server fails a test instead of
# hanging the suite.  They are generous because the same tests run under
# AddressSanitizer, which makes start-up several times slower.
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 15.0

TOKEN_RE = re.compile(r"ztiam_[A-Za-z0-9_-]{43}")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SANITIZER_RE = re.compile(r".*(runtime error:|ERROR: \w+Sanitizer).*")

_DEFAULT = object()


def take_binary_argument():
    """Moves a leading non-option argument (the binary) into ZTIAM_BIN,
    so `python3 test_server.py build/src/ztiam -v` works as well as the
    environment variable that meson sets."""
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        os.environ["ZTIAM_BIN"] = os.path.abspath(sys.argv.pop(1))


def ztiam_bin():
    path = os.environ.get("ZTIAM_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest("ZTIAM_BIN does not name an executable")
    return path


def postgres_url():
    """The PostgreSQL server to test against, or None for SQLite (when
    ZTIAM_TEST_DB is unset, empty or names SQLite, as "sqlite:" does)."""
    url = os.environ.get("ZTIAM_TEST_DB", "").strip()
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return None


def free_port():
    """A loopback port that was free a moment ago.  The server is given it
    explicitly; a start that loses the race is retried with another."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- PostgreSQL administration through psql ------------------------------

def psql(url, sql, tuples=False):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    if tuples:
        cmd += ["-A", "-t"]
    out = subprocess.run(cmd + ["-c", sql], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise RuntimeError("psql failed: %s" % out.stderr.strip())
    return out.stdout


def with_database(url, name):
    """`url` with its database name replaced, keeping any parameters."""
    m = re.match(r"^(postgres(?:ql)?://[^/?]*)(/[^?]*)?(\?.*)?$", url)
    if m is None:
        raise ValueError("unrecognised PostgreSQL URL")
    return m.group(1) + "/" + name + (m.group(3) or "")


_db_counter = 0


def create_database(url):
    """Creates an empty database on the server behind `url`; returns its
    name and URL.  Each workspace gets one, so no test sees another's
    rows and no table needs cleaning."""
    global _db_counter
    _db_counter += 1
    name = "ztiam_it_%d_%d" % (os.getpid(), _db_counter)
    psql(url, "DROP DATABASE IF EXISTS %s" % name)
    psql(url, "CREATE DATABASE %s" % name)
    return name, with_database(url, name)


# ---- the workspace: data directory and database --------------------------

# -- protocol clients written by others

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "oidc")


def basic_auth(client_id, secret):
    """The Authorization header of client_secret_basic (RFC 6749 2.3.1:
    both parts form-encoded first)."""
    raw = "%s:%s" % (urllib.parse.quote(client_id, safe=""),
                     urllib.parse.quote(secret, safe=""))
    return {"Authorization": "Basic " +
            base64.b64encode(raw.encode()).decode()}


def run_node(case, script, need="oauth4webapi", **env):
    """Runs tests/oidc/SCRIPT with node and the environment `env` added;
    fails `case` unless it exits 0, or when node or the package `need`
    is missing.  Its output goes to stderr."""
    node = shutil.which("node")
    if node is None or not os.path.isdir(
            os.path.join(NODE_DIR, "node_modules", need)):
        case.fail("node and tests/oidc/node_modules are required "
                  "(scripts/deps.sh installs them)")
    out = subprocess.run([node, os.path.join(NODE_DIR, script)],
                         env=dict(os.environ, **env), capture_output=True,
                         text=True, timeout=240)
    sys.stderr.write(out.stdout)
    case.assertEqual(out.returncode, 0, out.stdout + out.stderr)


def authlib_session(case):
    """python3-authlib's OAuth2Session class; fails `case` without it."""
    try:
        from authlib.integrations.requests_client import OAuth2Session
    except ImportError:
        # A python3 other than Debian's (pyenv, a venv) does not see the
        # Debian package, which is built for the same 3.11.
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            from authlib.integrations.requests_client import OAuth2Session
        except ImportError:
            case.fail("python3-authlib is required (scripts/deps.sh)")
    return OAuth2Session


class Workspace:
    """A data directory and a database that one or more server starts
    share.  SQLite lives at DATA/ztiam.db, the server's default."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ztiam-it-")
        self.data = os.path.join(self.dir, "data")
        self.pg_admin_url = postgres_url()
        self.pg_name = None
        self.db_url = None
        if self.pg_admin_url:
            self.pg_name, self.db_url = create_database(self.pg_admin_url)

    @property
    def is_postgres(self):
        return self.db_url is not None

    @property
    def sqlite_path(self):
        return os.path.join(self.data, "ztiam.db")

    def db_args(self):
        """The arguments that point a command at this workspace's data."""
        args = ["--data", self.data]
        if self.db_url:
            args += ["--db", self.db_url]
        return args

    def bootstrap_token(self):
        with open(os.path.join(self.data, "bootstrap-token")) as f:
            return f.read().strip()

    def execute(self, sql):
        """Runs one statement directly on the database, behind the
        server's back (used to tamper with the audit trail)."""
        if self.is_postgres:
            psql(self.db_url, sql)
            return
        conn = sqlite3.connect(self.sqlite_path)
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    def fingerprint(self):
        """A digest of every row of every table, read-only: equal digests
        mean nothing in the database changed."""
        if self.is_postgres:
            return self._pg_fingerprint()
        return self._sqlite_fingerprint()

    def _sqlite_fingerprint(self):
        uri = "file:%s?mode=ro" % self.sqlite_path
        conn = sqlite3.connect(uri, uri=True)
        try:
            digest = hashlib.sha256()
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " ORDER BY name")]
            for t in tables:
                rows = conn.execute('SELECT * FROM "%s"' % t).fetchall()
                digest.update(t.encode())
                for row in sorted(repr(r) for r in rows):
                    digest.update(row.encode())
            return digest.hexdigest()
        finally:
            conn.close()

    def _pg_fingerprint(self):
        tables = psql(self.db_url, "SELECT table_name FROM"
                      " information_schema.tables WHERE table_schema ="
                      " current_schema() ORDER BY table_name",
                      tuples=True).split()
        parts = []
        for t in tables:
            parts.append(t + ":" + psql(
                self.db_url, "SELECT md5(coalesce(string_agg(r::text, '|'"
                " ORDER BY r::text), '')) FROM %s r" % t,
                tuples=True).strip())
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def run_cli(self, *args, env=None, timeout=60, stdin_text=None):
        """Runs `ztiam ARGS...` and returns the CompletedProcess.  No
        ZTIAM_ variable of the caller's leaks in; `env` adds some;
        `stdin_text` is piped to its standard input."""
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("ZTIAM_")}
        e.update(env or {})
        out = subprocess.run([ztiam_bin()] + list(args), env=e,
                             capture_output=True, text=True,
                             timeout=timeout, cwd=self.dir,
                             input=stdin_text)
        m = SANITIZER_RE.search(out.stderr)
        if m:
            raise AssertionError("ztiam %s: %s" % (" ".join(args),
                                                   m.group(0)))
        return out

    def audit_verify(self):
        if self.is_postgres:
            return self.run_cli("audit", "verify", "--db", self.db_url)
        return self.run_cli("audit", "verify", "--data", self.data)

    def close(self):
        if self.pg_name:
            try:
                psql(self.pg_admin_url, "DROP DATABASE IF EXISTS %s WITH"
                     " (FORCE)" % self.pg_name)
            except (RuntimeError, subprocess.SubprocessError):
                pass
        if os.environ.get("ZTIAM_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- HTTP ----------------------------------------------------------------

class Response:
    """A whole response: status, headers and body, read to the end."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Client:
    """One request per connection unless a connection is passed, so that
    a test's failure never leaves a half-read stream for the next one."""

    def __init__(self, port, token=None, ssl_context=None,
                 host="127.0.0.1"):
        self.port = port
        self.token = token
        self.ssl_context = ssl_context
        self.host = host

    def connect(self, timeout=REQUEST_TIMEOUT_S):
        if self.ssl_context is not None:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout,
                context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, headers=None,
                token=_DEFAULT, conn=None, content_type=_DEFAULT):
        hdrs = {}
        tok = self.token if token is _DEFAULT else token
        if tok is not None:
            hdrs["Authorization"] = "Bearer " + tok
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if content_type is _DEFAULT:
            content_type = "application/json" if body is not None else None
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        own = conn is None
        if own:
            conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.headers, data)
        finally:
            if own:
                conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def ensure_tenant(self, tenant, token=_DEFAULT):
        """Creates a tenant unless it exists (tenant tokens need one)."""
        r = self.post("/v1/tenants", {"id": tenant}, token=token)
        if r.status not in (201, 409):
            raise AssertionError("creating tenant %r: %r" % (tenant, r))

    def create_token(self, name, tenant=None, expires_in=None, token=_DEFAULT):
        body = {"name": name}
        if tenant is not None:
            body["tenant"] = tenant
        if expires_in is not None:
            body["expires_in"] = expires_in
        r = self.post("/v1/tokens", body, token=token)
        if r.status != 201:
            raise AssertionError("creating token %r: %r" % (name, r))
        return r.json()

    def audit_items(self, token=_DEFAULT):
        """Every audit record visible to the token, following the cursor."""
        items, after = [], 0
        while True:
            r = self.get("/v1/audit?after=%d&limit=1000" % after,
                         token=token)
            if r.status != 200:
                raise AssertionError("audit page after %d: %r" % (after, r))
            doc = r.json()
            items.extend(doc["items"])
            if len(doc["items"]) < 1000:
                return items
            after = doc["next"]

    def token_list(self, token=_DEFAULT):
        r = self.get("/v1/tokens", token=token)
        if r.status != 200:
            raise AssertionError("token list: %r" % r)
        return r.json()["items"]


def raw_exchange(port, data, timeout=REQUEST_TIMEOUT_S, pause=None):
    """Sends bytes on a fresh connection and reads until the server closes
    it or goes quiet for a second: for requests that http.client refuses
    to send, such as malformed or pipelined ones."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if pause:
            time.sleep(pause)
        s.settimeout(1.0)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def read_response(sock, timeout=REQUEST_TIMEOUT_S):
    """Reads one whole response from a socket; returns the raw bytes read
    (possibly incomplete if the server closed first)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if len(rest) >= (int(m.group(1)) if m else 0):
                return data
        try:
            b = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return data
        if not b:
            return data
        data += b
    return data


def parse_responses(data):
    """Splits raw bytes holding one or more HTTP/1.1 responses (bodies
    framed by Content-Length) into (status, headers dict, body) tuples."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("truncated response head: %r" % data[:200])
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(rest) < n:
            raise AssertionError("truncated body: %d of %d" % (len(rest), n))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


# ---- the server ----------------------------------------------------------

class Server:
    """`ztiam serve` on a free loopback port.  stdout and stderr go to
    files in the workspace so a chatty server never blocks on a pipe."""

    def __init__(self, ws, args=(), env=None, use_flags=True,
                 ssl_context=None, config_text=None):
        """`env` and `config_text` may say {port}: it becomes the port
        chosen at each start.  With use_flags=False the server gets no
        --listen, --data or --db, only what env and the file say."""
        self.ws = ws
        self.args = list(args)
        self.env = dict(env or {})
        self.use_flags = use_flags
        self.ssl_context = ssl_context
        self.config_text = config_text
        self.config_path = None
        self.proc = None
        self.port = None
        self.runs = 0
        self.stdout_path = None
        self.stderr_path = None
        self.stderr_paths = []

    # -- life cycle

    def start(self):
        last = ""
        for _ in range(3):
            self.port = free_port()
            self._spawn()
            if self.wait_ready():
                return self
            last = self.stderr_text()
            if self.proc.poll() is None:
                self.kill()
                raise AssertionError("server not ready after %.0fs:\n%s"
                                     % (READY_TIMEOUT_S, last[-3000:]))
            if "in use" not in last.lower():
                break
        raise AssertionError("server exited with %s during start:\n%s"
                             % (self.proc.returncode, last[-3000:]))

    def _command(self):
        cmd = [ztiam_bin(), "serve"]
        if self.config_path:
            cmd += ["--config", self.config_path]
        if self.use_flags:
            cmd += ["--listen", "127.0.0.1:%d" % self.port]
            cmd += self.ws.db_args()
        return cmd + self.args

    def _environment(self):
        """The test's environment less any ZTIAM_ setting of the caller,
        plus this server's own."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ZTIAM_")}
        env.update({k: v.replace("{port}", str(self.port))
                    for k, v in self.env.items()})
        return env

    def _spawn(self):
        self.runs += 1
        base = os.path.join(self.ws.dir, "server-%d-%d" % (id(self),
                                                           self.runs))
        self.stdout_path = base + ".stdout"
        self.stderr_path = base + ".stderr"
        self.stderr_paths.append(self.stderr_path)
        if self.config_text is not None:
            self.config_path = base + ".conf"
            with open(self.config_path, "w") as f:
                f.write(self.config_text.replace("{port}", str(self.port)))
        env = self._environment()
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self._command(), stdout=out, stderr=err, env=env,
                cwd=self.ws.dir, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        """Polls /readyz until 200; False when the process exits first."""
        deadline = time.monotonic() + timeout
        client = self.client(token=None)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if client.get("/readyz").status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.02)
        return False

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM, then waits; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server ignored SIGTERM for %.0fs"
                                 % timeout)

    def kill(self):
        """SIGKILL: no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- talking to it

    @property
    def pid(self):
        return self.proc.pid

    @property
    def url(self):
        scheme = "https" if self.ssl_context is not None else "http"
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def client(self, token=_DEFAULT):
        if token is _DEFAULT:
            token = self.ws.bootstrap_token()
        return Client(self.port, token=token, ssl_context=self.ssl_context)

    def stdout_text(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_text(self):
        if not self.stderr_path:
            return ""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def sanitizer_report(self):
        """The first sanitizer complaint in the logs of every run so far,
        or None.  UBSan reports and carries on, so the exit status alone
        would not show it under build-asan."""
        for path in self.stderr_paths:
            with open(path, "rb") as f:
                m = SANITIZER_RE.search(f.read().decode("utf-8", "replace"))
            if m:
                return m.group(0)
        return None


class Checks(unittest.TestCase):
    """Assertions that the test files share."""

    def assertProblem(self, resp, status, codes):
        """An RFC 9457 problem document with the given status and one of
        the given codes, whose request_id matches X-Request-Id."""
        if isinstance(codes, str):
            codes = (codes,)
        self.assertEqual(resp.status, status, resp)
        ctype = resp.header("Content-Type") or ""
        self.assertTrue(ctype.startswith("application/problem+json"),
                        "Content-Type %r for %r" % (ctype, resp))
        doc = resp.json()
        self.assertIn(doc.get("code"), codes, doc)
        self.assertEqual(doc.get("type"), "urn:ztiam:problem:" + doc["code"])
        self.assertEqual(doc.get("status"), status)
        self.assertIsInstance(doc.get("title"), str)
        self.assertIsInstance(doc.get("detail"), str)
        self.assertEqual(doc.get("request_id"), resp.header("X-Request-Id"))
        return doc

    def assertUnauthorized(self, resp):
        self.assertProblem(resp, 401, "unauthorized")
        auth = resp.header("WWW-Authenticate") or ""
        self.assertTrue(auth.startswith("Bearer"), auth)

    def assertStops(self, server):
        """SIGTERM ends the server with exit status 0."""
        rc = server.stop()
        self.assertEqual(rc, 0, "exit %s on SIGTERM:\n%s"
                         % (rc, server.stderr_text()[-3000:]))
        self.assertIsNone(server.sanitizer_report())


class ServerTestCase(Checks):
    """Starts one server per test class (in a fresh workspace) and checks
    on the way out that it stopped cleanly on SIGTERM."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.ws = Workspace()
        cls.addClassCleanup(cls.ws.close)
        cls.server = Server(cls.ws, args=cls.server_args)
        cls.addClassCleanup(cls.server.kill)
        cls.server.start()
        cls.api = cls.server.client()
        cls.anon = cls.server.client(token=None)

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        if rc != 0:
            raise AssertionError("server exited %s on SIGTERM:\n%s"
                                 % (rc, cls.server.stderr_text()[-3000:]))
        if cls.server.sanitizer_report():
            raise AssertionError(cls.server.sanitizer_report())


def main():
    """Runs the module's tests; exits non-zero when any fails."""
    take_binary_argument()
    unittest.main(module="__main__", verbosity=2)
