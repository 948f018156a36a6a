/**
 * What an operator watches: /metrics families moving under traffic, one log line per request with
 * no secret in it, /readyz failing when storage is gone, upload purge and in-server gc.
 */
import { request } from 'node:http';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../support/http.ts';
import { blob, digestOf, pushBlob, pushImage, repoName } from '../support/oci.ts';
import { freePort } from '../support/net.ts';
import { startServer, type TestServer } from '../support/server.ts';

const servers: TestServer[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(config: string, args: string[] = []): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-ops-'));
  dirs.push(dir);
  const file = join(dir, 'config.yml');
  await writeFile(file, config);
  const server = await startServer({ args: ['--config', file, ...args] });
  servers.push(server);
  return server;
}

/** The value of one sample of the Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

const scrape = async (url: string, token?: string): Promise<string> =>
  (await fetch(`${url}/metrics`, token ? { headers: { Authorization: `Bearer ${token}` } } : {})).text();

describe('metrics and request logs', () => {
  let server: TestServer;
  let client: Client;
  beforeAll(async () => {
    server = await startServer();
    servers.push(server);
    client = new Client(server.url);
  });

  it('moves the HTTP, bytes and storage families under traffic', async () => {
    const before = await scrape(server.url);
    const repo = repoName('metrics');
    const image = await pushImage(client, repo, 'v1');
    expect((await client.get(`/v2/${repo}/manifests/v1`)).status).toBe(200);
    const after = await scrape(server.url);
    const manifestGets = { route: '/v2/<name>/manifests/<reference>', method: 'GET', status: '200' };
    expect(sample(after, 'berth_http_requests_total', manifestGets)).toBe(sample(before, 'berth_http_requests_total', manifestGets) + 1);
    expect(sample(after, 'berth_http_request_duration_seconds_count', { route: '/v2/<name>/manifests/<reference>', method: 'PUT' })).toBeGreaterThan(0);
    expect(sample(after, 'berth_http_received_bytes_total', { route: '/v2/<name>/manifests/<reference>' })).toBeGreaterThanOrEqual(image.bytes.length);
    expect(sample(after, 'berth_http_sent_bytes_total', { route: '/v2/<name>/manifests/<reference>' })).toBeGreaterThanOrEqual(image.bytes.length);
    expect(sample(after, 'berth_storage_operation_duration_seconds_count', { driver: 'fs', operation: 'put' })).toBeGreaterThan(
      sample(before, 'berth_storage_operation_duration_seconds_count', { driver: 'fs', operation: 'put' }),
    );
    expect(after).toContain('# TYPE berth_gc_runs_total counter');
  });

  it('counts an upload in flight while its body is arriving', async () => {
    const repo = repoName('inflight');
    const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
    const location = new URL(started.header('Location') ?? '', server.url);
    const patch = request(location, { method: 'PATCH', headers: { 'Content-Length': '2048', 'Content-Type': 'application/octet-stream' } });
    const done = new Promise((ok) => patch.on('response', (r) => (r.resume(), r.on('end', ok))));
    patch.write(Buffer.alloc(1024));
    await new Promise((r) => setTimeout(r, 300));
    expect(sample(await scrape(server.url), 'berth_uploads_in_flight')).toBe(1);
    patch.end(Buffer.alloc(1024));
    await done;
    expect(sample(await scrape(server.url), 'berth_uploads_in_flight')).toBe(0);
  });

  it('counts storage errors and answers them without crashing', async () => {
    const repo = repoName('broken');
    await pushImage(client, repo, 'v1');
    // A symlink loop where the tag's file should be: every read of it fails in the driver (ELOOP).
    await rm(join(server.dataDir, 'repositories', repo, '_tags', 'v1'));
    await symlink('v1', join(server.dataDir, 'repositories', repo, '_tags', 'v1'));
    const res = await client.get(`/v2/${repo}/manifests/v1`);
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({ errors: [{ code: 'UNKNOWN', message: 'storage failed' }] });
    expect(sample(await scrape(server.url), 'berth_storage_errors_total', { driver: 'fs', operation: 'get' })).toBeGreaterThan(0);
    expect((await client.get('/v2/')).status).toBe(200);
  });

  it('logs one JSON line per request with route, status, bytes, repository — and no query or header', async () => {
    const repo = repoName('logs');
    const digest = await pushBlob(client, repo, blob(333));
    await client.request('GET', `/v2/${repo}/blobs/${digest}?secret=hunter2`, { headers: { Authorization: 'Bearer sekrit-token' } });
    await new Promise((r) => setTimeout(r, 200));
    const lines = server
      .logs()
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const get = lines.find((l) => l.method === 'GET' && l.repository === repo);
    expect(get).toMatchObject({ path: `/v2/${repo}/blobs/${digest}`, route: '/v2/<name>/blobs/<digest>', status: 200, bytesOut: 333 });
    expect(typeof get?.ms).toBe('number');
    expect(server.logs()).not.toContain('hunter2');
    expect(server.logs()).not.toContain('sekrit-token');
  });
});

describe('metrics on their own address, behind a token', () => {
  it('serves /metrics only there and only with the token', async () => {
    const port = await freePort();
    const token = 'metrics-token-0123456789';
    const server = await start(`metrics:\n  listen: 127.0.0.1:${port}\n  token: ${token}\n`);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    const metricsUrl = `http://127.0.0.1:${port}`;
    expect((await fetch(`${metricsUrl}/metrics`)).status).toBe(401);
    expect(await scrape(metricsUrl, token)).toContain('berth_http_requests_total');
  });
});

describe('health', () => {
  it('/healthz answers while /readyz fails once storage is gone, and recovers', async () => {
    const server = await startServer();
    servers.push(server);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    await rm(server.dataDir, { recursive: true, force: true });
    await writeFile(server.dataDir, 'not a directory');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/not ready/);
    await rm(server.dataDir);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});

describe('maintenance', () => {
  it('purges stale upload sessions at start and counts them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-purge-'));
    dirs.push(dir);
    const first = await startServer({ dataDir: dir });
    const client = new Client(first.url);
    const started = await client.request('POST', `/v2/${repoName('purge')}/blobs/uploads/`);
    const location = started.header('Location') ?? '';
    await first.stop();
    await new Promise((r) => setTimeout(r, 1100));
    const config = join(dir, '..', `${repoName('purge')}.yml`);
    await writeFile(config, 'uploads:\n  purgeAfter: 1s\n');
    const second = await startServer({ dataDir: dir, args: ['--config', config] });
    servers.push(second);
    await new Promise((r) => setTimeout(r, 300));
    expect((await new Client(second.url).get(location)).status).toBe(404);
    expect(sample(await scrape(second.url), 'berth_uploads_purged_total')).toBe(1);
    await rm(config, { force: true });
  });

  it('runs gc inside the server when gc.interval is set, reclaiming unreferenced bytes', async () => {
    const server = await start('gc:\n  interval: 1s\n  grace: 0s\n');
    const client = new Client(server.url);
    const bytes = blob(5000);
    await pushBlob(client, repoName('orphan'), bytes);
    const deadline = Date.now() + 10_000;
    let text = '';
    while (Date.now() < deadline) {
      text = await scrape(server.url);
      if (sample(text, 'berth_gc_reclaimed_bytes_total') >= bytes.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(sample(text, 'berth_gc_runs_total')).toBeGreaterThan(0);
    expect(sample(text, 'berth_gc_reclaimed_bytes_total')).toBeGreaterThanOrEqual(bytes.length);
    expect(digestOf(bytes)).toMatch(/^sha256:/);
  });
});
