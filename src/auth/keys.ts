/**
 * The token service's signing key: loaded from a PEM or JWK file, or generated on first start into
 * the data directory (mode 0600). Its public half is published as a JWKS; `kid` is the key's RFC
 * 7638 thumbprint.
 */
import { Buffer } from 'node:buffer';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, type JWK } from 'jose';
import type { SigningAlgorithm } from './schema.ts';

export interface SigningKey {
  alg: SigningAlgorithm;
  kid: string;
  privateKey: CryptoKey;
  /** The public key as published: kty and key parameters, plus kid, alg and use. */
  publicJwk: JWK;
  /** Where it came from, for logs. */
  source: string;
}

const privateParams = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

/** The algorithm a key is for: its curve for EC keys, RS256 for RSA. */
function algorithmOf(jwk: JWK): SigningAlgorithm | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'RSA') return 'RS256';
  return undefined;
}

/** Reads a private key from PEM (PKCS#8, SEC1 or PKCS#1) or JWK text, as a private JWK. */
function parsePrivateKey(text: string, file: string): JWK {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as JWK;
    if (typeof jwk.d !== 'string') throw new Error(`${file} holds a public JWK; the signing key must be private`);
    return jwk;
  }
  if (!trimmed.includes('PRIVATE KEY-----')) throw new Error(`${file} is neither a PEM private key nor a JWK`);
  return createPrivateKey(trimmed).export({ format: 'jwk' }) as JWK;
}

async function fromJwk(jwk: JWK, wanted: SigningAlgorithm | undefined, source: string): Promise<SigningKey> {
  const alg = algorithmOf(jwk);
  if (alg === undefined) throw new Error(`${source}: only EC P-256, EC P-384 and RSA keys can sign tokens`);
  if (wanted !== undefined && wanted !== alg) throw new Error(`${source}: auth.token.algorithm is ${wanted} but the key is for ${alg}`);
  if (alg === 'RS256' && Buffer.from(jwk.n ?? '', 'base64url').length < 256) throw new Error(`${source}: RSA keys must have at least 2048 bits`);
  const publicOnly: JWK = Object.fromEntries(Object.entries(jwk).filter(([k]) => !privateParams.includes(k) && k !== 'key_ops' && k !== 'ext'));
  const kid = await calculateJwkThumbprint(publicOnly, 'sha256');
  const privateKey = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
  return { alg, kid, privateKey, publicJwk: { ...publicOnly, kid, alg, use: 'sig' }, source };
}

/** A new private key as PKCS#8 PEM (what `berth keygen` prints and first start writes). */
export async function generateKeyPem(alg: SigningAlgorithm): Promise<string> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 3072 } : {}) });
  return exportPKCS8(privateKey);
}

export async function readSigningKey(file: string, wanted?: SigningAlgorithm): Promise<SigningKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read token signing key ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return await fromJwk(parsePrivateKey(text, file), wanted, file);
  } catch (e) {
    throw new Error(`token signing key ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The key file berth generates when none is configured. */
export const generatedKeyPath = (dataDir: string, alg: SigningAlgorithm): string =>
  join(dataDir, '_auth', `token-signing-key-${alg.toLowerCase()}.pem`);

/**
 * The configured key, or the one in the data directory, generated on first start. Creation is
 * write-then-link, so replicas sharing the directory agree on one key and none reads half a file.
 */
export async function loadSigningKey(opts: { file?: string; algorithm?: SigningAlgorithm; dataDir: string }): Promise<SigningKey & { warning?: string }> {
  if (opts.file !== undefined) {
    const key = await readSigningKey(opts.file, opts.algorithm);
    const { mode } = await stat(opts.file);
    return (mode & 0o077) === 0 ? key : { ...key, warning: `token signing key ${opts.file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it` };
  }
  const alg = opts.algorithm ?? 'ES256';
  const path = generatedKeyPath(opts.dataDir, alg);
  const exists = await stat(path).then(() => true, () => false);
  if (!exists) {
    await mkdir(join(opts.dataDir, '_auth'), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, await generateKeyPem(alg), { mode: 0o600 });
    await chmod(tmp, 0o600); // whatever the umask
    try {
      await link(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }
  return readSigningKey(path, alg);
}
