/**
 * A chunked upload as docker and containerd do it, run as its own process pinned to the client
 * core: `node patch-client.js URL REPO FILE DIGEST CHUNK_BYTES`. POST opens a session, then one
 * PATCH per chunk (Content-Range, each streamed from the file) follows the returned Location,
 * then a PUT with the digest closes it. Prints the seconds from the POST to the PUT's 201.
 */
import { createReadStream, statSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';

const [base, repo, file, digest, chunkArg] = process.argv.slice(2) as [string, string, string, string, string];
const chunk = Number(chunkArg);
const size = statSync(file).size;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function call(method: string, url: string, headers: Record<string, string>, body?: { start: number; end: number }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) createReadStream(file, { start: body.start, end: body.end, highWaterMark: 1 << 20 }).pipe(req);
    else req.end();
  });
}

function expect(res: IncomingMessage, status: number, what: string): string {
  if (res.statusCode !== status) throw new Error(`${what}: expected ${status}, got ${res.statusCode}`);
  return new URL(String(res.headers.location ?? ''), base).toString();
}

const started = performance.now();
let location = expect(await call('POST', `${base}/v2/${repo}/blobs/uploads/`, { 'Content-Length': '0' }), 202, 'POST');
for (let start = 0; start < size; start += chunk) {
  const end = Math.min(start + chunk, size) - 1;
  const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(end - start + 1), 'Content-Range': `${start}-${end}` };
  location = expect(await call('PATCH', location, headers, { start, end }), 202, `PATCH at ${start}`);
}
const put = new URL(location);
put.searchParams.set('digest', digest);
expect(await call('PUT', put.toString(), { 'Content-Length': '0' }), 201, 'PUT');
process.stdout.write(`${JSON.stringify({ seconds: (performance.now() - started) / 1000 })}\n`);
agent.destroy();
