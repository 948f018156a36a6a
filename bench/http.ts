import { Agent, request, type IncomingHttpHeaders } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request with node:http, streaming an iterable body with backpressure. */
export function send(method: string, url: string, headers: Record<string, string> = {}, body?: Iterable<Buffer> | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) return void req.end();
    if (Buffer.isBuffer(body)) return void req.end(body);
    const it = body[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        const next = it.next();
        if (next.done) return void req.end();
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

export function expectStatus(reply: Reply, status: number, what: string): Reply {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status}: ${reply.body.toString().slice(0, 300)}`);
  return reply;
}

/** Resolves a `Location` header against the registry's base URL. */
export const locate = (base: string, reply: Reply): string => new URL(String(reply.headers.location), base).toString();

/** Pushes a small blob the way every registry accepts: POST for a session, then PUT with the digest. */
export async function pushSmallBlob(base: string, repo: string, bytes: Buffer, digest: string): Promise<void> {
  const session = expectStatus(await send('POST', `${base}/v2/${repo}/blobs/uploads/`), 202, 'POST upload');
  const url = new URL(locate(base, session));
  url.searchParams.set('digest', digest);
  expectStatus(await send('PUT', url.toString(), { 'Content-Length': String(bytes.length) }, bytes), 201, 'PUT upload');
}
