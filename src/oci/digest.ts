import { createHash, type Hash } from 'node:crypto';
import { OciError } from './errors.ts';

/** The digest algorithms berth stores and verifies, with the length of their hex encoding. */
export const algorithms = { sha256: 64, sha512: 128 } as const;
export type Algorithm = keyof typeof algorithms;

export const defaultAlgorithm: Algorithm = 'sha256';

export interface Digest {
  readonly algorithm: Algorithm;
  readonly hex: string;
}

// The spec's grammar: algorithm-component(s) ":" encoded. Anything else is not a digest at all.
const grammar = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const isAlgorithm = (s: string): s is Algorithm => Object.hasOwn(algorithms, s);

export function looksLikeDigest(s: string): boolean {
  return s.includes(':');
}

/** Parses and validates a digest string; unknown algorithms and bad encodings are DIGEST_INVALID. */
export function parseDigest(s: string): Digest {
  if (s.length > 200 || !grammar.test(s)) {
    throw new OciError('DIGEST_INVALID', 'invalid digest format', { detail: { digest: s.slice(0, 200) } });
  }
  const colon = s.indexOf(':');
  const algorithm = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (!isAlgorithm(algorithm)) {
    throw new OciError('DIGEST_INVALID', `unsupported digest algorithm: ${algorithm}`, {
      detail: { supported: Object.keys(algorithms) },
    });
  }
  if (hex.length !== algorithms[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new OciError('DIGEST_INVALID', `invalid ${algorithm} digest: expected ${algorithms[algorithm]} lowercase hex characters`);
  }
  return { algorithm, hex };
}

export function parseAlgorithm(s: string): Algorithm {
  if (!isAlgorithm(s)) {
    throw new OciError('DIGEST_INVALID', `unsupported digest algorithm: ${s.slice(0, 40)}`, {
      detail: { supported: Object.keys(algorithms) },
    });
  }
  return s;
}

export const formatDigest = (d: Digest): string => `${d.algorithm}:${d.hex}`;

export const sameDigest = (a: Digest, b: Digest): boolean => a.algorithm === b.algorithm && a.hex === b.hex;

export function createHasher(algorithm: Algorithm): Hash {
  return createHash(algorithm);
}

export function digestBytes(bytes: Uint8Array, algorithm: Algorithm = defaultAlgorithm): Digest {
  return { algorithm, hex: createHash(algorithm).update(bytes).digest('hex') };
}
