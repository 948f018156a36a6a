/** Helpers for the access-control tests: configs with users, tokens by hand, authorised requests. */
import bcrypt from 'bcryptjs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startServer, type StartOptions, type TestServer } from './server.ts';

/** bcrypt at the lowest cost: the tests check logic, not hashing speed. */
export const hashPassword = (password: string): string => bcrypt.hashSync(password, 4);

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
export const bearer = (token: string): string => `Bearer ${token}`;

export interface AuthServer extends TestServer {
  /** The directory holding the config (and any key files the test wrote there). */
  configDir: string;
}

/**
 * Starts berth with `config` (an object written as YAML, or made from the config directory so it can
 * name files there); `files` are written into that directory first, mode 0600.
 */
export async function startWithConfig(config: unknown, opts: StartOptions & { files?: Record<string, string> } = {}): Promise<AuthServer> {
  const configDir = await mkdtemp(join(tmpdir(), 'berth-auth-'));
  for (const [name, text] of Object.entries(opts.files ?? {})) await writeFile(join(configDir, name), text, { mode: 0o600 });
  const file = join(configDir, 'berth.yaml');
  await writeFile(file, stringify(typeof config === 'function' ? (config as (dir: string) => unknown)(configDir) : config));
  const { files: _files, ...start } = opts;
  const server = await startServer({ ...start, args: ['--config', file, ...(start.args ?? [])] });
  return {
    ...server,
    configDir,
    async stop(signal) {
      await server.stop(signal);
      await rm(configDir, { recursive: true, force: true });
    },
  };
}

export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
  scope?: string;
}

/** GET /token by hand: `scopes` as separate `scope` parameters, credentials as Basic. */
export async function getToken(
  base: string,
  opts: { user?: string; password?: string; scopes?: string[]; service?: string; offline?: boolean } = {},
): Promise<{ status: number; body: TokenResponse & { errors?: Array<{ code: string }> }; headers: Headers }> {
  const url = new URL('/token', base);
  url.searchParams.set('service', opts.service ?? 'berth');
  for (const s of opts.scopes ?? []) url.searchParams.append('scope', s);
  if (opts.offline) url.searchParams.set('offline_token', 'true');
  const headers: Record<string, string> = {};
  if (opts.user !== undefined) headers.Authorization = basic(opts.user, opts.password ?? '');
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as TokenResponse, headers: res.headers };
}

/** A token's payload, unverified (tests look at what the server put in it). */
export function claimsOf(token: string): Record<string, unknown> {
  const [, payload = ''] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The parameters of a `WWW-Authenticate: Bearer …` or `Basic …` challenge. */
export function parseChallenge(header: string | null | undefined): { scheme: string; params: Record<string, string> } {
  const m = /^(\w+)\s+(.*)$/.exec(header ?? '');
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) params[p[1] ?? ''] = (p[2] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m?.[1] ?? '', params };
}

/** The spec's error envelope's first code, or undefined. */
export async function errorCodeOf(res: Response): Promise<string | undefined> {
  const body = (await res.json().catch(() => undefined)) as { errors?: Array<{ code?: string }> } | undefined;
  return body?.errors?.[0]?.code;
}

const sha256 = async (bytes: Uint8Array): Promise<string> => {
  const { createHash } = await import('node:crypto');
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
};

/** A request with an Authorization header (or none). */
export function send(base: string, method: string, path: string, authorization?: string, init: { body?: Uint8Array | string; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (authorization !== undefined) headers.Authorization = authorization;
  // A copy backed by a plain ArrayBuffer, which is what fetch's BodyInit accepts.
  const body = typeof init.body === 'string' || init.body === undefined ? init.body : new Uint8Array(init.body);
  return fetch(new URL(path, base), { method, headers, ...(body === undefined ? {} : { body }), redirect: 'manual' });
}

/** A monolithic blob push; returns the response (201 when it worked). */
export async function pushBlob(base: string, repo: string, bytes: Uint8Array, authorization?: string): Promise<{ res: Response; digest: string }> {
  const digest = await sha256(bytes);
  const res = await send(base, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, authorization, {
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  await res.arrayBuffer();
  return { res, digest };
}

/** Pushes a config, one layer and a manifest tagged `tag`; every step must succeed. */
export async function pushImage(base: string, repo: string, tag: string, authorization?: string): Promise<{ manifest: string; layer: string }> {
  const { randomBytes } = await import('node:crypto');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(2048);
  const pushed = [await pushBlob(base, repo, config, authorization), await pushBlob(base, repo, layer, authorization)];
  for (const p of pushed) if (p.res.status !== 201) throw new Error(`blob push to ${repo} → ${p.res.status}`);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: pushed[0]?.digest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: pushed[1]?.digest, size: layer.length }],
    }),
  );
  const res = await send(base, 'PUT', `/v2/${repo}/manifests/${tag}`, authorization, {
    body: manifest,
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 201) throw new Error(`manifest push to ${repo} → ${res.status} ${await res.text()}`);
  return { manifest: await sha256(manifest), layer: pushed[1]?.digest ?? '' };
}

/** Passwords of the two users of `clientConfig`. */
export const clientUsers = { pusher: 'push-pw', reader: 'read-pw' } as const;

/**
 * Token mode for the real-client tests: `pusher` may push (and so pull) `repositories`, `reader`
 * may only pull them; `extra` rules are appended.
 */
export function clientConfig(repositories: string[], extra: unknown[] = []): unknown {
  return {
    auth: {
      mode: 'token',
      users: { pusher: { password: hashPassword(clientUsers.pusher) }, reader: { password: hashPassword(clientUsers.reader) } },
      rules: [
        { users: ['pusher'], repositories, actions: ['push'] },
        { users: ['reader'], repositories, actions: ['pull'] },
        ...extra,
      ],
    },
  };
}

/** Whether a command-line tool is installed (it answers `--version`). */
export async function hasTool(name: string): Promise<boolean> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => execFile(name, ['--version'], (error) => resolve(error === null)));
}
