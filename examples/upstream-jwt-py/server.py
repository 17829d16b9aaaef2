"""An MCP server (MCP Python SDK 2.x) behind `gatehouse gateway` that trusts only the gateway's JWT.

The gateway never forwards the client's access token (the MCP spec forbids token passthrough);
it sends `Authorization: Bearer <JWT>` signed by Gatehouse (EdDSA), whose claims say who calls:
sub, tenant, client_id, scope, sid, and email/name when the resource shares the user's identity.

    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
    GATEHOUSE_ISSUER=https://auth.example.com UPSTREAM_URL=http://127.0.0.1:4000/mcp PORT=4000 \
    .venv/bin/python server.py

UPSTREAM_URL is exactly the URL the gateway was started with (`--upstream`): the gateway puts it
in `aud`, so a JWT minted for another upstream is refused here.
"""

import json
import os
import threading
import time
from urllib.parse import urlparse

import anyio
import jwt
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

ISSUER = os.environ["GATEHOUSE_ISSUER"].rstrip("/")
AUDIENCE = os.environ["UPSTREAM_URL"]
PORT = int(os.environ.get("PORT", "4000"))
MAX_AGE_S = 60  # the gateway's JWTs live 60 s at most

# Gatehouse's signing keys; PyJWKClient refetches the set when a JWT names an unknown `kid`.
jwks = jwt.PyJWKClient(f"{ISSUER}/.well-known/jwks.json", cache_keys=True, lifespan=300)

# `jti`s seen and not yet expired: a JWT is good for one request. With several instances of this
# server, keep this set in a shared store (Redis SET NX with a TTL) instead.
_seen: dict[str, float] = {}
_seen_lock = threading.Lock()


def first_use(jti: str, exp: float) -> bool:
    now = time.time()
    with _seen_lock:
        for k in [k for k, e in _seen.items() if e < now - 5]:
            del _seen[k]
        if jti in _seen:
            return False
        _seen[jti] = exp
        return True


def verify(token: str) -> dict:
    """The gateway JWT's claims, or jwt.InvalidTokenError."""
    key = jwks.get_signing_key_from_jwt(token)  # blocking HTTP on a cache miss: run in a thread
    claims = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway=5,
        options={"require": ["exp", "iat", "jti", "sub", "tenant", "client_id"]},
    )
    if claims["exp"] - claims["iat"] > MAX_AGE_S or claims["iat"] < time.time() - MAX_AGE_S - 5:
        raise jwt.InvalidTokenError("older than 60 s")
    if not first_use(claims["jti"], claims["exp"]):
        raise jwt.InvalidTokenError("jti already used (replay)")
    return claims


class GatewayJwtVerifier:
    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await anyio.to_thread.run_sync(verify, token)
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as e:
            print(f"gateway JWT refused: {type(e).__name__}: {e}", flush=True)
            return None  # the SDK answers 401
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=claims.get("scope", "").split(),
            expires_at=claims["exp"],
            subject=claims["sub"],
            claims=claims,
        )


mcp = MCPServer(
    "upstream-jwt-example-py",
    token_verifier=GatewayJwtVerifier(),
    # The audience is checked by the verifier; no protected resource metadata here (the
    # gateway serves it to MCP clients).
    auth=AuthSettings(issuer_url=ISSUER, resource_server_url=None, validate_token_resource=False),
)


@mcp.tool()
async def whoami() -> str:
    """The caller, as the gateway vouched for it."""
    c = get_access_token().claims or {}
    keys = ("sub", "tenant", "client_id", "scope", "sid", "email", "name")
    return json.dumps({k: c.get(k) for k in keys})


if __name__ == "__main__":
    mcp.run("streamable-http", host="127.0.0.1", port=PORT, streamable_http_path=urlparse(AUDIENCE).path)
