#!/usr/bin/env python3
"""
Checks that docs/api.md and the server agree on the routes: every route
that src/api/*.c registers is documented, and every route the document
names exists.

The server's routes are read from the C source, not from a running server:
the rows of the api_route tables ({ ZT_GET, T "/identities", handler,
"name" }, with T a #define of a string literal, and literals that C
concatenates, across lines too) and the direct zt_http_route(srv, ZT_GET,
"/healthz", ...) calls.  A small tokenizer takes comments, strings and
preprocessor lines apart first, so a commented-out route or a '{' inside a
string cannot confuse it, and #define/#undef are followed in file order.

The document's routes are every inline code span of the form
"`METHOD /path`" (a query string after '?' is ignored).  Paths compare
segment by segment with every {parameter} alike, so the document may name
a parameter differently from the source.  HEAD is implicit for GET.

Run:  python3 tests/integration/test_docs.py   (ZTIAM_SRC names the source
tree; by default, the tree this file is in.)
"""

import os
import re
import sys
import unittest

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def source_root():
    root = os.environ.get("ZTIAM_SRC")
    if root:
        return root
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.dirname(os.path.dirname(here))


# ---- reading C -----------------------------------------------------------

_C_TOKEN = re.compile(r"""
    (?P<comment>  /\*.*?\*/ | //[^\n]* )
  | (?P<directive> ^[ \t]*\#(?:[^\n\\]|\\.)* )
  | (?P<string>   "(?:[^"\\\n]|\\.)*" )
  | (?P<char>     '(?:[^'\\\n]|\\.)*' )
  | (?P<ident>    [A-Za-z_]\w* )
  | (?P<number>   \.?\d(?:[eEpP][+-]|[\w.])* )
  | (?P<newline>  \n )
  | (?P<space>    [ \t\r\f\v]+ )
  | (?P<punct>    . )
""", re.S | re.M | re.X)


class Token:
    __slots__ = ("kind", "text", "line")

    def __init__(self, kind, text, line):
        self.kind = kind
        self.text = text
        self.line = line

    def __repr__(self):
        return "%s:%r@%d" % (self.kind, self.text, self.line)


def c_tokens(text):
    """The tokens of C source that matter here, with their line numbers:
    comments and white space are dropped, a preprocessor line is one
    token."""
    out, line = [], 1
    for m in _C_TOKEN.finditer(text):
        kind = m.lastgroup
        if kind not in ("comment", "space", "newline"):
            out.append(Token(kind, m.group(), line))
        line += m.group().count("\n")
    return out


def c_string_value(literal):
    """The value of a C string literal holding no escapes but \\" and
    \\\\ (route patterns have none)."""
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


class ParseError(Exception):
    pass


class RouteReader:
    """Reads the routes of one C file: (method, pattern, line) tuples."""

    _DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)(?!\()\s*(.*)$", re.S)
    _UNDEF = re.compile(r"^\s*#\s*undef\s+(\w+)")

    def __init__(self, name, text):
        self.name = name
        self.toks = c_tokens(text)
        self.macros = {}
        self.routes = []
        self.table_rows = 0
        self.route_calls = 0

    def fail(self, tok, why):
        raise ParseError("%s:%d: %s" % (self.name, tok.line, why))

    def read(self):
        toks = self.toks
        for i, tok in enumerate(toks):
            if tok.kind == "directive":
                self.directive(tok)
            elif tok.kind == "punct" and tok.text == "{":
                self.table_row(i + 1)
            elif (tok.kind == "ident" and tok.text == "zt_http_route"
                  and i + 1 < len(toks) and toks[i + 1].text == "("):
                self.route_call(i + 2)
        return self.routes

    def directive(self, tok):
        """Follows #define NAME "literal" ... and #undef NAME; a macro
        whose body is anything but strings is forgotten."""
        m = self._UNDEF.match(tok.text)
        if m:
            self.macros.pop(m.group(1), None)
            return
        m = self._DEFINE.match(tok.text)
        if not m:
            return
        name, body = m.group(1), m.group(2).replace("\\\n", " ")
        parts = c_tokens(body)
        try:
            value, end = self.string_expr(parts, 0)
        except ParseError:
            value, end = None, 0
        if value is not None and end == len(parts):
            self.macros[name] = value
        else:
            self.macros.pop(name, None)

    def string_expr(self, toks, j):
        """Concatenated string literals and string macros from toks[j]:
        (value, index after) or (None, j) when there is none."""
        parts = []
        while j < len(toks):
            t = toks[j]
            if t.kind == "string":
                parts.append(c_string_value(t.text))
            elif t.kind == "ident" and t.text in self.macros:
                parts.append(self.macros[t.text])
            elif t.kind == "ident" and parts:
                self.fail(t, "%s is not a string macro here" % t.text)
            else:
                break
            j += 1
        return ("".join(parts) if parts else None), j

    def method_expr(self, toks, j):
        """ZT_X or ZT_X | ZT_Y ...: (set of methods, index after), or
        (None, j) when toks[j] is no ZT_ constant."""
        found = set()
        while True:
            t = toks[j] if j < len(toks) else None
            if t is None or t.kind != "ident" or not t.text.startswith("ZT_"):
                if found:
                    self.fail(toks[j - 1], "'|' not followed by a method")
                return None, j
            method = t.text[3:]
            if method not in METHODS:
                return None, j
            found.add(method)
            j += 1
            if j < len(toks) and toks[j].text == "|":
                j += 1
                continue
            return found, j

    def add(self, methods, pattern, tok):
        for method in sorted(methods):
            self.routes.append((method, pattern, tok.line))

    def table_row(self, j):
        """{ METHODS, PATTERN, ... }: a row of an api_route table."""
        toks = self.toks
        start = toks[j] if j < len(toks) else None
        methods, j = self.method_expr(toks, j)
        if methods is None or j >= len(toks) or toks[j].text != ",":
            return
        pattern, k = self.string_expr(toks, j + 1)
        if pattern is None and k < len(toks) and toks[k].kind == "ident":
            self.fail(toks[k], "route row: %s is not a string macro here"
                      % toks[k].text)
        if pattern is None or not pattern.startswith("/"):
            return
        if k >= len(toks) or toks[k].text != ",":
            self.fail(start, "route row for %r not followed by ','"
                      % pattern)
        self.table_rows += 1
        self.add(methods, pattern, start)

    def route_call(self, j):
        """zt_http_route(SERVER, METHODS, PATTERN, ...).  A call whose
        method is not a ZT_ constant forwards a table row (api.c) and
        adds no route of its own."""
        toks, depth, start = self.toks, 0, self.toks[j - 2]
        while j < len(toks):
            t = toks[j].text
            if t in "([":
                depth += 1
            elif t in ")]":
                if depth == 0:
                    self.fail(start, "zt_http_route() with one argument")
                depth -= 1
            elif t == "," and depth == 0:
                break
            j += 1
        methods, j = self.method_expr(toks, j + 1)
        if methods is None:
            return
        if j >= len(toks) or toks[j].text != ",":
            self.fail(start, "zt_http_route() method not followed by ','")
        pattern, k = self.string_expr(toks, j + 1)
        if pattern is None or not pattern.startswith("/"):
            self.fail(start, "zt_http_route() pattern is not a literal "
                      "path")
        self.route_calls += 1
        self.add(methods, pattern, start)


def server_routes(root):
    """{(method, shape): "file:line"} of every route in src/api/*.c, and
    the readers (for their counts)."""
    api = os.path.join(root, "src", "api")
    routes, readers = {}, []
    for name in sorted(os.listdir(api)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(api, name), encoding="utf-8") as f:
            reader = RouteReader("src/api/" + name, f.read())
        for method, pattern, line in reader.read():
            routes[(method, shape(pattern))] = "%s:%d (%s)" % (
                reader.name, line, pattern)
        readers.append(reader)
    return routes, readers


# ---- reading the document ------------------------------------------------

_DOC_ROUTE = re.compile(r"`(%s)[ \t]+(/[^`\s?]*)(\?[^`]*)?`"
                        % "|".join(METHODS))


def doc_routes(text):
    """{(method, shape): "docs/api.md:line (path)"} of every "`METHOD
    /path`" code span."""
    out = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        for m in _DOC_ROUTE.finditer(line):
            key = (m.group(1), shape(m.group(2)))
            out.setdefault(key, "docs/api.md:%d (%s)" % (lineno,
                                                          m.group(2)))
    return out


def shape(path):
    """A path with every {parameter} segment made alike."""
    return "/".join("{}" if re.fullmatch(r"\{[^{}/]*\}", seg) else seg
                    for seg in path.split("/"))


def implied(routes):
    """The routes plus HEAD for every GET."""
    out = dict(routes)
    for (method, path), where in routes.items():
        if method == "GET":
            out.setdefault(("HEAD", path), where)
    return out


# ---- the tests -----------------------------------------------------------

class DocsRoutesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.root = source_root()
        cls.server, cls.readers = server_routes(cls.root)
        with open(os.path.join(cls.root, "docs", "api.md"),
                  encoding="utf-8") as f:
            cls.docs = doc_routes(f.read())

    def test_every_registered_route_is_documented(self):
        missing = [(k, where) for k, where in sorted(self.server.items())
                   if k not in self.docs
                   and not (k[0] == "HEAD" and ("GET", k[1]) in self.docs)]
        self.assertEqual(missing, [], "routes the server registers that "
                         "docs/api.md does not document as `METHOD "
                         "/path`:\n" + "\n".join(
                             "  %s %s  from %s" % (k[0], k[1], where)
                             for k, where in missing))

    def test_every_documented_route_is_registered(self):
        known = implied(self.server)
        extra = [(k, where) for k, where in sorted(self.docs.items())
                 if k not in known]
        self.assertEqual(extra, [], "routes docs/api.md documents that "
                         "the server does not register:\n" + "\n".join(
                             "  %s %s  at %s" % (k[0], k[1], where)
                             for k, where in extra))

    def test_reader_accounts_for_every_route_row_and_call(self):
        """A cross-check of the tokenizer with plain regular expressions
        on the comment-free source: every '{ ZT_<method>,' row and every
        zt_http_route(x, ZT_<method> call became a route."""
        rows = calls = 0
        for reader in self.readers:
            path = os.path.join(self.root, reader.name)
            with open(path, encoding="utf-8") as f:
                text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", f.read(), flags=re.S)
            rows += len(re.findall(r"\{\s*ZT_(?:%s)\b[^,]*,\s*(?:\w+\s*)?\"/"
                                   % "|".join(METHODS), text))
            calls += len(re.findall(r"zt_http_route\s*\([^,()]*,\s*ZT_",
                                    text))
        self.assertEqual(sum(r.table_rows for r in self.readers), rows)
        self.assertEqual(sum(r.route_calls for r in self.readers), calls)
        for key in (("GET", "/healthz"), ("POST", "/v1/tokens"),
                    ("GET", "/v1/audit"),
                    ("GET", "/v1/tenants/{}/identities"),
                    ("GET", "/v1/tenants/{}/account-systems/{}/logins/{}"),
                    ("DELETE", "/v1/tenants/{}/groups/{}/members/{}/{}")):
            self.assertIn(key, self.server)

    def test_reader_follows_macros_concatenation_and_method_sets(self):
        src = r'''
            /* { ZT_GET, "/commented", f, "x" }, */
            // { ZT_PUT, "/also-commented", f, "x" },
            static const char *s = "{ ZT_GET, \"/in-a-string\" }";
            static const struct { int m; const char *n; } names[] = {
                { ZT_GET, "GET" },
            };
            static const struct api_route r[] = {
            #define P "/v1/things/{thing}"
                { ZT_GET | ZT_HEAD, P, get, "things.get" },
                { ZT_POST, P "/parts"
                  "/{part}", post, "parts.post" },
            #undef P
            #define P "/v1/other"
                { ZT_DELETE, P "/{id}", del, "other.del" },
            };
            int f(void) {
                return zt_http_route(app->http, ZT_PATCH, "/v1/x/{id}",
                    fn, "x", 0) || zt_http_route(srv, r[i].methods,
                    r[i].pattern, r[i].fn, r[i].name, 0);
            }
        '''
        reader = RouteReader("snippet.c", src)
        self.assertEqual(sorted((m, p) for m, p, _ in reader.read()), [
            ("DELETE", "/v1/other/{id}"),
            ("GET", "/v1/things/{thing}"),
            ("HEAD", "/v1/things/{thing}"),
            ("PATCH", "/v1/x/{id}"),
            ("POST", "/v1/things/{thing}/parts/{part}"),
        ])
        self.assertEqual((reader.table_rows, reader.route_calls), (3, 1))

    def test_reader_refuses_a_route_it_cannot_resolve(self):
        reader = RouteReader("snippet.c",
                             '{ ZT_GET, UNKNOWN "/x", f, "x" },\n'
                             '{ ZT_GET, T "/x", f, "x" },')
        with self.assertRaises(ParseError):
            reader.read()

    def test_doc_reader_takes_code_spans_and_ignores_query_strings(self):
        got = doc_routes("| `GET /v1/a/{id}` | x |\n"
                         "see `POST /v1/b` and `GET /v1/c?limit=N`,\n"
                         "not GET /v1/d nor `get /v1/e` nor `GET v1/f`\n")
        self.assertEqual(sorted(got), [("GET", "/v1/a/{}"),
                                       ("GET", "/v1/c"),
                                       ("POST", "/v1/b")])

    def test_parameter_names_do_not_matter_but_positions_do(self):
        self.assertEqual(shape("/v1/t/{tenant}/i/{id}"),
                         shape("/v1/t/{t}/i/{identity}"))
        self.assertNotEqual(shape("/v1/t/{tenant}/i"), shape("/v1/t/i/{x}"))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]] + sys.argv[1:], verbosity=2)
