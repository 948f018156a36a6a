import { describe, expect, it } from 'vitest';
import { maxPageSize, page, pageOfNames } from '../../src/registry/paging.ts';

const names = ['b', 'a', 'B', 'c', 'a-1', 'a.1', '_x', '10', '9'];
// Code-point order: digits < uppercase < '_' < lowercase; '-' < '.'.
const sorted = ['10', '9', 'B', '_x', 'a', 'a-1', 'a.1', 'b', 'c'];

describe('pageOfNames', () => {
  it('returns everything in lexical (code point) order, without a next marker', () => {
    expect(pageOfNames(names, {})).toEqual({ items: sorted });
  });

  it('does not change its input', () => {
    const input = [...names];
    pageOfNames(input, { n: 2 });
    expect(input).toEqual(names);
  });

  it('cuts at n and names the last entry returned as the next marker', () => {
    expect(pageOfNames(names, { n: 3 })).toEqual({ items: ['10', '9', 'B'], next: 'B' });
  });

  it('continues after last', () => {
    expect(pageOfNames(names, { n: 3, last: 'B' })).toEqual({ items: ['_x', 'a', 'a-1'], next: 'a-1' });
    expect(pageOfNames(names, { last: 'a-1' })).toEqual({ items: ['a.1', 'b', 'c'] });
  });

  it('continues after a last that is not itself an entry', () => {
    expect(pageOfNames(names, { last: 'a0' })).toEqual({ items: ['b', 'c'] });
    expect(pageOfNames(names, { last: 'z' })).toEqual({ items: [] });
  });

  it('walking the pages visits every entry once', () => {
    const seen: string[] = [];
    let last: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const p = pageOfNames(names, last === undefined ? { n: 2 } : { n: 2, last });
      seen.push(...p.items);
      if (p.next === undefined) break;
      last = p.next;
    }
    expect(seen).toEqual(sorted);
  });

  it('gives no next marker when exactly n entries remain', () => {
    expect(pageOfNames(names, { n: names.length })).toEqual({ items: sorted });
    expect(pageOfNames(names, { n: 2, last: 'a.1' })).toEqual({ items: ['b', 'c'] });
  });

  it('returns nothing, and no next marker, for n=0', () => {
    expect(pageOfNames(names, { n: 0 })).toEqual({ items: [] });
  });

  it('returns nothing for an empty list', () => {
    expect(pageOfNames([], { n: 5 })).toEqual({ items: [] });
  });

  it(`caps n at the maximum page size (${maxPageSize})`, () => {
    const many = Array.from({ length: maxPageSize + 5 }, (_, i) => `t${String(i).padStart(5, '0')}`);
    const first = pageOfNames(many, { n: maxPageSize * 10 });
    expect(first.items).toEqual(many.slice(0, maxPageSize));
    expect(first.next).toBe(many[maxPageSize - 1]);
    expect(pageOfNames(many, {}).items).toHaveLength(maxPageSize);
    expect(pageOfNames(many, { n: maxPageSize * 10, last: first.next })).toEqual({ items: many.slice(maxPageSize) });
  });
});

describe('page with a key', () => {
  const items = [{ digest: 'sha256:c' }, { digest: 'sha256:a' }, { digest: 'sha256:b' }];
  const key = (d: { digest: string }): string => d.digest;

  it('orders, cuts and marks by the key', () => {
    expect(page(items, { n: 2 }, key)).toEqual({ items: [{ digest: 'sha256:a' }, { digest: 'sha256:b' }], next: 'sha256:b' });
    expect(page(items, { last: 'sha256:b' }, key)).toEqual({ items: [{ digest: 'sha256:c' }] });
  });
});
