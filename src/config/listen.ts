import { z } from 'zod';

/** A listen address: `HOST:PORT`, `[::1]:5000`, `:5000`. */
export const listen = z
  .string()
  .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'must be HOST:PORT, e.g. 0.0.0.0:5000 or [::1]:5000')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');
