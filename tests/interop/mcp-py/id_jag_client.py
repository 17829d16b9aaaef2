"""An enterprise MCP client that never opens a browser (issue 14 §2, ADR 0014): the MCP Python
SDK's own `IdentityAssertionOAuthProvider` (mcp.client.auth.extensions.identity_assertion, the
SEP-990 / ext-auth client) connects to an MCP server behind the Gatehouse gateway and calls one
tool. Its `assertion_provider` does leg 1 at the enterprise IdP: the RFC 8693 token exchange of
the person's ID token for an ID-JAG (requested_token_type id-jag, audience = the authorization
server the SDK was configured with, resource = the MCP server). The SDK does leg 2: the RFC 7523
jwt-bearer grant at Gatehouse's token endpoint.

Configuration (environment): MCP_URL, GATEHOUSE_ISSUER, CLIENT_ID, CLIENT_SECRET (the client at
Gatehouse), IDP_TOKEN_URL, IDP_CLIENT_ID, IDP_CLIENT_SECRET (the client at the IdP), ID_TOKEN,
IDP_CA_FILE, TOOL, TOOL_ARGS (JSON), SCOPE (optional). Prints one JSON line: {"ok": true, "text",
"scope", "exchanges"} or {"ok": false, "error", "exchanges"}.
"""

import asyncio
import json
import os
import ssl
import sys

import httpx
import httpx2
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthToken

ENV = os.environ
exchanges: list[dict] = []


class Memory:
    """Token storage for one run (the provider asks it first, then stores what it got)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self):
        return None

    async def set_client_info(self, client_info) -> None:
        pass


async def id_jag_from_idp(audience: str, resource: str) -> str:
    """Leg 1: RFC 8693 token exchange at the IdP (draft-ietf-oauth-identity-assertion-authz-grant §4.3)."""
    tls = ssl.create_default_context(cafile=ENV["IDP_CA_FILE"])
    async with httpx.AsyncClient(verify=tls, timeout=30) as http:
        r = await http.post(
            ENV["IDP_TOKEN_URL"],
            auth=(ENV["IDP_CLIENT_ID"], ENV["IDP_CLIENT_SECRET"]),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "subject_token": ENV["ID_TOKEN"],
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "audience": audience,
                "resource": resource,
            },
        )
    exchanges.append({"status": r.status_code, "audience": audience, "resource": resource})
    r.raise_for_status()
    body = r.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:id-jag", body
    return body["access_token"]


async def main() -> dict:
    storage = Memory()
    provider = IdentityAssertionOAuthProvider(
        server_url=ENV["MCP_URL"],
        storage=storage,
        client_id=ENV["CLIENT_ID"],
        client_secret=ENV["CLIENT_SECRET"],
        issuer=ENV["GATEHOUSE_ISSUER"],
        assertion_provider=id_jag_from_idp,
        scope=ENV.get("SCOPE") or None,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with streamable_http_client(ENV["MCP_URL"], http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool(ENV["TOOL"], json.loads(ENV.get("TOOL_ARGS") or "{}"))
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    return {"ok": not result.is_error, "text": text, "scope": storage.tokens.scope if storage.tokens else None}


def describe(e: BaseException) -> str:
    # anyio task groups wrap the provider's OAuthTokenError in exception groups.
    inner = getattr(e, "exceptions", None)
    if inner:
        return "; ".join(describe(x) for x in inner)
    return f"{type(e).__name__}: {e}"


if __name__ == "__main__":
    try:
        out = asyncio.run(main())
    except BaseException as e:  # noqa: BLE001 - the test reads the reason
        out = {"ok": False, "error": describe(e)}
    out["exchanges"] = exchanges
    print(json.dumps(out))
    sys.exit(0)
