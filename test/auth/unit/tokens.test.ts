import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedKeyPath, loadSigningKey, readSigningKey, type SigningKey } from '../../../src/auth/keys.ts';
import { accessClaims, parseAccessClaim, signClaims } from '../../../src/auth/tokens.ts';
import { TokenVerifier } from '../../../src/auth/verify.ts';
import { createLogger } from '../../../src/observability/log.ts';
import { claims, hmacToken, makeKey, tamper, unsignedToken, type TestKey } from '../../support/tokens.ts';
import { calculateJwkThumbprint } from 'jose';
import { seconds } from '../../../src/config/duration.ts';

const logger = createLogger('silent');
let dir: string;
let key: SigningKey;
let forged: TestKey;
let verifier: TokenVerifier;
const repoA = [{ type: 'repository', name: 'a', actions: ['pull'] }];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-keys-'));
  forged = await makeKey();
  await writeFile(join(dir, 'key.pem'), forged.pem, { mode: 0o600 });
  // The server's key is the one the test holds, so it can sign tokens with bad claims.
  key = await readSigningKey(join(dir, 'key.pem'));
  verifier = await TokenVerifier.create({ service: 'berth', leeway: seconds(30), logger, builtIn: { issuer: 'berth', key }, issuers: [] });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('signing keys', () => {
  it('generates an ES256 key once, mode 0600, and loads the same one after', async () => {
    const data = join(dir, 'data');
    const first = await loadSigningKey({ dataDir: data });
    const second = await loadSigningKey({ dataDir: data });
    expect(first.alg).toBe('ES256');
    expect(second.kid).toBe(first.kid);
    expect((await stat(generatedKeyPath(data, 'ES256'))).mode & 0o777).toBe(0o600);
    expect(first.kid).toBe(await calculateJwkThumbprint(first.publicJwk));
    expect(first.publicJwk).not.toHaveProperty('d');
    expect(first.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: first.kid });
  });

  it('reads PEM and JWK files; an RS256 key signs RS256; a mismatched algorithm is an error', async () => {
    const rsa = await makeKey('RS256');
    await writeFile(join(dir, 'rsa.pem'), rsa.pem);
    const k = await readSigningKey(join(dir, 'rsa.pem'));
    expect(k.alg).toBe('RS256');
    expect(k.kid).toBe(rsa.kid);
    await expect(readSigningKey(join(dir, 'rsa.pem'), 'ES256')).rejects.toThrow(/ES256/);
    const { createPrivateKey } = await import('node:crypto');
    const jwk = createPrivateKey(forged.pem).export({ format: 'jwk' });
    await writeFile(join(dir, 'key.jwk'), JSON.stringify(jwk));
    expect((await readSigningKey(join(dir, 'key.jwk'))).kid).toBe(forged.kid);
    await writeFile(join(dir, 'public.jwk'), JSON.stringify(forged.publicJwk));
    await expect(readSigningKey(join(dir, 'public.jwk'))).rejects.toThrow(/public/);
    await expect(readSigningKey(join(dir, 'missing.pem'))).rejects.toThrow(/cannot read/);
  });
});

describe('token claims', () => {
  it('carries issuer, subject, audience, lifetime and the granted access', async () => {
    const c = accessClaims({ issuer: 'berth', service: 'svc', subject: 'alice', access: repoA, now: 1_700_000_000_500, lifetime: seconds(300) });
    expect(c).toMatchObject({ iss: 'berth', sub: 'alice', aud: 'svc', iat: 1_700_000_000, nbf: 1_700_000_000, exp: 1_700_000_300, access: repoA });
    expect(typeof c.jti).toBe('string');
    const token = await signClaims(accessClaims({ issuer: 'berth', service: 'berth', subject: '', access: repoA, now: Date.now(), lifetime: seconds(60) }), key, 'JWT');
    expect(await verifier.verifyAccess(token)).toEqual({ issuer: 'berth', subject: '', access: repoA, builtIn: true });
  });

  it('reads only well-formed access entries', () => {
    expect(parseAccessClaim([{ type: 'repository', name: 'a', actions: ['pull', 3] }, { type: 1 }, null, 'x'])).toEqual([
      { type: 'repository', name: 'a', actions: ['pull'] },
    ]);
    expect(parseAccessClaim('all')).toEqual([]);
  });
});

describe('hostile tokens are refused by the verifier', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['expired', () => forged.sign(claims(repoA, { exp: now() - 3600, iat: now() - 7200, nbf: now() - 7200 })), /expired/],
    ['not yet valid', () => forged.sign(claims(repoA, { nbf: now() + 3600 })), /not yet valid/],
    ['wrong audience', () => forged.sign(claims(repoA, { aud: 'other' })), /another service/],
    ['wrong issuer', () => forged.sign(claims(repoA, { iss: 'someone-else' })), /unknown issuer/],
    ['no expiry', () => forged.sign(claims(repoA, { exp: undefined })), /exp/],
    ['unknown key', async () => (await makeKey()).sign(claims(repoA)), /unknown key/],
    ['unknown key with our kid', async () => (await makeKey()).sign(claims(repoA), { kid: key.kid }), /signature/],
    ['tampered payload', async () => tamper(await forged.sign(claims(repoA)), (c) => ({ ...c, access: [{ type: 'repository', name: 'a', actions: ['*'] }] })), /signature/],
    ['alg none', async () => unsignedToken(claims(repoA), { kid: key.kid }), /algorithm/],
    ['HS256 keyed with the public JWK', async () => hmacToken(JSON.stringify(key.publicJwk), claims(repoA), { kid: key.kid }), /algorithm/],
    ['garbage', async () => 'not.a.token', /malformed/],
  ];
  it.each(cases)('%s', async (_name, make, reason) => {
    await expect(verifier.verifyAccess(await make())).rejects.toThrow(reason);
  });

  it('a refresh token is not an access token, nor an access token a refresh token', async () => {
    const access = await forged.sign(claims(repoA));
    await expect(verifier.verifyRefresh(access)).rejects.toThrow();
    const refresh = await forged.sign({ ...claims([]), aud: 'berth#refresh', pwe: 'x' }, { typ: 'berth-refresh+jwt' });
    await expect(verifier.verifyAccess(refresh)).rejects.toThrow(/typ|another service/);
    expect(await verifier.verifyRefresh(refresh)).toEqual({ subject: 'alice', passwordEpoch: 'x' });
  });

  it('never leaks the token into the reason', async () => {
    const token = await forged.sign(claims(repoA, { aud: 'zzz-unique' }));
    const error = await verifier.verifyAccess(token).catch((e: unknown) => e as Error);
    expect(String(error)).not.toContain(token.split('.')[1] as string);
  });
});

describe('external issuers', () => {
  it('accepts tokens of a JWKS file and of a PEM certificate, each for its own issuer and audience', async () => {
    const ext = await makeKey('RS256');
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [ext.publicJwk] }));
    const { execFileSync } = await import('node:child_process');
    await writeFile(join(dir, 'cert-key.pem'), forged.pem);
    execFileSync('openssl', ['req', '-new', '-x509', '-key', join(dir, 'cert-key.pem'), '-subj', '/CN=issuer', '-days', '2', '-out', join(dir, 'cert.pem')]);
    const v = await TokenVerifier.create({
      service: 'berth',
      leeway: seconds(30),
      logger,
      issuers: [
        { issuer: 'https://idp.example', jwks: join(dir, 'jwks.json'), certificates: [], algorithms: ['RS256'], audience: 'registry' },
        { issuer: 'certs', certificates: [join(dir, 'cert.pem')], algorithms: ['ES256'] },
      ],
    });
    const good = await ext.sign(claims(repoA, { iss: 'https://idp.example', aud: 'registry', sub: 'ci' }));
    expect(await v.verifyAccess(good)).toEqual({ issuer: 'https://idp.example', subject: 'ci', access: repoA, builtIn: false });
    await expect(v.verifyAccess(await ext.sign(claims(repoA, { iss: 'https://idp.example' })))).rejects.toThrow(/another service/);
    await expect(v.verifyAccess(await ext.sign(claims(repoA, { iss: 'certs' })))).rejects.toThrow(/algorithm/);
    // Certificates: any kid (or none) is tried against each certificate's key.
    expect((await v.verifyAccess(await forged.sign(claims(repoA, { iss: 'certs' }), { kid: 'libtrust-style' }))).subject).toBe('alice');
    await expect(v.verifyAccess(await (await makeKey()).sign(claims(repoA, { iss: 'certs' })))).rejects.toThrow(/signature/);
    await expect(v.verifyAccess(await forged.sign(claims(repoA, { iss: 'berth' })))).rejects.toThrow(/unknown issuer/);
    expect(await readFile(join(dir, 'cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});
