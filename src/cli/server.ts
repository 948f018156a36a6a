import type { Hono } from 'hono';

export interface ListenAddress {
  hostname: string;
  port: number;
}

export interface RunningServer {
  /** Where it actually listens (port 0 is resolved). */
  address: ListenAddress;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** How a runtime serves a Hono app; each of `runtimes/` provides one. */
export type Serve = (app: Hono, address: ListenAddress) => Promise<RunningServer>;

export function parseListen(listen: string): ListenAddress {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { hostname: host === '' ? '0.0.0.0' : host, port: Number(listen.slice(colon + 1)) };
}

export const formatAddress = ({ hostname, port }: ListenAddress): string =>
  `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
