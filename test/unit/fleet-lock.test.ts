import { describe, expect, it } from 'vitest';
import type { SingleFlight, Turn } from '../../src/coordination/types.ts';
import { isOciError } from '../../src/oci/errors.ts';
import { FleetLock } from '../../src/registry/fleet-lock.ts';

/** A coordinator where another replica holds every key for `busyFor` asks, then yields. */
function flights(busyFor: number, waitMs = 5): SingleFlight & { asked: string[]; released: number; busyFor: number } {
  const state = { asked: [] as string[], released: 0, busyFor };
  return Object.assign(state, {
    async acquire(key: string): Promise<Turn | 'waited'> {
      state.asked.push(key);
      if (state.asked.length <= state.busyFor) {
        await new Promise((r) => setTimeout(r, waitMs));
        return 'waited' as const;
      }
      return { release: async () => void state.released++ };
    },
  });
}

describe('FleetLock', () => {
  it('asks again after each turn that ended elsewhere, then runs once in its own turn and releases it', async () => {
    const coordinator = flights(3);
    const lock = new FleetLock(coordinator);
    let runs = 0;
    expect(await lock.run('quota:team', async () => ++runs)).toBe(1);
    expect(coordinator.asked).toEqual(Array(4).fill('registry:quota:team'));
    expect(coordinator.released).toBe(1);
  });

  it('gives up with a retryable 503 when another replica keeps the turn past its patience', async () => {
    const coordinator = flights(Number.POSITIVE_INFINITY);
    const lock = new FleetLock(coordinator, { patienceMs: 50 });
    let ran = false;
    const failure = await lock.run('tag:team/app:v1', async () => (ran = true)).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(isOciError(failure) && failure.code).toBe('UNAVAILABLE');
    expect(isOciError(failure) && failure.status).toBe(503);
    expect(isOciError(failure) && failure.headers['Retry-After']).toBe('5');
    expect(coordinator.asked.length).toBeGreaterThan(1);
    // The local turn is free again: the next write on this replica is not stuck behind the failed one.
    coordinator.busyFor = 0;
    expect(await lock.run('tag:team/app:v1', async () => 'written')).toBe('written');
    expect(coordinator.released).toBe(1);
  });

  it('releases its turn when the write fails', async () => {
    const coordinator = flights(0);
    const lock = new FleetLock(coordinator);
    await expect(lock.run('k', async () => Promise.reject(new Error('storage down')))).rejects.toThrow('storage down');
    expect(coordinator.released).toBe(1);
  });

  it('without a coordinator, writes under one key on this replica take turns', async () => {
    const lock = new FleetLock(undefined);
    const order: string[] = [];
    const slow = lock.run('k', async () => {
      order.push('a start');
      await new Promise((r) => setTimeout(r, 20));
      order.push('a end');
    });
    const fast = lock.run('k', async () => void order.push('b'));
    await Promise.all([slow, fast]);
    expect(order).toEqual(['a start', 'a end', 'b']);
  });
});
