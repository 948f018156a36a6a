/**
 * The ceiling for berth's blob GET on a runtime: a bare server with no framework, no routing and
 * no registry that sends one file the same way berth's fast path on that runtime does
 * (runtimes/*.ts): Node reads 1 MiB at a time into two reused buffers and writes them to the
 * response (runtimes/node-file-sender.ts; Node has no sendfile in userland), Bun answers with
 * `Bun.file` (which Bun sends with sendfile), Deno with `Deno.open(...).readable`. Run as `<runtime> bare-file.(js|ts) FILE`; it listens on a free port
 * of 127.0.0.1 and prints `listening <url>` on stdout. Any request gets the whole file.
 */
import { createServer } from 'node:http';
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import process from 'node:process';
import { sendFileRange } from '../runtimes/node-file-sender.ts';

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
    void open(path, 'r').then((file) =>
      sendFileRange(file, res, 0, size - 1)
        .catch(() => undefined)
        .finally(() => file.close()),
    );
  });
  server.listen(0, host, () => {
    const address = server.address();
    if (address && typeof address === 'object') announce(address.port);
  });
}
