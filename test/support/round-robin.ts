import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RoundRobin {
  /** `http://127.0.0.1:<port>`: the fleet's one address. */
  url: string;
  /** Requests sent to each backend so far, in the order the backends were given. */
  counts: number[];
  close(): Promise<void>;
}

/**
 * An HTTP load balancer in front of a fleet of replicas, as an operator would put one there: each
 * request goes to the next backend in turn, whatever it is (a PATCH after a POST, a GET after a
 * DELETE), so a client's consecutive requests always meet different replicas. Bodies stream both
 * ways; the client's `Host` goes on, so what a replica writes into `Location` or a challenge names
 * the balancer. Keep-alive to the backends, as nginx or HAProxy would.
 */
export async function startRoundRobin(backends: string[]): Promise<RoundRobin> {
  if (backends.length === 0) throw new Error('a balancer needs backends');
  const targets = backends.map((b) => new URL(b));
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const counts = backends.map(() => 0);
  let next = 0;
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const i = next;
    next = (next + 1) % targets.length;
    counts[i]!++;
    const target = targets[i]!;
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1' };
    delete headers.connection;
    delete headers['keep-alive'];
    const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.rawHeaders));
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('bad gateway');
      else res.destroy();
    });
    req.pipe(out);
    req.on('error', () => out.destroy());
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
  };

  const server: Server = createServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw header list (name, value, name, value...) without the hop-by-hop headers a proxy must not pass on. */
function withoutHopByHop(raw: string[]): string[] {
  const kept: string[] = [];
  for (let j = 0; j + 1 < raw.length; j += 2) {
    if (!hopByHop.has(raw[j]!.toLowerCase())) kept.push(raw[j]!, raw[j + 1]!);
  }
  return kept;
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding']);
