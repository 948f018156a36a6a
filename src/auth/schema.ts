import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { fileOrUrl, filePath } from '../config/path.ts';
import { repositoryPattern } from '../config/patterns.ts';

/** Basic credentials split at the first colon, so a user name cannot hold one. */
const userName = z.string().regex(/^[^:\s]{1,128}$/, 'must be 1-128 characters without ":" or spaces');

// bcrypt's modular crypt format; `$2y$` is what Apache's htpasswd writes, the same algorithm as 2a/2b.
const bcryptRe = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
export const bcryptHash = z
  .string()
  .regex(bcryptRe, 'must be a bcrypt hash ($2y$...), not a plain password: make one with `berth htpasswd NAME`');

export const isBcryptHash = (s: string): boolean => bcryptRe.test(s);


/** Asymmetric algorithms only: an HMAC secret or `none` can never be configured. */
export const verifyAlgorithms = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;
export const signingAlgorithms = ['ES256', 'ES384', 'RS256'] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

const rule = z
  .object({
    users: z.array(userName).default([]).describe('User names the rule applies to.'),
    groups: z.array(z.string().min(1)).default([]).describe('Groups (of `auth.groups`) the rule applies to.'),
    anonymous: z.boolean().default(false).describe('Also without credentials; and so to everyone, since signing in never takes rights away.'),
    authenticated: z.boolean().default(false).describe('Every signed-in user.'),
    repositories: z.array(repositoryPattern).default([]),
    actions: z.array(z.enum(['pull', 'push', 'delete'])).default([]).describe('`push` includes `pull`: a client pushing reads too (distribution asks for `pull,push`).'),
    catalog: z.boolean().default(false).describe('May list repositories (`registry:catalog:*`); the listing shows only what the caller may pull.'),
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
    issuer: z.string().min(1).describe('The `iss` claim of its tokens.'),
    jwks: fileOrUrl.optional().describe('Its keys: an http(s) URL of a JWKS, or a JWKS file.'),
    certificates: z.array(filePath).default([]).describe('Or PEM certificate files (a file may hold a bundle).'),
    audience: z.string().min(1).optional().describe('The `aud` its tokens must carry; `auth.token.service` by default.'),
    algorithms: z.array(z.enum(verifyAlgorithms)).min(1).default(['ES256', 'RS256']),
  })
  .strict()
  .refine((i) => i.jwks !== undefined || i.certificates.length > 0, { message: 'an issuer needs jwks or certificates' });

export type ExternalIssuerConfig = z.output<typeof externalIssuer>;

export const authSchema = z
  .object({
    mode: z.enum(['none', 'basic', 'token']).default('none').describe('`none`: open registry. `basic`: HTTP Basic against the users. `token`: Bearer JWTs.'),
    users: z.record(userName, z.object({ password: bcryptHash }).strict()).default({}).describe('Users with bcrypt password hashes; these win over the htpasswd file\'s.'),
    htpasswd: filePath.optional().describe('An htpasswd file of bcrypt entries (`htpasswd -B`), re-read when it changes.'),
    groups: z.record(z.string().min(1), z.array(userName)).default({}).describe('Group name → member user names.'),
    rules: z.array(rule).default([]).describe('Who may do what; anything no rule allows is denied.'),
    basic: z
      .object({ realm: z.string().regex(/^[^"\\\r\n]{1,100}$/, 'no quotes or backslashes').default('berth') })
      .strict()
      .prefault({}),
    token: z
      .object({
        service: z.string().regex(/^[^"\\\s]{1,200}$/, 'no quotes, backslashes or spaces').default('berth').describe('The `service` of challenges and the `aud` of tokens.'),
        issuer: z.string().min(1).default('berth').describe('The `iss` of tokens berth signs.'),
        realm: z.url({ protocol: /^https?$/ }).optional().describe('Where clients fetch tokens; derived from each request\'s Host / X-Forwarded-* when unset.'),
        lifetime: duration.prefault('5m').describe('Lifetime of an access token.'),
        refreshLifetime: duration.prefault('30d').describe('Lifetime of a refresh token (`offline_token=true`, `access_type=offline`).'),
        leeway: duration.prefault('30s').describe('Clock skew allowed on `exp` / `nbf`.'),
        algorithm: z.enum(signingAlgorithms).optional().describe('Signing algorithm; a key file decides by itself, ES256 for a generated key.'),
        key: filePath.optional().describe('A private key file (PEM or JWK); generated into the data directory when unset.'),
        issuers: z.array(externalIssuer).default([]).describe('Other issuers whose tokens berth accepts.'),
      })
      .strict()
      .prefault({}),
    throttle: z
      .object({
        attempts: z.number().int().min(1).default(5).describe('Failed logins allowed per user before each further try must wait.'),
        addressAttempts: z.number().int().min(1).default(20).describe('Failed logins allowed per client address before the same.'),
        delay: duration.prefault('1s').describe('The first wait; it doubles with every further failure.'),
        maxDelay: duration.prefault('15m').describe('The longest wait; a quiet period this long forgets the failures.'),
        trustForwardedFor: z.boolean().default(false).describe('Take the client address from X-Forwarded-For (set this only behind a proxy that sets it).'),
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
