import type { Config } from '../schema.ts';
import type { ConnectionLimits, ListenAddress } from '../runtime/contract.ts';

export function parseListen(listen: string): ListenAddress {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { hostname: host === '' ? '0.0.0.0' : host, port: Number(listen.slice(colon + 1)) };
}

export const formatAddress = ({ hostname, port }: ListenAddress): string =>
  `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;

export const connectionLimits = ({ server }: Config): ConnectionLimits => ({
  idle: server.idleTimeout,
  headers: server.headersTimeout,
  bodyIdle: server.bodyIdleTimeout,
});
