import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with connections: pass them on, cut them at once, or take them and never answer. */
export type TcpMode = 'pass' | 'reset' | 'stall';

export interface TcpProxy {
  /** `http://127.0.0.1:<port>`, to stand in for the target's URL. */
  url: string;
  /** Switches mode; connections open now are cut, so clients with pooled connections meet the new mode. */
  set(mode: TcpMode): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a server (S3 here) that can play it down: `reset` is a store that refuses
 * (connection reset at once), `stall` one that hangs (accepts, reads, never answers), at the
 * network level, where berth's own timeouts must notice.
 */
export async function startTcpProxy(target: URL): Promise<TcpProxy> {
  let mode: TcpMode = 'pass';
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => undefined);
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'stall') {
      client.resume(); // read and drop whatever comes, answer nothing
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const cutAll = (): void => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    set: (next) => {
      mode = next;
      cutAll();
    },
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}
