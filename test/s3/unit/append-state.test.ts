import { describe, expect, it } from 'vitest';
import {
  applyStep,
  decodeState,
  decodeStep,
  emptyState,
  encodeState,
  encodeStep,
  pieces,
  tailPiecesKept,
  type AppendState,
  type Step,
  type TailPiece,
} from '../../../src/storage/s3/append-state.ts';

const P = 8;

/** The tail after adding `added` bytes, by the merge rule. */
function grow(tail: TailPiece[], added: number): TailPiece[] {
  const kept = tailPiecesKept(tail, added);
  const end = tail.reduce((n, t) => n + t.size, 0);
  const start = tail[kept]?.start ?? end;
  return [...tail.slice(0, kept), { writer: 'ab', start, size: end + added - start }];
}

describe('the tail merge rule', () => {
  it('behaves as a binary counter for equal PATCHes: few pieces, each byte rewritten log times', () => {
    let tail: TailPiece[] = [];
    let rewritten = 0;
    for (let i = 0; i < 1000; i++) {
      const kept = tailPiecesKept(tail, 1);
      rewritten += tail.slice(kept).reduce((n, t) => n + t.size, 0);
      tail = grow(tail, 1);
      expect(tail.length).toBeLessThanOrEqual(Math.ceil(Math.log2(i + 2)) + 1);
      for (let j = 1; j < tail.length; j++) expect(tail[j - 1]!.size).toBeGreaterThanOrEqual(2 * tail[j]!.size);
    }
    expect(rewritten / 1000).toBeLessThanOrEqual(Math.log2(1000));
    expect(tail.reduce((n, t) => n + t.size, 0)).toBe(1000);
  });

  it('keeps a big piece and appends a small one after it; merges a small one into a big arrival', () => {
    expect(tailPiecesKept([{ writer: 'a', start: 0, size: 100 }], 10)).toBe(1);
    expect(tailPiecesKept([{ writer: 'a', start: 0, size: 10 }], 100)).toBe(0);
    expect(tailPiecesKept([], 5)).toBe(0);
  });
});

describe('state and steps', () => {
  const step = (from: number, to: number, extra: Partial<Step> = {}): Step => ({ writer: 'beef', from, to, runs: [], tail: [], sealed: false, ...extra });

  it('applies steps in order, joining runs of one writer, and lists pieces at their offsets', () => {
    let s: AppendState = emptyState(P);
    s = applyStep(s, step(0, 11, { runs: [{ writer: 'aa', count: 1 }], tail: [{ writer: 'aa', start: 8, size: 3 }] }));
    s = applyStep(s, step(11, 27, { writer: 'aa', runs: [{ writer: 'aa', count: 2 }], tail: [{ writer: 'aa', start: 24, size: 3 }] }));
    expect(s.runs).toEqual([{ writer: 'aa', count: 3 }]);
    expect(pieces('k', s)).toEqual([
      { key: 'k/p/0.aa', start: 0, size: 8 },
      { key: 'k/p/1.aa', start: 8, size: 8 },
      { key: 'k/p/2.aa', start: 16, size: 8 },
      { key: 'k/t/24.aa', start: 24, size: 3 },
    ]);
    expect(() => applyStep(s, step(26, 30))).toThrow(/step from 26 applied at 27/);
    expect(applyStep(s, step(27, 27, { sealed: true, tail: s.tail })).sealed).toBe(true);
  });

  it('round-trips through JSON and refuses what it did not write', () => {
    const s: AppendState = { size: 19, partSize: P, runs: [{ writer: 'aa', count: 2 }], tail: [{ writer: 'bb', start: 16, size: 3 }], sealed: false };
    expect(decodeState(encodeState(s))).toEqual(s);
    const st = step(3, 19, { runs: s.runs, tail: s.tail });
    expect(decodeStep(encodeStep(st))).toEqual(st);
    for (const bad of ['not json', '{"v":2}', '{"v":1,"size":-1,"partSize":8,"runs":[],"tail":[]}', '{"v":1,"size":1,"partSize":8,"runs":[["../x",1]],"tail":[]}']) {
      expect(() => decodeState(new TextEncoder().encode(bad)), bad).toThrow(/corrupt upload state/);
    }
    expect(() => decodeStep(new TextEncoder().encode('{"v":1,"writer":"aa","from":5,"to":4,"runs":[],"tail":[]}'))).toThrow(/corrupt/);
  });
});
