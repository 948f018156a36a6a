/**
 * For the web UI's tests: registry content worth looking at (a two-platform index with a signature
 * and an SBOM, layers, hostile annotations), and a headless Chromium driven by playwright-core.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { send } from './auth.ts';

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc));

export const types = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
  cosign: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  spdx: 'application/spdx+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  artifactType?: string;
}

async function blob(url: string, repo: string, bytes: Uint8Array, auth: string | undefined, mediaType: string): Promise<Descriptor> {
  const digest = sha256(bytes);
  const res = await send(url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, auth, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`blob push to ${repo}: ${res.status}`);
  return { mediaType, digest, size: bytes.byteLength };
}

async function manifest(url: string, repo: string, reference: string, bytes: Buffer, mediaType: string, auth: string | undefined): Promise<Descriptor> {
  const res = await send(url, 'PUT', `/v2/${repo}/manifests/${reference}`, auth, { body: bytes, headers: { 'Content-Type': mediaType } });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest push to ${repo}:${reference}: ${res.status} ${text}`);
  return { mediaType, digest: sha256(bytes), size: bytes.byteLength };
}

/** An image for one platform: a config and `layers` random layers; returns its descriptor. */
export async function pushImage(
  url: string,
  repo: string,
  opts: { tag?: string; os?: string; architecture?: string; layers?: number; annotations?: Record<string, string>; labels?: Record<string, string>; auth?: string } = {},
): Promise<Descriptor & { layers: Descriptor[]; config: Descriptor }> {
  const { os = 'linux', architecture = 'amd64', auth } = opts;
  const config = await blob(
    url,
    repo,
    json({ architecture, os, created: '2026-11-30T12:00:00Z', config: { Entrypoint: ['/app'], Cmd: ['--serve'], Env: ['PATH=/usr/bin'], Labels: opts.labels ?? {} }, rootfs: { type: 'layers', diff_ids: [] }, history: [{ created_by: 'COPY app /app' }] }),
    auth,
    types.config,
  );
  const layers: Descriptor[] = [];
  for (let i = 0; i < (opts.layers ?? 2); i++) layers.push(await blob(url, repo, randomBytes(1500 + i * 700), auth, types.layer));
  const doc = { schemaVersion: 2, mediaType: types.manifest, config, layers, ...(opts.annotations ? { annotations: opts.annotations } : {}) };
  const pushed = await manifest(url, repo, opts.tag ?? sha256(json(doc)), json(doc), types.manifest, auth);
  return { ...pushed, platform: { os, architecture }, layers, config };
}

/** An artifact (a signature, an SBOM) whose subject is `subject`. */
export async function pushReferrer(url: string, repo: string, subject: Descriptor, artifactType: string, annotations: Record<string, string>, auth?: string): Promise<Descriptor> {
  const empty = await blob(url, repo, Buffer.from('{}'), auth, types.empty);
  const payload = await blob(url, repo, json({ artifactType, note: 'test payload' }), auth, artifactType);
  const doc = {
    schemaVersion: 2,
    mediaType: types.manifest,
    artifactType,
    config: empty,
    layers: [payload],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  const bytes = json(doc);
  return { ...(await manifest(url, repo, sha256(bytes), bytes, types.manifest, auth)), artifactType };
}

export interface Sample {
  index: Descriptor;
  amd64: Descriptor & { layers: Descriptor[] };
  arm64: Descriptor & { layers: Descriptor[] };
  signature: Descriptor;
  sbom: Descriptor;
}

/** A two-platform index tagged `tag`, signed, with an SBOM (itself signed). */
export async function pushSample(url: string, repo: string, tag: string, extra: { annotations?: Record<string, string>; auth?: string } = {}): Promise<Sample> {
  const { auth } = extra;
  const amd64 = await pushImage(url, repo, { architecture: 'amd64', layers: 3, ...(auth ? { auth } : {}) });
  const arm64 = await pushImage(url, repo, { architecture: 'arm64', layers: 2, ...(auth ? { auth } : {}) });
  const doc = {
    schemaVersion: 2,
    mediaType: types.index,
    manifests: [amd64, arm64].map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform })),
    annotations: { 'org.opencontainers.image.source': 'https://example.com/app', ...extra.annotations },
  };
  const index = await manifest(url, repo, tag, json(doc), types.index, auth);
  const signature = await pushReferrer(url, repo, index, types.cosign, { 'dev.cosignproject.cosign/signature': 'MEUCIQ…' }, auth);
  const sbom = await pushReferrer(url, repo, index, types.spdx, { 'org.opencontainers.image.created': '2026-11-30T12:00:00Z' }, auth);
  await pushReferrer(url, repo, sbom, types.cosign, {}, auth);
  return { index, amd64, arm64, signature, sbom };
}

/** Where tests put screenshots: test-results/ui/<runtime>/ (gitignored). */
export async function artefactDir(runtime: string): Promise<string> {
  let root = import.meta.dirname;
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  const dir = join(root, 'test-results', 'ui', runtime);
  await mkdir(dir, { recursive: true });
  return dir;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Debian's Chromium, headless, on a fresh profile. Without the background-networking flags it
 * tries to reach Google's services at start, and those connections are refused on CI machines.
 */
export async function launchBrowser(opts: { javaScript?: boolean } = {}): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'berth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 800 },
    javaScriptEnabled: opts.javaScript ?? true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export const hasChromium = (): boolean => existsSync(process.env.CHROMIUM ?? '/usr/bin/chromium');

/** A browser-like HTTP client for the UI: keeps the session cookie, reads forms' CSRF tokens. */
export class UiClient {
  readonly base: string;
  cookie: string | undefined;
  /** The Set-Cookie header of the last response that sent one. */
  lastSetCookie: string | undefined;

  constructor(base: string) {
    this.base = base;
  }

  async request(method: string, path: string, init: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookie) headers.Cookie = this.cookie;
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers.Origin ??= new URL(this.base).origin;
    }
    const res = await fetch(new URL(path, this.base), { method, headers, redirect: 'manual', ...(body === undefined ? {} : { body }) });
    const set = res.headers.get('set-cookie');
    if (set) {
      this.lastSetCookie = set;
      const value = /^berth_session=([^;]*)/.exec(set)?.[1];
      this.cookie = value ? `berth_session=${value}` : undefined;
    }
    return res;
  }

  get = (path: string, headers?: Record<string, string>): Promise<Response> => this.request('GET', path, headers ? { headers } : {});

  /** GETs a page and returns its HTML. */
  async page(path: string): Promise<{ status: number; html: string; res: Response }> {
    const res = await this.get(path);
    return { status: res.status, html: await res.text(), res };
  }

  /** The CSRF token of a page's forms. */
  async csrf(path: string): Promise<string> {
    const { html } = await this.page(path);
    const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (!token) throw new Error(`no CSRF token on ${path}: ${html.slice(0, 300)}`);
    return token;
  }

  async signIn(user: string, password: string): Promise<Response> {
    const csrf = await this.csrf('/ui/login');
    return this.request('POST', '/ui/login', { form: { csrf, user, password, next: '/ui/' } });
  }
}
