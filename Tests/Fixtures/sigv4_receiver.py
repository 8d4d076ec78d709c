#!/usr/bin/python3
"""A remote-write receiver in front of a real one that lets through only requests signed with
AWS Signature Version 4, checked by botocore's own signer (Debian's python3-botocore): an
implementation independent of the shipper's. It also answers STS AssumeRole, signed the same
way, with temporary keys.

    sigv4_receiver.py SETTINGS.json

SETTINGS (a file, so that no key is in an argument):
    port       where to listen, on 127.0.0.1
    upstream   the real receiver's URL, which gets every verified body as it came
    region, service
    keys       {access key: {"secret": ..., "token": ... or null}}: the keys that may sign
    sts        optional: {"issue": {"AccessKeyId", "SecretAccessKey", "SessionToken"},
               "expires_in": seconds}: what AssumeRole hands out (signed with any of `keys`,
               for the service "sts")

One line per request on stdout: "verified", or "rejected" and why.
"""
import datetime
import json
import sys
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

settings = json.load(open(sys.argv[1]))
lock = threading.Lock()


def log(line):
    with lock:
        print(line, flush=True)


def check(handler, body, service):
    """None if the request is signed by one of the keys for `service`, else why not."""
    authorization = handler.headers.get("Authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    key, day, region, signed_service, terminator = fields["Credential"].split("/")
    if key not in settings["keys"]:
        return "unknown access key " + key
    if (region, signed_service, terminator) != (settings["region"], service, "aws4_request"):
        return "wrong scope " + fields["Credential"]
    stamp = handler.headers.get("X-Amz-Date", "")
    signed_at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs((datetime.datetime.now(datetime.timezone.utc) - signed_at).total_seconds()) > 300 or day != stamp[:8]:
        return "signed at " + stamp
    secret = settings["keys"][key]
    if secret.get("token") != handler.headers.get("X-Amz-Security-Token"):
        return "wrong or missing session token"
    names = fields["SignedHeaders"].split(";")
    if "host" not in names or "x-amz-date" not in names:
        return "host and x-amz-date not signed"
    headers = {name: handler.headers[name] for name in names if name != "host"}
    request = AWSRequest(method=handler.command, url="http://" + handler.headers["Host"] + handler.path,
                         headers=headers, data=body)
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(key, secret["secret"], secret.get("token")), service, settings["region"])
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != fields["Signature"]:
        return "signature does not match botocore's for:\n" + canonical
    return None


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if "sts" in settings and self.path == "/":
            return self.assume_role(body)
        problem = check(self, body, settings["service"])
        if problem:
            log("rejected %s %s: %s" % (self.command, self.path, problem))
            return self.answer(403, b"SignatureDoesNotMatch")
        key = self.headers["Authorization"].split("Credential=")[1].split("/")[0]
        log("verified %s %s key=%s bytes=%d" % (self.command, self.path, key, len(body)))
        forwarded = {name: self.headers[name] for name in
                     ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version") if self.headers.get(name)}
        request = urllib.request.Request(settings["upstream"], data=body, headers=forwarded, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self.answer(response.status, response.read())
        except urllib.error.HTTPError as error:
            self.answer(error.code, error.read())

    do_PUT = do_POST

    def assume_role(self, body):
        problem = check(self, body, "sts")
        form = urllib.parse.parse_qs(body.decode())
        if problem or form.get("Action") != ["AssumeRole"]:
            log("rejected AssumeRole: %s" % (problem or form))
            return self.answer(403, b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
                                    b"<Message>not signed right</Message></Error></ErrorResponse>", "text/xml")
        issue = settings["sts"]["issue"]
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=settings["sts"]["expires_in"])
        log("assumed %s for %s" % (form["RoleArn"][0], issue["AccessKeyId"]))
        xml = ("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
               "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
               "<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>"
               "</AssumeRoleResult></AssumeRoleResponse>"
               % (issue["AccessKeyId"], issue["SecretAccessKey"], issue["SessionToken"],
                  expires.strftime("%Y-%m-%dT%H:%M:%SZ")))
        self.answer(200, xml.encode(), "text/xml")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", settings["port"]), Handler)
log("listening on %d" % settings["port"])
server.serve_forever()
