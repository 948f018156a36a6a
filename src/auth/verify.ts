/**
 * Verifies Bearer tokens: berth's own and those of configured external issuers. The issuer named in
 * the token picks the keys and rules; then signature, algorithm allow-list (asymmetric only, so
 * never `none` and never an HMAC keyed with a public key), `iss`, `aud`, `exp` and `nbf` with a
 * small leeway. What is left to decide is the `access` claim.
 */
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  importJWK,
  importX509,
  jwtVerify,
  type JWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import { toSeconds, type Duration } from '../config/duration.ts';
import type { Logger } from '../observability/log.ts';
import type { SigningKey } from './keys.ts';
import type { ExternalIssuerConfig } from './schema.ts';
import type { Scope } from './scope.ts';
import { accessTokenType, parseAccessClaim, refreshAudience, refreshTokenType } from './tokens.ts';

export interface VerifiedToken {
  issuer: string;
  /** The empty string for an anonymous token. */
  subject: string;
  access: Scope[];
  /** Signed by berth itself (its rules know the subject). */
  builtIn: boolean;
}

/** Why a token was refused, worded for the client; never contains the token. */
export class TokenRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRejected';
  }
}

type KeysFor = (header: JWSHeaderParameters) => Promise<CryptoKey[]>;

interface Issuer {
  issuer: string;
  audience: string;
  algorithms: string[];
  keys: KeysFor;
  builtIn: boolean;
  typ?: string;
}

/** Tokens are small; anything larger is refused before any parsing. */
const maxTokenLength = 16 * 1024;

/** A jose key set as a list of candidates: several keys may match a header without `kid`. */
function fromKeySet(set: (header: JWSHeaderParameters) => Promise<CryptoKey>): KeysFor {
  return async (header) => {
    try {
      return [await set(header)];
    } catch (e) {
      if (e instanceof errors.JWKSMultipleMatchingKeys) {
        const keys: CryptoKey[] = [];
        for await (const key of e as unknown as AsyncIterable<CryptoKey>) keys.push(key);
        return keys;
      }
      throw e;
    }
  };
}

const pemBlocks = (text: string): string[] => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/** Keys of PEM certificates: every certificate whose key fits the token's algorithm is tried. */
function fromCertificates(certs: string[]): KeysFor {
  const cache = new Map<string, Promise<CryptoKey | undefined>>();
  return async (header) => {
    const alg = header.alg ?? '';
    const keys = await Promise.all(
      certs.map((pem, i) => {
        const k = `${i}:${alg}`;
        let key = cache.get(k);
        if (!key) {
          key = importX509(pem, alg).then(
            (x) => x,
            () => undefined,
          );
          cache.set(k, key);
        }
        return key;
      }),
    );
    return keys.filter((k): k is CryptoKey => k !== undefined);
  };
}

async function externalKeys(cfg: ExternalIssuerConfig): Promise<KeysFor> {
  const sources: KeysFor[] = [];
  if (cfg.jwks !== undefined) {
    if (/^https?:\/\//.test(cfg.jwks)) {
      sources.push(fromKeySet(createRemoteJWKSet(new URL(cfg.jwks), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 })));
    } else {
      let jwks: unknown;
      try {
        jwks = JSON.parse(await readFile(cfg.jwks, 'utf8'));
      } catch (e) {
        throw new Error(`issuer ${cfg.issuer}: cannot read JWKS ${cfg.jwks}: ${e instanceof Error ? e.message : String(e)}`);
      }
      sources.push(fromKeySet(createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0])));
    }
  }
  const certs: string[] = [];
  for (const file of cfg.certificates) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new Error(`issuer ${cfg.issuer}: cannot read certificate ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const blocks = pemBlocks(text);
    if (blocks.length === 0) throw new Error(`issuer ${cfg.issuer}: ${file} holds no PEM certificate`);
    certs.push(...blocks);
  }
  if (certs.length > 0) sources.push(fromCertificates(certs));
  return async (header) => {
    const all: CryptoKey[] = [];
    for (const source of sources) {
      try {
        all.push(...(await source(header)));
      } catch (e) {
        if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      }
    }
    return all;
  };
}

function reason(e: unknown): string {
  if (e instanceof TokenRejected) return e.message;
  if (e instanceof errors.JWTExpired) return 'token expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf') return 'token not yet valid';
    if (e.claim === 'aud') return 'token is for another service';
    if (e.claim === 'iss') return 'token from another issuer';
    return `token claim "${e.claim}" is invalid`;
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (e instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (e instanceof errors.JWKSNoMatchingKey) return 'token signed by an unknown key';
  if (e instanceof errors.JWKSTimeout) return 'issuer keys unavailable';
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return 'malformed token';
  return 'invalid token';
}

export class TokenVerifier {
  readonly #service: string;
  readonly #leeway: Duration;
  readonly #logger: Logger;
  readonly #issuers = new Map<string, Issuer>();
  readonly #builtIn: Issuer | undefined;
  readonly #refresh: Issuer | undefined;

  private constructor(service: string, leeway: Duration, logger: Logger, builtIn: Issuer | undefined, refresh: Issuer | undefined) {
    this.#service = service;
    this.#leeway = leeway;
    this.#logger = logger;
    this.#builtIn = builtIn;
    this.#refresh = refresh;
    if (builtIn) this.#issuers.set(builtIn.issuer, builtIn);
  }

  static async create(opts: {
    service: string;
    leeway: Duration;
    logger: Logger;
    builtIn?: { issuer: string; key: SigningKey };
    issuers: readonly ExternalIssuerConfig[];
  }): Promise<TokenVerifier> {
    let builtIn: Issuer | undefined;
    let refresh: Issuer | undefined;
    if (opts.builtIn) {
      const { key, issuer } = opts.builtIn;
      const publicKey = (await importJWK(key.publicJwk, key.alg)) as CryptoKey;
      // Only berth's current key, found by its kid: a token naming another kid is from an unknown key.
      const keys: KeysFor = async (header) => {
        if (header.kid !== key.kid) throw new errors.JWKSNoMatchingKey();
        return [publicKey];
      };
      builtIn = { issuer, audience: opts.service, algorithms: [key.alg], keys, builtIn: true, typ: accessTokenType };
      refresh = { ...builtIn, audience: refreshAudience(opts.service), typ: refreshTokenType };
    }
    const verifier = new TokenVerifier(opts.service, opts.leeway, opts.logger, builtIn, refresh);
    for (const cfg of opts.issuers) {
      verifier.#issuers.set(cfg.issuer, {
        issuer: cfg.issuer,
        audience: cfg.audience ?? opts.service,
        algorithms: [...cfg.algorithms],
        keys: await externalKeys(cfg),
        builtIn: false,
      });
    }
    return verifier;
  }

  async #verify(token: string, pick: (iss: unknown) => Issuer | undefined): Promise<{ payload: JWTPayload; issuer: Issuer }> {
    if (token.length > maxTokenLength) throw new TokenRejected('token too large');
    let header: JWSHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new TokenRejected('malformed token');
    }
    const issuer = pick(claims.iss);
    if (!issuer) throw new TokenRejected('token from an unknown issuer');
    if (typeof header.alg !== 'string' || !issuer.algorithms.includes(header.alg)) throw new TokenRejected('token algorithm not allowed');
    const options: JWTVerifyOptions = {
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: issuer.algorithms,
      clockTolerance: toSeconds(this.#leeway),
      requiredClaims: ['exp'],
      ...(issuer.typ === undefined ? {} : { typ: issuer.typ }),
    };
    try {
      const keys = await issuer.keys(header);
      if (keys.length === 0) throw new errors.JWKSNoMatchingKey();
      let failure: unknown;
      for (const key of keys) {
        try {
          const { payload } = await jwtVerify(token, key, options);
          return { payload, issuer };
        } catch (e) {
          if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
          failure = e;
        }
      }
      throw failure;
    } catch (e) {
      if (!issuer.builtIn && !(e instanceof errors.JOSEError)) {
        this.#logger.warn('external issuer keys unavailable', { issuer: issuer.issuer, error: e instanceof Error ? e.message : String(e) });
      }
      throw new TokenRejected(reason(e));
    }
  }

  /** An access token's issuer, subject and granted scopes; throws TokenRejected. */
  async verifyAccess(token: string): Promise<VerifiedToken> {
    const { payload, issuer } = await this.#verify(token, (iss) => (typeof iss === 'string' ? this.#issuers.get(iss) : undefined));
    return {
      issuer: issuer.issuer,
      subject: typeof payload.sub === 'string' ? payload.sub : '',
      access: parseAccessClaim(payload.access),
      builtIn: issuer.builtIn,
    };
  }

  /** A refresh token berth issued: its subject and password epoch; throws TokenRejected. */
  async verifyRefresh(token: string): Promise<{ subject: string; passwordEpoch: string }> {
    const refresh = this.#refresh;
    const { payload } = await this.#verify(token, (iss) => (refresh && iss === refresh.issuer ? refresh : undefined));
    if (typeof payload.sub !== 'string' || payload.sub === '' || typeof payload.pwe !== 'string') throw new TokenRejected('malformed refresh token');
    return { subject: payload.sub, passwordEpoch: payload.pwe };
  }

  get service(): string {
    return this.#service;
  }
}
