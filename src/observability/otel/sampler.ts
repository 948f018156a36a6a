import type { RemoteParent } from './ids.ts';
import type { SamplerName } from './schema.ts';

/** Whether a request's span is recorded: decided once, at the root of this process's part of the trace. */
export type Sampler = (traceId: string, parent: RemoteParent | undefined) => boolean;

/**
 * Sampled when the trace id's low 52 bits fall under ratio × 2^52: the same decision for the same
 * trace on every service that samples this way, so a trace is kept whole or not at all.
 */
function ratioSampler(ratio: number): (traceId: string) => boolean {
  if (ratio >= 1) return () => true;
  if (ratio <= 0) return () => false;
  const bound = ratio * 2 ** 52;
  return (traceId) => parseInt(traceId.slice(-13), 16) < bound;
}

export function createSampler(name: SamplerName, ratio: number): Sampler {
  const root =
    name.endsWith('always_on') ? () => true
    : name.endsWith('always_off') ? () => false
    : ratioSampler(ratio);
  if (!name.startsWith('parentbased_')) return (traceId) => root(traceId);
  // A caller that sampled its span expects ours to be kept with it, and one that did not, not.
  return (traceId, parent) => (parent ? parent.sampled : root(traceId));
}

/** Whether the root decision can only be "no", so no trace id needs making for it. */
export const neverSamplesRoots = (name: SamplerName, ratio: number): boolean =>
  name.endsWith('always_off') || (name.endsWith('traceidratio') && ratio <= 0);
