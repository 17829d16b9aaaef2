// Upstream OpenID Provider: npm oidc-provider 9 over https on 127.0.0.2, dev interactions enabled.
// The client's redirect_uri is only known after Gatehouse created the connection, so
// setRedirectUris() swaps in a new Provider (same keys, same port) with the updated client.
import https from 'node:https';
import { randomBytes, randomUUID } from 'node:crypto';
import { privateJwk } from './keys.mjs';
import { SignJWT, importJWK, jwtVerify, createLocalJWKSet } from 'jose';
// oidc-provider prints NOTICE/WARNING lines about dev interactions and default helpers: mute them.
for (const k of ['info', 'warn']) {
  const orig = console[k];
  console[k] = (...a) => (String(a[0]).includes('oidc-provider ') ? undefined : orig(...a));
}
const { default: Provider, errors } = await import('oidc-provider'); // after muting: it warns at import time

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

/**
 * The IdP side of enterprise-managed authorization (draft-ietf-oauth-identity-assertion-authz-grant
 * §4.3, RFC 8693): a client signed in to this IdP exchanges its ID token for an ID-JAG for one
 * authorization server (`audience`) and resource, signed with the IdP's own key (its published
 * JWKS). `clientIdAt(audience, idpClientId)` names the client at that authorization server (the
 * IdP's policy); no mapping: refused, as an IdP refuses an app it has not been told about.
 */
function idJagGrant({ issuer, jwk, clientIdAt, issued }) {
  const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid, alg: jwk.alg, use: 'sig' };
  const keys = createLocalJWKSet({ keys: [publicJwk] });
  return async function tokenExchange(ctx) {
    const p = ctx.oidc.params;
    if (p.requested_token_type !== ID_JAG_TYPE) throw new errors.InvalidRequest(`requested_token_type must be ${ID_JAG_TYPE}`);
    if (p.subject_token_type !== ID_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ID_TOKEN_TYPE}`);
    if (!p.audience || !p.resource) throw new errors.InvalidRequest('audience and resource are required');
    let idToken;
    try {
      ({ payload: idToken } = await jwtVerify(p.subject_token, keys, { issuer, audience: ctx.oidc.client.clientId }));
    } catch (e) {
      throw new errors.InvalidGrant(`subject_token: ${e.message}`);
    }
    const clientId = clientIdAt(p.audience, ctx.oidc.client.clientId);
    if (!clientId) throw new errors.InvalidGrant('this client may not get ID-JAGs for that audience');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      client_id: clientId, resource: p.resource, jti: randomUUID(), auth_time: idToken.auth_time ?? idToken.iat,
      ...(p.scope && { scope: p.scope }),
    };
    const idJag = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'oauth-id-jag+jwt', kid: jwk.kid })
      .setIssuer(issuer).setSubject(idToken.sub).setAudience(p.audience)
      .setIssuedAt(now).setExpirationTime(now + 300)
      .sign(await importJWK(jwk, 'RS256'));
    issued.push({ sub: idToken.sub, ...claims });
    ctx.body = {
      access_token: idJag, issued_token_type: ID_JAG_TYPE, token_type: 'N_A', expires_in: 300,
      ...(p.scope && { scope: p.scope }),
    };
  };
}

export const ALICE = { sub: 'u-alice', email: 'alice@acme.test', name: 'Alice Example' };

/**
 * `agent` (optional): a second, confidential client `{ client_id, client_secret, redirect_uri }`
 * of the IdP that may use the RFC 8693 token exchange for ID-JAGs (see idJagGrant);
 * `setIdJagClients({ [audience]: clientIdThere })` says which client id it has at each
 * authorization server.
 */
export async function startIdp({ cert, key, clientSecret, agent }) {
  const jwk = privateJwk();
  const cookieKeys = [randomBytes(32).toString('hex')];
  let handler = (req, res) => { res.statusCode = 503; res.end('idp not configured'); };
  const server = https.createServer({ cert, key }, (req, res) => handler(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.2', r));
  const issuer = `https://127.0.0.2:${server.address().port}`;
  const requests = [];
  const idJags = []; // the claims of every ID-JAG issued
  let idJagClients = {};

  function configure(redirectUris) {
    const agentClients = agent ? [{
      client_id: agent.client_id,
      client_secret: agent.client_secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', TOKEN_EXCHANGE],
      response_types: ['code'],
      redirect_uris: [agent.redirect_uri],
    }] : [];
    const provider = new Provider(issuer, {
      clients: [{
        client_id: 'gatehouse',
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
      }, ...agentClients],
      jwks: { keys: [jwk] },
      cookies: { keys: cookieKeys },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      conformIdTokenClaims: false, // email/name also land in the ID token, not only at userinfo
      features: { devInteractions: { enabled: true } },
      async findAccount(ctx, id) {
        return { accountId: id, claims: async () => ({ ...ALICE, sub: id, email_verified: true }) };
      },
    });
    if (agent) {
      provider.registerGrantType(TOKEN_EXCHANGE, idJagGrant({
        issuer, jwk, issued: idJags, clientIdAt: (aud, idpClient) => idpClient === agent.client_id && idJagClients[aud],
      }), ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope']);
    }
    const cb = provider.callback();
    handler = (req, res) => { requests.push(`${req.method} ${req.url}`); cb(req, res); };
  }
  configure(['https://127.0.0.2/placeholder']);

  return {
    issuer, requests, idJags,
    setIdJagClients: (map) => { idJagClients = map; },
    setRedirectUris: configure,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
