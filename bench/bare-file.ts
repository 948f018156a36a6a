/**
 * The ceiling for berth's blob GET on a runtime: a bare server with no framework, no routing and
 * no registry that sends one file the same way berth's fast path on that runtime does
 * (runtimes/*.ts): Node pipes `fs.createReadStream` with 1 MiB reads into the response (Node has
 * no sendfile in userland), Bun answers with `Bun.file` (which Bun sends with sendfile), Deno with
 * `Deno.open(...).readable`. Run as `<runtime> bare-file.(js|ts) FILE`; it listens on a free port
 * of 127.0.0.1 and prints `listening <url>` on stdout. Any request gets the whole file.
 */
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import process from 'node:process';

interface BunServe {
  serve(options: { port: number; hostname: string; fetch(): Response }): { port: number };
  file(path: string): Blob;
}
interface DenoServe {
  serve(options: { port: number; hostname: string; onListen(addr: { port: number }): void }, handler: () => Promise<Response>): unknown;
  open(path: string): Promise<{ readable: ReadableStream<Uint8Array> }>;
}

const path = process.argv.at(-1)!;
const size = statSync(path).size;
const host = '127.0.0.1';
const announce = (port: number): void => void process.stdout.write(`listening http://${host}:${port}\n`);
const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) };
const { Bun, Deno } = globalThis as unknown as { Bun?: BunServe; Deno?: DenoServe };

if (Bun) {
  const server = Bun.serve({ port: 0, hostname: host, fetch: () => new Response(Bun.file(path), { headers }) });
  announce(server.port);
} else if (Deno) {
  Deno.serve({ port: 0, hostname: host, onListen: ({ port }) => announce(port) }, async () => new Response((await Deno.open(path)).readable, { headers }));
} else {
  const server = createServer((_req, res) => {
    res.writeHead(200, headers);
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    file.on('error', () => res.destroy());
    res.on('close', () => file.destroy());
    file.pipe(res);
  });
  server.listen(0, host, () => {
    const address = server.address();
    if (address && typeof address === 'object') announce(address.port);
  });
}
