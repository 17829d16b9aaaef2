#!/usr/bin/env python3
"""A real SAML 2.0 IdP for Gatehouse's interop tests, built on pysaml2's `saml2.server.Server`.

    tests/interop/.venv/bin/python tests/interop/saml_idp.py \
        --port 8099 --keydir /tmp/idp-keys --metadata-out /tmp/idp-keys/idp.xml --preset entra

Plain http on 127.0.0.1. It generates its own RSA key and self-signed certificate with openssl
(in --keydir, kept if already there), signs with RSA-SHA256 / SHA-256 digests, and shapes the
NameID and attributes like Entra ID, Okta or Google Workspace (--preset). There is no login form:
every AuthnRequest is answered at once for the configured user (alice@acme.test).

Endpoints
  GET  /metadata              IdP metadata (also written to --metadata-out at start)
  POST /admin/sp-metadata     body = SP metadata XML; the server config is reloaded with it
  GET  /sso?SAMLRequest=&RelayState=   HTTP-Redirect binding in, HTTP-POST binding (auto-post form) out
  GET  /admin/requests        JSON list of the AuthnRequests received (id, force_authn, issuer, ...)
  GET  /admin/last-response   JSON {acs, SAMLResponse, RelayState, xml} of the last answer
  GET  /admin/user            JSON {preset, entity_id, name_id, name_id_format, attributes}
  GET  /healthz

On start it prints one line `READY http://127.0.0.1:<port>` on stdout.
"""
import argparse
import base64
import datetime as dt
import html
import json
import os
import random
import shutil
import string
import subprocess
import sys
import threading
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import do_ava, factory
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

try:  # pysaml2 >= 7
    from saml2.saml import AUTHN_PASSWORD
except ImportError:  # pragma: no cover
    from saml2.authn_context import PASSWORD as AUTHN_PASSWORD

NAME_FORMAT_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
NAME_FORMAT_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

ENTRA_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MS = "http://schemas.microsoft.com/identity/claims/"
XMLSOAP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS_GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"


class VerbatimConverter(AttributeConverter):
    """Emits attributes under exactly the names given (pysaml2's own maps would rename them, and its
    no-op converter lowercases them, which would turn Okta's `firstName` into `firstname`)."""

    def to_(self, attrvals):
        return [
            factory(saml.Attribute, name=k, name_format=self.name_format, attribute_value=do_ava(v))
            for k, v in attrvals.items()
        ]


def preset_user(preset, email):
    """NameID, its format, the attributes and the attribute NameFormat of the real IdP `preset`."""
    local = email.split("@")[0]
    first, last = local.capitalize(), "Liddell"
    if preset == "entra":
        oid = str(uuid.uuid4())
        # Entra's persistent NameID is an opaque, pairwise base64 string (not the oid).
        name_id = base64.b64encode(os.urandom(32)).decode().rstrip("=")
        return {
            "entity_id": f"https://sts.windows.net/{ENTRA_TENANT}/",
            "name_id": name_id,
            "name_id_format": NAMEID_FORMAT_PERSISTENT,
            "attr_name_format": NAME_FORMAT_UNSPECIFIED,
            "sign_response": False,  # Entra's default: "Sign SAML assertion"
            "attributes": {
                MS + "tenantid": [ENTRA_TENANT],
                MS + "objectidentifier": [oid],
                XMLSOAP + "emailaddress": [email],
                XMLSOAP + "name": [email],
                XMLSOAP + "givenname": [first],
                XMLSOAP + "surname": [last],
                MS + "displayname": [f"{first} {last}"],
                MS + "identityprovider": [f"https://sts.windows.net/{ENTRA_TENANT}/"],
                "http://schemas.microsoft.com/claims/authnmethodsreferences": [
                    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password"
                ],
                MS_GROUPS: [str(uuid.uuid4()), str(uuid.uuid4())],
            },
        }
    if preset == "okta":
        alnum = string.ascii_letters + string.digits
        app = "exk" + "".join(random.choice(alnum) for _ in range(17))
        return {
            "entity_id": f"http://www.okta.com/{app}",
            "name_id": "00u" + "".join(random.choice(alnum) for _ in range(17)),
            "name_id_format": NAMEID_FORMAT_UNSPECIFIED,
            "attr_name_format": NAME_FORMAT_BASIC,
            "sign_response": True,  # Okta signs the Response and the Assertion
            "attributes": {
                "email": [email],
                "firstName": [first],
                "lastName": [last],
                "groups": ["Everyone", "Engineering"],
            },
        }
    if preset == "google":
        idpid = "C0" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(7))
        return {
            "entity_id": f"https://accounts.google.com/o/saml2?idpid={idpid}",
            "name_id": email,
            "name_id_format": NAMEID_FORMAT_EMAILADDRESS,
            "attr_name_format": NAME_FORMAT_BASIC,
            "sign_response": True,
            # Google Workspace sends only the attributes the admin maps; the Gatehouse guide maps
            # Employee ID (immutable) as the user key.
            "attributes": {"employeeId": ["E" + "".join(random.choice(string.digits) for _ in range(6))]},
        }
    raise SystemExit(f"unknown preset {preset}")


def make_keys(keydir):
    os.makedirs(keydir, exist_ok=True)
    key, crt = os.path.join(keydir, "idp.key"), os.path.join(keydir, "idp.crt")
    if not (os.path.exists(key) and os.path.exists(crt)):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "2",
             "-subj", "/CN=gatehouse-interop-saml-idp", "-keyout", key, "-out", crt],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    return key, crt


class Idp:
    def __init__(self, args):
        self.args = args
        self.base = f"http://127.0.0.1:{args.port}"
        self.key, self.cert = make_keys(args.keydir)
        self.user = preset_user(args.preset, args.email)
        if args.preset == "google" and args.google_email_attribute:
            self.user["attributes"]["email"] = [args.email]
        if args.entity_id:
            self.user["entity_id"] = args.entity_id
        self.sign_response = {"yes": True, "no": False}.get(args.sign_response, self.user["sign_response"])
        self.sp_metadata_file = os.path.join(args.keydir, "sp-metadata.xml")
        self.lock = threading.Lock()
        self.requests = []
        self.last_response = None
        self.errors = []
        self.server = self.build()
        self.metadata = create_metadata_string(None, config=self.server.config).decode()
        with open(args.metadata_out, "w") as f:
            f.write(self.metadata)

    def config(self):
        xmlsec = shutil.which("xmlsec1")
        if not xmlsec:
            raise SystemExit("xmlsec1 not found (apt-get install -y xmlsec1)")
        cnf = {
            "entityid": self.user["entity_id"],
            "xmlsec_binary": xmlsec,
            "key_file": self.key,
            "cert_file": self.cert,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 60,
            "service": {
                "idp": {
                    "name": f"interop {self.args.preset} IdP",
                    "endpoints": {"single_sign_on_service": [(f"{self.base}/sso", BINDING_HTTP_REDIRECT)]},
                    "want_authn_requests_signed": False,
                    "name_id_format": [self.user["name_id_format"]],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "name_form": self.user["attr_name_format"],
                            "attribute_restrictions": None,
                        }
                    },
                }
            },
            "metadata": {"local": [self.sp_metadata_file]} if os.path.exists(self.sp_metadata_file) else {},
        }
        c = IdPConfig()
        c.load(cnf)
        return c

    def build(self):
        server = Server(config=self.config())
        server.config.attribute_converters = [VerbatimConverter(self.user["attr_name_format"])]
        return server

    def set_sp_metadata(self, xml):
        with self.lock:
            with open(self.sp_metadata_file, "w") as f:
                f.write(xml)
            self.server = self.build()
            return list(self.server.metadata.keys())

    def sso(self, saml_request, relay_state):
        with self.lock:
            server = self.server
        req = server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        msg = req.message
        record = {
            "id": msg.id,
            "issuer": msg.issuer.text if msg.issuer is not None else None,
            "destination": msg.destination,
            "acs_url": msg.assertion_consumer_service_url,
            "protocol_binding": msg.protocol_binding,
            "force_authn": msg.force_authn,
            "force_authn_bool": str(msg.force_authn).lower() in ("true", "1"),
            "is_passive": msg.is_passive,
            "issue_instant": msg.issue_instant,
            "name_id_policy": str(msg.name_id_policy) if msg.name_id_policy is not None else None,
            "relay_state": relay_state,
            "xml": req.xmlstr.decode() if isinstance(req.xmlstr, bytes) else req.xmlstr,
        }
        with self.lock:
            self.requests.append(record)
        # Where to answer: the ACS from the SP's metadata (pysaml2 refuses an ACS URL not in it).
        rargs = server.response_args(msg, [BINDING_HTTP_POST])
        acs = rargs["destination"]
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        name_id = saml.NameID(format=self.user["name_id_format"], text=self.user["name_id"])
        resp = server.create_authn_response(
            identity={k: list(v) for k, v in self.user["attributes"].items()},
            in_response_to=msg.id,
            destination=acs,
            sp_entity_id=rargs["sp_entity_id"],
            name_id=name_id,
            sign_assertion=True,
            sign_response=self.sign_response,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            authn={"class_ref": AUTHN_PASSWORD, "authn_instant": int(now.timestamp())},
        )
        xml = str(resp)
        http_args = server.apply_binding(BINDING_HTTP_POST, xml, acs, relay_state, response=True)
        with self.lock:
            self.last_response = {
                "acs": acs,
                "SAMLResponse": base64.b64encode(xml.encode()).decode(),
                "RelayState": relay_state,
                "xml": xml,
                "in_response_to": msg.id,
            }
        return http_args["data"]


def handler_for(idp):
    class H(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            sys.stderr.write("saml-idp: " + (fmt % a) + "\n")

        def send(self, status, body, ctype="text/plain; charset=utf-8"):
            b = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(b)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(b)

        def json(self, obj, status=200):
            self.send(status, json.dumps(obj, indent=1), "application/json")

        def fail(self, status, what, e):
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            idp.errors.append({"what": what, "error": detail})
            sys.stderr.write(traceback.format_exc())
            self.send(status, f"<html><body><h1>{html.escape(what)}</h1><p>{html.escape(detail)}</p></body></html>",
                      "text/html; charset=utf-8")

        def do_GET(self):
            u = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
            if u.path == "/healthz":
                return self.send(200, "ok")
            if u.path == "/metadata":
                return self.send(200, idp.metadata, "application/samlmetadata+xml")
            if u.path == "/admin/requests":
                return self.json(idp.requests)
            if u.path == "/admin/last-response":
                return self.json(idp.last_response) if idp.last_response else self.json({"error": "none yet"}, 404)
            if u.path == "/admin/errors":
                return self.json(idp.errors)
            if u.path == "/admin/user":
                return self.json({"preset": idp.args.preset, "sign_response": idp.sign_response, **idp.user})
            if u.path == "/sso":
                if "SAMLRequest" not in q:
                    return self.send(400, "SAMLRequest missing")
                try:
                    page = idp.sso(q["SAMLRequest"], q.get("RelayState", ""))
                except Exception as e:  # an SSO error page, as a real IdP would show
                    return self.fail(400, "SAML request refused by the IdP", e)
                return self.send(200, page, "text/html; charset=utf-8")
            self.send(404, "not found")

        def do_POST(self):
            u = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            if u.path == "/admin/sp-metadata":
                try:
                    entities = idp.set_sp_metadata(body)
                except Exception as e:
                    return self.fail(400, "SP metadata refused", e)
                return self.json({"loaded": entities})
            self.send(404, "not found")

    return H


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--keydir", required=True, help="where the key, certificate and SP metadata are kept")
    p.add_argument("--metadata-out", required=True, help="where to write the IdP metadata XML")
    p.add_argument("--preset", choices=["entra", "okta", "google"], default="entra")
    p.add_argument("--email", default="alice@acme.test")
    p.add_argument("--entity-id", help="override the preset's IdP entityID")
    p.add_argument("--sign-response", choices=["yes", "no", "preset"], default="preset",
                   help="sign the Response too (the assertion is always signed); default per preset")
    p.add_argument("--google-email-attribute", action="store_true", help="google preset: also send an `email` attribute")
    args = p.parse_args()
    idp = Idp(args)
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(idp))
    print(f"READY {idp.base}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
