# Regenerates the three crash inputs: valid-signed-assertion with one time attribute set near
# chrono's maximum (NotOnOrAfter) or minimum (NotBefore) date, signed with the TEST IdP key
# (needs lxml + cryptography).
# Usage: python3 crates/saml/fuzz/crashes/make_far_future.py
import sys, os
sys.dont_write_bytecode = True  # do not leave __pycache__ in tests/fixtures
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/fixtures"))
import generate as g
for n in ("idp", "other"):
    s = g.Signer(n); g.SIGNERS_BY_NAME[n] = s; g.SIGNERS[s.cert_b64] = s
FAR = "+262142-12-31T23:59:59Z"
def cond(root):
    a = root.find(g.q(g.SAML, "Assertion"))
    a.find(g.q(g.SAML, "Conditions")).set("NotOnOrAfter", FAR)
def nb(root):
    a = root.find(g.q(g.SAML, "Assertion"))
    a.find(g.q(g.SAML, "Conditions")).set("NotBefore", "-262143-01-01T00:00:00Z")
def scd(root):
    a = root.find(g.q(g.SAML, "Assertion"))
    a.find(".//" + g.q(g.SAML, "SubjectConfirmationData")).set("NotOnOrAfter", FAR)
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "far-future-conditions.xml"), "wb").write(g.serialize(g.make("far-future-conditions", sign="assertion", before_sign=cond)))
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "far-future-scd.xml"), "wb").write(g.serialize(g.make("far-future-scd", sign="assertion", before_sign=scd)))
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "far-past-notbefore.xml"), "wb").write(g.serialize(g.make("far-past-notbefore", sign="assertion", before_sign=nb)))
