#!/usr/bin/env python3
"""Standalone check of saml_idp.py, without Gatehouse: for each preset, start the IdP, read its
metadata, give it a hand-made SP metadata, send it an AuthnRequest shaped exactly like Gatehouse's
(crates/saml/src/request.rs: `_` + 32 hex ID, ForceAuthn on the second one, DEFLATE + base64 over
HTTP-Redirect), and check the auto-post answer with the xmlsec1 CLI: the assertion's signature
(and the Response's, when signed) verifies with the IdP's certificate, RSA-SHA256 / SHA-256, and a
tampered copy does not. Also checks audience, recipient, destination, InResponseTo, NameID and the
attribute names of each preset.

    tests/interop/.venv/bin/python tests/interop/saml_idp_selfcheck.py
"""
import base64
import datetime as dt
import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SP = "http://127.0.0.1:9/federation/saml/x/metadata"
ACS = "http://127.0.0.1:9/federation/saml/x/acs"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
SP_METADATA = f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{SP}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{ACS}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""
EXPECTED_ATTRS = {
    "entra": {
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
        "http://schemas.microsoft.com/identity/claims/tenantid",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    },
    "okta": {"email", "firstName", "lastName", "groups"},
    "google": set(),
}
NAMEID_FORMAT = {
    "entra": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "okta": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "google": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, data=None):
    req = urllib.request.Request(url, data=data.encode() if data else None, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read().decode()


def gatehouse_like_request(sso, force):
    rid = "_" + secrets.token_hex(16)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{rid}" Version="2.0" IssueInstant="{now}" Destination="{sso}" AssertionConsumerServiceURL="{ACS}" '
        'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"'
        + (' ForceAuthn="true"' if force else "")
        + f'><saml:Issuer>{SP}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>'
    )
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = c.compress(xml.encode()) + c.flush()
    return rid, sso + "?" + urllib.parse.urlencode({"SAMLRequest": base64.b64encode(deflated).decode(), "RelayState": "tx-" + rid[1:9]})


def xmlsec_verify(xml_path, cert, xpath):
    r = subprocess.run(
        ["xmlsec1", "--verify", "--pubkey-cert-pem", cert,
         "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
         "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
         "--node-xpath", xpath, xml_path],
        capture_output=True, text=True,
    )
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"  ok  {what}")


def run_preset(preset, tmp):
    port = free_port()
    keydir = os.path.join(tmp, preset)
    md_out = os.path.join(keydir, "idp-metadata.xml")
    os.makedirs(keydir)
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "saml_idp.py"), "--port", str(port), "--keydir", keydir,
         "--metadata-out", md_out, "--preset", preset],
        stdout=subprocess.PIPE, stderr=open(os.path.join(keydir, "idp.log"), "w"), text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        check(line == f"READY http://127.0.0.1:{port}", f"[{preset}] IdP started: {line}")
        base = f"http://127.0.0.1:{port}"
        _, md = get(base + "/metadata")
        check(md == open(md_out).read(), "metadata served == metadata written to --metadata-out")
        ed = ET.fromstring(md)
        idp_entity = ed.get("entityID")
        sso = ed.find("md:IDPSSODescriptor/md:SingleSignOnService", NS)
        check(sso.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" and sso.get("Location") == base + "/sso",
              f"metadata: entityID {idp_entity}, SSO HTTP-Redirect at {sso.get('Location')}")
        kd = ed.find("md:IDPSSODescriptor/md:KeyDescriptor", NS)
        md_cert = "".join(kd.find(".//ds:X509Certificate", NS).text.split())
        pem_cert = "".join(l for l in open(os.path.join(keydir, "idp.crt")).read().splitlines() if "CERTIFICATE" not in l)
        check(kd.get("use") == "signing" and md_cert == pem_cert, "metadata: signing KeyDescriptor carries the IdP cert")

        status, body = get(base + "/admin/sp-metadata", SP_METADATA)
        check(status == 200 and SP in body, f"SP metadata accepted: {body.strip()}")
        user = json.loads(get(base + "/admin/user")[1])

        for n, force in enumerate([False, True]):
            rid, url = gatehouse_like_request(base + "/sso", force)
            status, page = get(url)
            check(status == 200, f"/sso answered 200 (ForceAuthn={force})")
            form = dict(re.findall(r'(\w+)="([^"]*)"', re.search(r"<form\b([^>]*)>", page).group(1)))
            fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
            check(form.get("method", "").lower() == "post" and html.unescape(form.get("action", "")) == ACS, f"auto-post form to the ACS {ACS}")
            check(fields.get("RelayState") == "tx-" + rid[1:9], "RelayState echoed")
            xml = base64.b64decode(html.unescape(fields["SAMLResponse"])).decode()
            check("<!--" not in xml, "no XML comment in the response (Gatehouse refuses them)")
            path = os.path.join(keydir, f"response-{n}.xml")
            open(path, "w").write(xml)
            root = ET.fromstring(xml)
            a = root.find("saml:Assertion", NS)
            check(root.get("Destination") == ACS and root.get("InResponseTo") == rid, "Response Destination = ACS, InResponseTo = request ID")
            check(root.find("samlp:Status/samlp:StatusCode", NS).get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Success", "status Success")
            check(a.find("saml:Issuer", NS).text == idp_entity, "assertion Issuer = IdP entityID")
            check([e.text for e in a.findall("saml:Conditions/saml:AudienceRestriction/saml:Audience", NS)] == [SP], "AudienceRestriction = SP entityID")
            scd = a.find("saml:Subject/saml:SubjectConfirmation[@Method='urn:oasis:names:tc:SAML:2.0:cm:bearer']/saml:SubjectConfirmationData", NS)
            check(scd is not None and scd.get("Recipient") == ACS and scd.get("InResponseTo") == rid and scd.get("NotOnOrAfter"),
                  "bearer SubjectConfirmationData: Recipient = ACS, InResponseTo, NotOnOrAfter")
            nid = a.find("saml:Subject/saml:NameID", NS)
            check(nid.get("Format") == NAMEID_FORMAT[preset] and nid.text == user["name_id"], f"NameID {nid.text} ({nid.get('Format')})")
            check(a.find("saml:AuthnStatement", NS).get("AuthnInstant") is not None, "AuthnStatement with AuthnInstant")
            names = {at.get("Name"): at.get("NameFormat") for at in a.findall("saml:AttributeStatement/saml:Attribute", NS)}
            check(set(names) >= EXPECTED_ATTRS[preset] and (preset != "google" or not names), f"attributes: {sorted(names)} NameFormat {set(names.values()) or '-'}")
            if preset == "entra":
                vals = {at.get("Name"): [v.text for v in at.findall("saml:AttributeValue", NS)] for at in a.findall("saml:AttributeStatement/saml:Attribute", NS)}
                check(vals["http://schemas.microsoft.com/identity/claims/tenantid"] == ["72f988bf-86f1-41af-91ab-2d7cd011db47"], "entra tenantid")
                check(len(vals["http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"]) == 2, "entra: two group GUIDs")
                check(re.fullmatch(r"[0-9a-f-]{36}", vals["http://schemas.microsoft.com/identity/claims/objectidentifier"][0]) is not None, "entra objectidentifier GUID")

            sig = a.find("ds:Signature", NS)
            check(sig.find("ds:SignedInfo/ds:Reference", NS).get("URI") == "#" + a.get("ID"), "assertion signature references the assertion")
            check(sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
                  and sig.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS).get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#sha256",
                  "RSA-SHA256 signature, SHA-256 digest")
            cert = os.path.join(keydir, "idp.crt")
            ok, out = xmlsec_verify(path, cert, "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']")
            check(ok, f"xmlsec1 --verify: assertion signature OK with the IdP cert ({[l for l in out.splitlines() if l in ('OK', 'FAIL')]})")
            rsig = root.find("ds:Signature", NS)
            check((rsig is not None) == user["sign_response"], f"Response signed: {rsig is not None} (preset default)")
            if rsig is not None:
                ok, out = xmlsec_verify(path, cert, "/*[local-name()='Response']/*[local-name()='Signature']")
                check(ok, "xmlsec1 --verify: Response signature OK")
            tampered = os.path.join(keydir, f"tampered-{n}.xml")
            open(tampered, "w").write(xml.replace(user["name_id"], "mallory" + user["name_id"][7:], 1) if preset != "google"
                                      else xml.replace("alice@acme.test", "mallory@acme.test", 1))
            ok, _ = xmlsec_verify(tampered, cert, "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']")
            check(not ok, "xmlsec1 --verify: a tampered NameID fails")
            other = os.path.join(tmp, "other")
            if not os.path.exists(other + ".crt"):
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                                "-keyout", other + ".key", "-out", other + ".crt"], check=True, capture_output=True)
            ok, _ = xmlsec_verify(path, other + ".crt", "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']")
            check(not ok, "xmlsec1 --verify: fails with another certificate")

        reqs = json.loads(get(base + "/admin/requests")[1])
        check(len(reqs) == 2 and all(re.fullmatch(r"_[0-9a-f]{32}", r["id"]) for r in reqs), "/admin/requests lists both AuthnRequests")
        check([r["force_authn_bool"] for r in reqs] == [False, True], f"ForceAuthn recorded: {[r['force_authn'] for r in reqs]}")
        last = json.loads(get(base + "/admin/last-response")[1])
        check(last["acs"] == ACS and last["in_response_to"] == reqs[1]["id"], "/admin/last-response is the second answer")
        try:  # an ACS URL that is not in the SP metadata is refused, as pysaml2 does for real
            xml_bad = url_with_acs(base + "/sso", "http://127.0.0.1:9/evil")
            get(xml_bad)
            check(False, "foreign ACS refused")
        except urllib.error.HTTPError as e:
            check(e.code == 400, "an AuthnRequest with an ACS URL not in the SP metadata gets 400")
    finally:
        proc.terminate()
        proc.wait(10)


def url_with_acs(sso, acs):
    rid, url = gatehouse_like_request(sso, False)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    xml = zlib.decompress(base64.b64decode(q["SAMLRequest"]), -15).decode().replace(ACS, acs)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    q["SAMLRequest"] = base64.b64encode(c.compress(xml.encode()) + c.flush()).decode()
    return sso + "?" + urllib.parse.urlencode(q)


def main():
    presets = sys.argv[1:] or ["entra", "okta", "google"]
    with tempfile.TemporaryDirectory(prefix="saml-idp-check-") as tmp:
        for p in presets:
            run_preset(p, tmp)
    print(f"saml_idp selfcheck: {len(presets)} passed, 0 failed")


if __name__ == "__main__":
    main()
