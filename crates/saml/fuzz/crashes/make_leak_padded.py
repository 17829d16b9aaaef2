# Builds leak-expired-padded.xml: tests/fixtures/expired.xml (Assertion validly signed by the TEST
# IdP key, but expired) with a 64 KiB unsigned samlp:Extensions in the Response envelope. The
# validator refuses it (EXPIRED), yet the whole unsigned envelope leaks (see docs/fuzzing.md).
# Usage: python3 crates/saml/fuzz/crashes/make_leak_padded.py [pad_bytes]
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
pad_bytes = int(sys.argv[1]) if len(sys.argv) > 1 else 64 * 1024
src = open(os.path.join(here, "../../tests/fixtures/expired.xml"), encoding="utf-8").read()
i = src.index("</saml:Issuer>") + len("</saml:Issuer>")  # the Response's Issuer comes first
pad = "<samlp:Extensions><x>" + "A" * pad_bytes + "</x></samlp:Extensions>"
with open(os.path.join(here, "leak-expired-padded.xml"), "w", encoding="utf-8") as f:
    f.write(src[:i] + pad + src[i:])
