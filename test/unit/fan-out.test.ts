import { describe, expect, it } from 'vitest';
import { storageFanOut } from '../../src/registry/bounded.ts';
import { fanOut } from '../../src/registry/fan-out.ts';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

describe('fanOut', () => {
  it(`keeps at most ${storageFanOut} items in flight across all concurrent fan-outs, and finishes every one`, async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    const work = async (i: number): Promise<number> => {
      most = Math.max(most, ++inFlight);
      await tick();
      inFlight--;
      done.push(i);
      return i * 2;
    };
    const items = Array.from({ length: 200 }, (_, i) => i);
    const [mapped] = await Promise.all([
      fanOut.map(items, work),
      fanOut.forEach(items.map((i) => 1000 + i), async (i) => void (await work(i))),
      fanOut.forEach(new Set(items.map((i) => 2000 + i)), async (i) => void (await work(i))),
    ]);
    expect(most).toBe(storageFanOut);
    expect(mapped).toEqual(items.map((i) => i * 2));
    expect(done.length).toBe(600);
  });

  it('lets the fan-outs running at once take turns rather than one after another', async () => {
    const order: string[] = [];
    const items = Array.from({ length: 50 }, (_, i) => i);
    await Promise.all(
      ['a', 'b'].map((who) =>
        fanOut.forEach(items, async () => {
          await tick();
          order.push(who);
        }),
      ),
    );
    // b's first item finishes long before a's last one.
    expect(order.indexOf('b')).toBeLessThan(order.lastIndexOf('a'));
    expect(order.lastIndexOf('b')).toBeGreaterThan(order.length - 10);
  });

  it('stops at the first failure and reports it', async () => {
    let started = 0;
    await expect(
      fanOut.forEach(Array.from({ length: 100 }, (_, i) => i), async (i) => {
        started++;
        await tick();
        if (i === 3) throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(started).toBeLessThan(100);
  });
});
