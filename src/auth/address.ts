import type { Context } from 'hono';

/**
 * The client's address, for throttling. Each runtime hands its connection info to `fetch` as the
 * env: @hono/node-server `{ incoming }`, Bun the server (`requestIP`), Deno `{ remoteAddr }`. Read by
 * shape, so no runtime global is touched. Behind a proxy, X-Forwarded-For's last entry (the one the
 * proxy added) when trusted.
 */
export function clientAddress(c: Context, trustForwardedFor: boolean): string {
  if (trustForwardedFor) {
    const last = c.req.header('X-Forwarded-For')?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  const env = c.env as Record<string, unknown> | undefined;
  try {
    const incoming = env?.incoming as { socket?: { remoteAddress?: string } } | undefined;
    if (incoming?.socket?.remoteAddress) return incoming.socket.remoteAddress;
    const requestIP = (env as { requestIP?: (r: Request) => { address?: string } | null } | undefined)?.requestIP;
    if (typeof requestIP === 'function') {
      const ip = requestIP.call(env, c.req.raw)?.address;
      if (ip) return ip;
    }
    const remote = env?.remoteAddr as { hostname?: string } | undefined;
    if (remote?.hostname) return remote.hostname;
  } catch {
    // An env of another shape: fall through.
  }
  return 'unknown';
}
