import type { Context } from 'hono';
import type { Runtime } from '../runtime/contract.ts';

/** How the runtime serving a request tells its client's address (src/runtime/contract.ts). */
export type PeerAddress = Runtime['clientAddress'];

/**
 * The client's address, for throttling: as the runtime saw the connection, or behind a proxy,
 * X-Forwarded-For's last entry (the one the proxy added) when trusted. 'unknown' when neither
 * tells (berth mounted in another server that passed no `clientAddress`).
 */
export function clientAddressOf(peer: PeerAddress | undefined, trustForwardedFor: boolean): (c: Context) => string {
  return (c) => {
    if (trustForwardedFor) {
      const last = c.req.header('X-Forwarded-For')?.split(',').at(-1)?.trim();
      if (last) return last;
    }
    return peer?.(c) || 'unknown';
  };
}
