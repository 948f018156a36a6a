import { describe, expect, it } from 'vitest';
import { renderSvg, summaryRows, summaryTable, type BenchFigures, type MirrorFigures } from '../../bench/report.ts';
import { summarisePushes } from '../../bench/push-memory.ts';
import type { RuntimeFigures } from '../../bench/runtimes.ts';
import { showSpread, spread, type Spread } from '../../bench/tools.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** A figure that did not move over the repeats. */
const at = (n: number): Spread => ({ median: n, min: n, max: n });

const figures = (runtime: RuntimeFigures['runtime'], scale: number, rss = 10 * MiB): RuntimeFigures => ({
  runtime,
  target: runtime,
  manifestByTag: at(1000 * scale),
  manifestByTagP99: at(1),
  manifestByDigest: at(1000 * scale),
  blobHead: at(1000 * scale),
  blobGet: at(1e9 * Math.min(scale, 1.2)),
  blobGetAfterIdle: at(1e9 * Math.min(scale, 1.2)),
  blobPut: at(1e8 * Math.min(scale, 2)),
  blobPatch: at(0.9e8 * Math.min(scale, 2)),
  putPeakOverIdle: at(rss),
  idleRss: at(runtime === 'node' ? 55 * MiB : 70 * MiB),
  startup: at(0.2),
  ...(runtime === 'distribution' ? {} : { ceiling: at(2e9) }),
});

const mirror = (warm: number, gets: number[]): MirrorFigures => ({
  seconds: { direct: 1, cold: 2, warm, local: 1 },
  concurrent: { blobs: gets.length, maxGets: Math.max(...gets), totalGets: gets.reduce((a, b) => a + b, 0), seconds: 3 },
});

describe('bench summary rows', () => {
  const runtimes = [figures('distribution', 1), figures('node', 20), figures('bun', 30, 100 * MiB), figures('deno', 15)];
  const rows = summaryRows({ size: GiB, runtimes });
  const row = (scenario: string, runtime: string) => rows.find((r) => r.scenario === scenario && r.runtime === runtime)!;

  it('has nine targets per runtime (ten on Node, with idle RSS), and none for distribution', () => {
    expect(rows).toHaveLength(28);
    expect(new Set(rows.map((r) => r.runtime))).toEqual(new Set(['node', 'bun', 'deno']));
  });

  it('judges manifest GETs against 15× on Node, 40× on Bun and 14000 req/s on Deno', () => {
    expect(row('manifest GET by tag', 'node')).toMatchObject({ value: 20, target: 15, met: true });
    expect(row('manifest GET by digest', 'bun')).toMatchObject({ value: 30, target: 40, met: false });
    const deno = row('manifest GET by tag', 'deno');
    expect(deno).toMatchObject({ targetLabel: '≥ 14000 req/s', met: true });
    expect(deno.value).toBeCloseTo(15000 / 14000);
    expect(deno.note).toMatch(/Hono/);
  });

  it('judges HEAD, GET, PUT and memory', () => {
    expect(row('blob HEAD', 'node').met).toBe(true);
    expect(row('1 GiB blob GET after PUT', 'deno')).toMatchObject({ value: 1.2, met: true });
    expect(row('1 GiB blob GET after idle', 'deno')).toMatchObject({ value: 1.2, met: true });
    expect(row('1 GiB blob PUT', 'node')).toMatchObject({ value: 2, target: 1.5, met: true });
    expect(row('1 GiB blob PUT', 'bun')).toMatchObject({ value: 2, target: 2.5, met: false });
    expect(row('1 GiB PUT: peak RSS − idle', 'node').met).toBe(true);
    expect(row('1 GiB PUT: peak RSS − idle', 'bun').met).toBe(false);
  });

  it('notes a blob size other than 1 GiB', () => {
    const small = summaryRows({ size: 64 * MiB, runtimes });
    expect(small.find((r) => r.scenario === '64 MiB blob GET after PUT')?.note).toMatch(/64 MiB/);
  });

  it('has rows only for the scenarios that ran', () => {
    expect(summaryRows({ size: GiB })).toEqual([]);
    expect(summaryTable([])).toMatch(/no scenario/);
    const m = summaryRows({ size: GiB, mirror: mirror(1.05, [1, 1, 1]) });
    expect(m.map((r) => r.met)).toEqual([true, true]);
  });

  it('judges the push scenario\'s memory per mode, berth only', () => {
    const push = (target: string, mode: string, over: number) => ({ target, mode, mbPerSecond: at(100), idleRss: at(50 * MiB), peakOverIdle: at(over) });
    const p = summaryRows({ size: GiB, push: [push('berth (node, fs)', 'one PUT', 40 * MiB), push('distribution 2.8', 'one PUT', MiB), push('berth (node, fs)', '1 MiB PATCHes', 70 * MiB)] });
    expect(p.map((r) => [r.scenario, r.distribution, r.met])).toEqual([
      ['push (one PUT): peak RSS − idle', '1.0 (1.0–1.0) MiB', true],
      ['push (1 MiB PATCHes): peak RSS − idle', '-', false],
    ]);
  });

  it('misses the mirror targets on a slow warm pull or a blob fetched twice', () => {
    const m = summaryRows({ size: GiB, mirror: mirror(1.2, [1, 2, 1]) } satisfies BenchFigures);
    expect(m.map((r) => r.met)).toEqual([false, false]);
  });

  it('prints a table with a result per row and the notes', () => {
    const text = summaryTable(rows);
    expect(text).toContain(`${rows.filter((r) => r.met).length} of 28 met`);
    expect(text.match(/MISSED/g)?.length).toBe(rows.filter((r) => !r.met).length);
    expect(text).toMatch(/\[1\] .*Hono/);
  });
  it('judges issue 15: PATCHes within 15% of a PUT, idle RSS on Node, start-up', () => {
    expect(row('1 GiB in 8 MiB PATCHes vs one PUT', 'node')).toMatchObject({ value: 0.9, target: 0.85, met: true });
    expect(row('idle RSS, default config', 'node')).toMatchObject({ berth: '55.0 (55.0–55.0) MiB', met: true });
    expect(rows.filter((r) => r.scenario === 'idle RSS, default config').map((r) => r.runtime)).toEqual(['node']);
    expect(row('start-up to first answer', 'bun')).toMatchObject({ value: 0.2 / 0.3, met: true });
    const slow = summaryRows({ size: GiB, runtimes: [figures('distribution', 1), { ...figures('node', 20), idleRss: at(80 * MiB), startup: at(0.5), blobPatch: at(1e8) }] });
    const judged = (scenario: string) => slow.find((r) => r.scenario === scenario)!.met;
    expect([judged('idle RSS, default config'), judged('start-up to first answer'), judged('1 GiB in 8 MiB PATCHes vs one PUT')]).toEqual([false, false, false]);
  });

  it('shows every figure as its median with the range of the repeats', () => {
    const node = { ...figures('node', 20), blobGet: { median: 1.5e9, min: 0.7e9, max: 2e9 } };
    const r = summaryRows({ size: GiB, runtimes: [figures('distribution', 1), node] }).find((x) => x.scenario === '1 GiB blob GET after PUT')!;
    expect(r.berth).toBe('1500 (700–2000) MB/s');
    expect(r.distribution).toBe('1000 (1000–1000) MB/s');
    expect(r.value).toBe(1.5);
  });
});

describe('bench spreads', () => {
  it('are the median, min and max of the repeats', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spread([4, 1, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(spread([])).toMatchObject({ median: Number.NaN });
  });

  it('group pushes per target and mode, peak above idle per push', () => {
    const sample = (target: string, mode: string, mbPerSecond: number, idle: number, peak: number) => ({ target, mode, seconds: 1, mbPerSecond, idleRss: idle, peakRss: peak });
    const r = summarisePushes([sample('b', 'one PUT', 100, 50, 60), sample('d', 'one PUT', 80, 20, 21), sample('b', 'one PUT', 300, 55, 95), sample('b', 'one PUT', 200, 50, 70)]);
    expect(r.map((x) => [x.target, x.mode])).toEqual([['b', 'one PUT'], ['d', 'one PUT']]);
    expect(r[0]).toMatchObject({ mbPerSecond: { median: 200, min: 100, max: 300 }, peakOverIdle: { median: 20, min: 10, max: 40 } });
  });

  it('print as median (min–max) in one format', () => {
    expect(showSpread({ median: 2.5, min: 1, max: 4 })).toBe('3 (1–4)');
    expect(showSpread({ median: 0.25, min: 0.2, max: 0.31 }, (n) => n.toFixed(2))).toBe('0.25 (0.20–0.31)');
  });
});

describe('bench SVG', () => {
  const rows = summaryRows({ size: GiB, runtimes: [figures('distribution', 1), figures('node', 20), figures('bun', 30)], mirror: mirror(1, [1, 1]) });
  const svg = renderSvg(rows, 'berth <vs> distribution & co');

  it('is one svg element with one bar per row', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect/g)).toHaveLength(rows.length);
    expect(svg.match(/fill="#d0383e"/g)?.length ?? 0).toBe(rows.filter((r) => !r.met).length);
  });

  it('is well-formed: tags balance and text is escaped', () => {
    const stack: string[] = [];
    for (const [, close, name, selfClosing] of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (selfClosing) continue;
      if (close) expect(stack.pop()).toBe(name);
      else stack.push(name!);
    }
    expect(stack).toEqual([]);
    expect(svg).toContain('berth &lt;vs&gt; distribution &amp; co');
    expect(svg.replace(/&(amp|lt|gt|quot);/g, '')).not.toMatch(/&/);
  });
});
