import { describe, expect, it } from 'vitest';
import { renderSvg, summaryRows, summaryTable, type BenchFigures, type MirrorFigures } from '../../bench/report.ts';
import type { RuntimeFigures } from '../../bench/runtimes.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const figures = (runtime: RuntimeFigures['runtime'], scale: number, rss = 10 * MiB): RuntimeFigures => ({
  runtime,
  target: runtime,
  manifestByTag: 1000 * scale,
  manifestByTagP99: 1,
  manifestByDigest: 1000 * scale,
  blobHead: 1000 * scale,
  blobGet: 1e9 * Math.min(scale, 1.2),
  blobPut: 1e8 * Math.min(scale, 2),
  putPeakOverIdle: rss,
});

const mirror = (warm: number, gets: number[]): MirrorFigures => ({
  seconds: { direct: 1, cold: 2, warm, local: 1 },
  concurrent: { blobs: gets.length, maxGets: Math.max(...gets), totalGets: gets.reduce((a, b) => a + b, 0), seconds: 3 },
});

describe('bench summary rows', () => {
  const runtimes = [figures('distribution', 1), figures('node', 20), figures('bun', 30, 100 * MiB), figures('deno', 15)];
  const rows = summaryRows({ size: GiB, runtimes });
  const row = (scenario: string, runtime: string) => rows.find((r) => r.scenario === scenario && r.runtime === runtime)!;

  it('has six targets per runtime, and none for distribution', () => {
    expect(rows).toHaveLength(18);
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
    expect(row('1 GiB blob GET', 'deno')).toMatchObject({ value: 1.2, met: true });
    expect(row('1 GiB blob PUT', 'node')).toMatchObject({ value: 2, target: 1.5, met: true });
    expect(row('1 GiB blob PUT', 'bun')).toMatchObject({ value: 2, target: 2.5, met: false });
    expect(row('1 GiB PUT: peak RSS − idle', 'node').met).toBe(true);
    expect(row('1 GiB PUT: peak RSS − idle', 'bun').met).toBe(false);
  });

  it('notes a blob size other than 1 GiB', () => {
    const small = summaryRows({ size: 64 * MiB, runtimes });
    expect(small.find((r) => r.scenario === '64 MiB blob GET')?.note).toMatch(/64 MiB/);
  });

  it('has rows only for the scenarios that ran', () => {
    expect(summaryRows({ size: GiB })).toEqual([]);
    expect(summaryTable([])).toMatch(/no scenario/);
    const m = summaryRows({ size: GiB, mirror: mirror(1.05, [1, 1, 1]) });
    expect(m.map((r) => r.met)).toEqual([true, true]);
  });

  it('judges the push scenario\'s memory per mode, berth only', () => {
    const push = (target: string, mode: string, over: number) => ({ target, mode, seconds: 1, mbPerSecond: 100, idleRss: 50 * MiB, peakRss: 50 * MiB + over });
    const p = summaryRows({ size: GiB, push: [push('berth (node, fs)', 'one PUT', 40 * MiB), push('distribution 2.8', 'one PUT', MiB), push('berth (node, fs)', '1 MiB PATCHes', 70 * MiB)] });
    expect(p.map((r) => [r.scenario, r.distribution, r.met])).toEqual([
      ['push (one PUT): peak RSS − idle', '1.0 MiB', true],
      ['push (1 MiB PATCHes): peak RSS − idle', '-', false],
    ]);
  });

  it('misses the mirror targets on a slow warm pull or a blob fetched twice', () => {
    const m = summaryRows({ size: GiB, mirror: mirror(1.2, [1, 2, 1]) } satisfies BenchFigures);
    expect(m.map((r) => r.met)).toEqual([false, false]);
  });

  it('prints a table with a result per row and the notes', () => {
    const text = summaryTable(rows);
    expect(text).toContain('14 of 18 met');
    expect(text.match(/MISSED/g)?.length).toBe(rows.filter((r) => !r.met).length);
    expect(text).toMatch(/\[1\] .*Hono/);
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
