// Fresh key pairs for the test peers, made so that exporting or using them cannot hang Node.
//
// Node 20's crypto can deadlock when a key that a key-generation job produced is exported as a
// JWK: the export holds the key's lock while it builds the JWK's JavaScript object; if that
// allocation runs a garbage collection which frees the (finished) generation job, the job's
// destructor waits for the same lock, on the same thread, for ever (seen in the interop suite:
// gateway.test.mjs hung at `startIdp` with `ExportJWKRsaKey -> GC -> ~KeyGenJob ->
// uv_mutex_lock` on its main thread). So every key here is generated as PEM and imported
// again: the key the tests hold shares nothing with the generation job.
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';

const PEM = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } };

/** A fresh key pair as KeyObjects: `type` and `options` as for `generateKeyPairSync`. */
export function keyPair(type = 'rsa', options = { modulusLength: 2048 }) {
  const privateKey = createPrivateKey(generateKeyPairSync(type, { ...options, ...PEM }).privateKey);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** A fresh RSA-2048 private signing key as a JWK with `kid` 'k1' and `alg` RS256 (what
 * oidc-provider's `jwks.keys` takes). */
export function privateJwk() {
  return { ...keyPair().privateKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };
}

/** A fresh P-256 key pair as WebCrypto keys for ES256 (what oauth4webapi's DPoP takes). */
export async function es256CryptoKeyPair() {
  const { privateKey, publicKey } = keyPair('ec', { namedCurve: 'P-256' });
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']),
  };
}
