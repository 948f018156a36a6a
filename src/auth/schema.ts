import { z } from 'zod';

/** Seconds, as a number or with a unit: 300, "5m", "30s", "12h", "30d", "500ms". */
export const duration = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(/^\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)$/, 'must be seconds or a duration like "500ms", "30s", "5m", "12h", "30d"')
    .transform(parseDuration),
]);

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(s);
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  return Number(m?.[1]) * (unit[m?.[2] ?? 's'] ?? 1);
}

/** Basic credentials split at the first colon, so a user name cannot hold one. */
const userName = z.string().regex(/^[^:\s]{1,128}$/, 'must be 1-128 characters without ":" or spaces');

// bcrypt's modular crypt format; `$2y$` is what Apache's htpasswd writes, the same algorithm as 2a/2b.
const bcryptRe = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
export const bcryptHash = z
  .string()
  .regex(bcryptRe, 'must be a bcrypt hash ($2y$...), not a plain password: make one with `berth htpasswd NAME`');

export const isBcryptHash = (s: string): boolean => bcryptRe.test(s);

/** Repository patterns: `*` stays inside one path component, `**` crosses them, `?` is one character. */
const repositoryPattern = z.string().regex(/^[a-z0-9._\-/*?]{1,255}$/, 'must be a repository name pattern like "team/*" or "public/**"');

/** Asymmetric algorithms only: an HMAC secret or `none` can never be configured. */
export const verifyAlgorithms = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;
export const signingAlgorithms = ['ES256', 'ES384', 'RS256'] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

const rule = z
  .object({
    /** User names the rule applies to. */
    users: z.array(userName).default([]),
    /** Groups (of `auth.groups`) the rule applies to. */
    groups: z.array(z.string().min(1)).default([]),
    /** Also without credentials; and so to everyone, since signing in never takes rights away. */
    anonymous: z.boolean().default(false),
    /** Every signed-in user. */
    authenticated: z.boolean().default(false),
    repositories: z.array(repositoryPattern).default([]),
    /** `push` includes `pull`: a client pushing reads too (distribution asks for `pull,push`). */
    actions: z.array(z.enum(['pull', 'push', 'delete'])).default([]),
    /** May list repositories (`registry:catalog:*`); the listing shows only what the caller may pull. */
    catalog: z.boolean().default(false),
  })
  .strict()
  .refine((r) => r.users.length > 0 || r.groups.length > 0 || r.anonymous || r.authenticated, {
    message: 'a rule must name users, groups, anonymous: true or authenticated: true',
  })
  .refine((r) => r.catalog || (r.repositories.length > 0 && r.actions.length > 0), {
    message: 'a rule must give actions on repositories, or catalog: true',
  });

export type RuleConfig = z.output<typeof rule>;

const externalIssuer = z
  .object({
    /** The `iss` claim of its tokens. */
    issuer: z.string().min(1),
    /** Its keys: an http(s) URL of a JWKS, or a JWKS file. */
    jwks: z.string().min(1).optional(),
    /** Or PEM certificate files (a file may hold a bundle). */
    certificates: z.array(z.string().min(1)).default([]),
    /** The `aud` its tokens must carry; `auth.token.service` by default. */
    audience: z.string().min(1).optional(),
    algorithms: z.array(z.enum(verifyAlgorithms)).min(1).default(['ES256', 'RS256']),
  })
  .strict()
  .refine((i) => i.jwks !== undefined || i.certificates.length > 0, { message: 'an issuer needs jwks or certificates' });

export type ExternalIssuerConfig = z.output<typeof externalIssuer>;

export const authSchema = z
  .object({
    /** `none`: open registry. `basic`: HTTP Basic against the users. `token`: Bearer JWTs. */
    mode: z.enum(['none', 'basic', 'token']).default('none'),
    /** Users with bcrypt password hashes; these win over the htpasswd file's. */
    users: z.record(userName, z.object({ password: bcryptHash }).strict()).default({}),
    /** An htpasswd file of bcrypt entries (`htpasswd -B`), re-read when it changes. */
    htpasswd: z.string().min(1).optional(),
    /** Group name → member user names. */
    groups: z.record(z.string().min(1), z.array(userName)).default({}),
    /** Who may do what; anything no rule allows is denied. */
    rules: z.array(rule).default([]),
    basic: z
      .object({ realm: z.string().regex(/^[^"\\\r\n]{1,100}$/, 'no quotes or backslashes').default('berth') })
      .strict()
      .prefault({}),
    token: z
      .object({
        /** The `service` of challenges and the `aud` of tokens. */
        service: z.string().regex(/^[^"\\\s]{1,200}$/, 'no quotes, backslashes or spaces').default('berth'),
        /** The `iss` of tokens berth signs. */
        issuer: z.string().min(1).default('berth'),
        /** Where clients fetch tokens; derived from each request's Host / X-Forwarded-* when unset. */
        realm: z.url({ protocol: /^https?$/ }).optional(),
        /** Lifetime of an access token, seconds or a duration ("5m"). */
        lifetime: duration.default(300),
        /** Lifetime of a refresh token (`offline_token=true`, `access_type=offline`). */
        refreshLifetime: duration.default(30 * 86400),
        /** Clock skew allowed on `exp` / `nbf`. */
        leeway: duration.default(30),
        /** Signing algorithm; a key file decides by itself, ES256 for a generated key. */
        algorithm: z.enum(signingAlgorithms).optional(),
        /** A private key file (PEM or JWK); generated into the data directory when unset. */
        key: z.string().min(1).optional(),
        /** Other issuers whose tokens berth accepts. */
        issuers: z.array(externalIssuer).default([]),
      })
      .strict()
      .prefault({}),
    throttle: z
      .object({
        /** Failed logins allowed per user before each further try must wait. */
        attempts: z.number().int().min(1).default(5),
        /** Failed logins allowed per client address before the same. */
        addressAttempts: z.number().int().min(1).default(20),
        /** The first wait; it doubles with every further failure. */
        delay: duration.default(1),
        /** The longest wait; a quiet period this long forgets the failures. */
        maxDelay: duration.default(900),
        /** Take the client address from X-Forwarded-For (set this only behind a proxy that sets it). */
        trustForwardedFor: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((auth, ctx) => {
    for (const [i, r] of auth.rules.entries()) {
      for (const g of r.groups) {
        if (!(g in auth.groups)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'groups'], message: `group "${g}" is not defined in auth.groups` });
      }
    }
    if (auth.mode === 'basic' && Object.keys(auth.users).length === 0 && auth.htpasswd === undefined) {
      ctx.addIssue({ code: 'custom', path: ['users'], message: 'basic mode needs users or an htpasswd file' });
    }
    for (const [i, issuer] of auth.token.issuers.entries()) {
      if (issuer.issuer === auth.token.issuer) {
        ctx.addIssue({ code: 'custom', path: ['token', 'issuers', i, 'issuer'], message: 'must differ from auth.token.issuer' });
      }
    }
  });

export type AuthConfig = z.output<typeof authSchema>;
