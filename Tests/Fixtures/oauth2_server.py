#!/usr/bin/env python3
"""An OAuth 2.0 token endpoint (client credentials) and, in front of a real remote-write
receiver, a gate that lets through only requests that carry a token it issued. The one fake the
OAuth 2.0 tests use: it checks the real token request (RFC 6749 §4.4: a form with
grant_type=client_credentials, the scope and extra parameters, the client authenticated by HTTP
Basic with its form-encoded id and secret), and hands every let-through body, as it came, to the
real receiver.

    oauth2_server.py SETTINGS.json

SETTINGS (a file, so that no secret is in an argument): port, upstream, client_id,
client_secret, scope (expected, space-separated, or null), params (expected extra form fields),
expires_in (seconds, or null to leave it out).

    POST /token          the token endpoint: token-1, token-2, ...
    GET  /control/down   the token endpoint answers 503 from now on; /control/up undoes it
    GET  /control/revoke every token issued so far is refused (401) from now on
    POST, PUT elsewhere  the gate

One line per request on stdout: "issued", "refused", "accepted" or "token endpoint down".
"""
import base64
import json
import sys
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

settings = json.load(open(sys.argv[1]))
lock = threading.Lock()
state = {"issued": 0, "valid": set(), "down": False}


def log(line):
    with lock:
        print(line, flush=True)


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            if self.path == "/control/down":
                state["down"] = True
            elif self.path == "/control/up":
                state["down"] = False
            elif self.path == "/control/revoke":
                state["valid"].clear()
            else:
                return self.answer(404, b"{}")
        self.answer(200, b"{}")

    def token(self, body):
        with lock:
            down = state["down"]
        if down:
            log("token endpoint down")
            return self.answer(503, b'{"error":"temporarily_unavailable"}')
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        expected = {"grant_type": ["client_credentials"]}
        if settings["scope"] is not None:
            expected["scope"] = [settings["scope"]]
        for name, value in settings["params"].items():
            expected[name] = [value]
        basic = self.headers.get("Authorization", "")
        client = None
        if basic.startswith("Basic "):
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            client = (urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password))
        problems = []
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            problems.append("content type " + self.headers.get("Content-Type", ""))
        if form != expected:
            problems.append("form %s, expected %s" % (form, expected))
        if client != (settings["client_id"], settings["client_secret"]):
            problems.append("client not authenticated")
        if problems:
            log("refused token request: " + "; ".join(problems))
            return self.answer(401, b'{"error":"invalid_client"}')
        with lock:
            state["issued"] += 1
            token = "token-%d" % state["issued"]
            state["valid"].add(token)
        answer = {"access_token": token, "token_type": "Bearer"}
        if settings["expires_in"] is not None:
            answer["expires_in"] = settings["expires_in"]
        log("issued " + token)
        self.answer(200, json.dumps(answer).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/token":
            return self.token(body)
        authorization = self.headers.get("Authorization", "")
        token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else None
        with lock:
            valid = token in state["valid"]
        if not valid:
            log("refused %s" % token)
            return self.answer(401, b"invalid token", "text/plain")
        log("accepted %s" % token)
        forwarded = {name: self.headers[name] for name in
                     ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version") if self.headers.get(name)}
        request = urllib.request.Request(settings["upstream"], data=body, headers=forwarded, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self.answer(response.status, response.read(), "text/plain")
        except urllib.error.HTTPError as error:
            self.answer(error.code, error.read(), "text/plain")

    do_PUT = do_POST

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", settings["port"]), Handler)
log("listening on %d" % settings["port"])
server.serve_forever()
