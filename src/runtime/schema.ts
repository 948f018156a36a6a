import { z } from 'zod';
import { duration } from '../config/duration.ts';

/**
 * The `server:` block: what `berth serve` asks of the runtime serving it (src/runtime/contract.ts,
 * ConnectionLimits). Every limit is on silence, never on total time.
 */
export const serverSchema = z
  .object({
    idleTimeout: duration
      .prefault('120s')
      .describe('A keep-alive connection with no request under way is closed after this long. Keep it above 90s, the idle timeout of Go clients (docker, containerd, skopeo), so their pooled connections are not closed under them. At most 255s on Bun; 0 is no limit.'),
    headersTimeout: duration.prefault('60s').describe("A request's headers must arrive within this long (Bun: fixed at about 10s). 0 is no limit."),
    bodyIdleTimeout: duration
      .prefault('60s')
      .describe('A request body that sends nothing for this long is cut and its connection closed. A limit on silence, not on total time: an upload that keeps sending is never cut. 0 is no limit.'),
  })
  .strict()
  .prefault({})
  .describe('Connection limits: how long a client may keep a connection silent.');
