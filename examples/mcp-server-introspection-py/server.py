"""An MCP server (MCP Python SDK 2.x, Streamable HTTP) protected by Gatehouse without the gateway.

Every bearer token is checked by RFC 7662 introspection at Gatehouse (the SDK's `token_verifier`
hook), each tool checks its own scopes, and each tool call is reported to Gatehouse's audit API
(POST /audit/v1/events), so it lands in the tenant's audit log.

    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
    GATEHOUSE_ISSUER=https://auth.example.com MCP_PUBLIC_URL=https://crm.example.com/mcp \
    INTROSPECTION_CLIENT_ID=rs_... INTROSPECTION_CLIENT_SECRET_FILE=./secret PORT=3000 \
    .venv/bin/python server.py

MCP_PUBLIC_URL must equal the resource's `uri` in its Gatehouse catalogue (resource.toml).
With the 1.x SDK, import `FastMCP` from `mcp.server.fastmcp` instead of `MCPServer`: the
`token_verifier=` and `auth=AuthSettings(...)` arguments are the same.
"""

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

ISSUER = os.environ["GATEHOUSE_ISSUER"]
# Where this server reaches Gatehouse (defaults to the issuer; any node of the cluster will do).
GATEHOUSE_URL = os.environ.get("GATEHOUSE_URL", ISSUER).rstrip("/")
PUBLIC_URL = os.environ["MCP_PUBLIC_URL"]
CLIENT_ID = os.environ["INTROSPECTION_CLIENT_ID"]
# Secrets come from a file (or the environment), never from the command line.
_secret_file = os.environ.get("INTROSPECTION_CLIENT_SECRET_FILE")
CLIENT_SECRET = Path(_secret_file).read_text().strip() if _secret_file else os.environ["INTROSPECTION_CLIENT_SECRET"]
PORT = int(os.environ.get("PORT", "3000"))

# The scopes each tool needs: the same map as the `[[tools]]` of resource.toml.
TOOL_SCOPES = {
    "list_customers": ["crm:customers:read"],
    "export_customers": ["crm:customers:read", "crm:customers:export"],
}

http = httpx.AsyncClient(base_url=GATEHOUSE_URL, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)


class IntrospectionVerifier:
    """RFC 7662: ask Gatehouse whether the token is active, and for whom."""

    async def verify_token(self, token: str) -> AccessToken | None:
        res = await http.post("/oauth/introspect", data={"token": token}, headers={"accept": "application/json"})
        if res.status_code != 200:
            return None
        r = res.json()
        # Inactive: revoked, expired, unknown, or issued for another resource.
        if not r.get("active"):
            return None
        aud = r.get("aud")
        return AccessToken(
            token=token,
            client_id=r["client_id"],
            scopes=r.get("scope", "").split(),
            expires_at=r.get("exp"),
            resource=aud[0] if isinstance(aud, list) else aud,
            subject=r.get("sub"),
            # Gatehouse's own claims: the organisation, the sign-in session, email/name if shared.
            claims={k: r[k] for k in ("iss", "tenant", "session_id", "email", "name") if k in r},
        )


async def audit(ctx: Context, tool: str, result: str, parameters: dict, error: str | None = None) -> None:
    """Report a tool call to the tenant's audit log (format: docs/mcp-server-integration.md)."""
    token = get_access_token()
    claims = token.claims or {}
    request = ctx.request_context.request
    event = {
        "tenant": claims["tenant"],
        "sub": token.subject,
        "client_id": token.client_id,
        "session_id": claims.get("session_id"),
        "tool": tool,
        "scopes": TOOL_SCOPES[tool],
        "result": result,
        "parameters": parameters,
        "error": error,
        "source_ip": request.client.host if request is not None and request.client else None,
        "user_agent": (ctx.headers or {}).get("user-agent"),
        "occurred_at": time.time_ns() // 1000,  # microseconds
    }
    try:
        res = await http.post("/audit/v1/events", json={k: v for k, v in event.items() if v is not None})
        if res.status_code != 202:
            print(f"audit event refused: HTTP {res.status_code} {res.text}", flush=True)
    except httpx.HTTPError as e:  # a real server would queue and retry
        print(f"audit event not delivered: {e}", flush=True)


async def require_scopes(ctx: Context, tool: str, parameters: dict) -> None:
    """Per-tool scopes: refuse (and audit) a call whose token lacks one of the tool's scopes."""
    missing = [s for s in TOOL_SCOPES[tool] if s not in get_access_token().scopes]
    if missing:
        await audit(ctx, tool, "denied", parameters, f"missing scope {' '.join(missing)}")
        # ToolError: the client gets an error result with this message (isError: true).
        raise ToolError(f"{tool} needs the scope(s) {' '.join(missing)}: sign in again to grant them")


mcp = MCPServer(
    "crm-example-py",
    token_verifier=IntrospectionVerifier(),
    auth=AuthSettings(
        issuer_url=ISSUER,
        resource_server_url=PUBLIC_URL,  # served as RFC 9728 metadata; the tokens' audience
        validate_token_resource=True,  # refuse tokens issued for another resource
        required_scopes=["crm:customers:read"],
    ),
)


@mcp.tool()
async def list_customers(ctx: Context, limit: int = 10) -> str:
    """List customers."""
    await require_scopes(ctx, "list_customers", {"limit": limit})
    await audit(ctx, "list_customers", "success", {"limit": limit})
    who = (get_access_token().claims or {}).get("email") or get_access_token().subject
    return f"customers of {who}: Initech, Umbrella"


@mcp.tool()
async def export_customers(ctx: Context, format: str = "csv") -> str:
    """Export all customers as CSV."""
    await require_scopes(ctx, "export_customers", {"format": format})
    await audit(ctx, "export_customers", "success", {"format": format})
    return "name\nInitech\nUmbrella\n"


if __name__ == "__main__":
    mcp.run("streamable-http", host="127.0.0.1", port=PORT, streamable_http_path=urlparse(PUBLIC_URL).path)
