/**
 * Graceful shutdown: on SIGTERM the server stops taking connections but lets a request already in
 * flight (here, a PATCH whose body is still arriving) finish, then exits 0, and the chunk is there.
 */
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.ts';

const servers: TestServer[] = [];
let dataDir = '';

afterAll(async () => {
  for (const s of servers) await s.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('SIGTERM', () => {
  it('finishes the request in flight, refuses new connections, exits 0 and keeps the chunk', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'berth-shutdown-'));
    const server = await startServer({ dataDir });
    servers.push(server);
    const started = await fetch(`${server.url}/v2/shutdown/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('Location') ?? '', server.url);

    const half = Buffer.alloc(256 * 1024, 1);
    const patch = request(location, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(half.length * 2), 'Content-Range': `0-${half.length * 2 - 1}` },
    });
    const response = once(patch, 'response') as Promise<[IncomingMessage]>;
    patch.write(half);
    await new Promise((r) => setTimeout(r, 300));

    const exited = once(server.process, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    server.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    // Not taking new work while the old request is still open: the connection is refused (Node,
    // Bun) or answered 503 UNAVAILABLE (Deno, which cannot stop listening without cutting off bodies).
    const late = await fetch(`${server.url}/v2/`).then((r) => r.status, () => 'refused');
    expect(['refused', 503]).toContain(late);

    patch.end(half);
    const [res] = await response;
    res.resume();
    expect(res.statusCode).toBe(202);
    expect(res.headers.range).toBe(`0-${half.length * 2 - 1}`);
    const [code] = await exited;
    expect(code).toBe(0);

    const again = await startServer({ dataDir });
    servers.push(again);
    const status = await fetch(new URL(location.pathname, again.url));
    expect(status.status).toBe(204);
    expect(status.headers.get('Range')).toBe(`0-${half.length * 2 - 1}`);
  });
});
