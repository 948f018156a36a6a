import { describe, expect, it } from 'vitest';
import { maxJsonDepth, parseStrictJson } from '../../src/oci/strict-json.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const problemOf = (bytes: Uint8Array): string | undefined => {
  const r = parseStrictJson(bytes);
  return r.ok ? undefined : r.problem;
};

describe('parseStrictJson', () => {
  it.each<[string, string, unknown]>([
    ['an object', '{"a":1,"b":[true,null,"x"]}', { a: 1, b: [true, null, 'x'] }],
    ['pretty-printed, with whitespace around', ' \n{\n  "a": {\n    "b": 2\n  }\n}\r\n\t', { a: { b: 2 } }],
    ['the same key in sibling and nested objects', '{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":{"a":{"a":3}}}', { a: { a: 1 }, b: [{ a: 1 }, { a: 2 }], c: { a: { a: 3 } } }],
    ['a value equal to a key', '{"a":"a","b":"a"}', { a: 'a', b: 'a' }],
    ['escaped quotes and backslashes in strings', '{"a\\"":"\\\\","b":"\\\\\\""}', { 'a"': '\\', b: '\\"' }],
    ['a surrogate pair as escapes', '{"a":"\\ud83d\\ude00"}', { a: '😀' }],
    ['U+FEFF inside a string', '{"a":"\ufeff"}', { a: '\ufeff' }],
    ['many keys (the Set path)', JSON.stringify(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]))), Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]))],
    [`nesting of exactly ${maxJsonDepth} levels`, `${'['.repeat(maxJsonDepth)}${']'.repeat(maxJsonDepth)}`, undefined],
  ])('accepts %s', (_, json, value) => {
    const r = parseStrictJson(text(json));
    expect(r).toMatchObject({ ok: true });
    if (value !== undefined && r.ok) expect(r.value).toEqual(value);
  });

  it.each<[string, Uint8Array, RegExp]>([
    ['a UTF-8 byte order mark', new Uint8Array([0xef, 0xbb, 0xbf, ...text('{}')]), /byte order mark/],
    ['a byte order mark after leading whitespace', text(' \ufeff{}'), /not valid JSON/],
    ['invalid UTF-8', new Uint8Array([...text('{"a":"'), 0xc3, 0x28, ...text('"}')]), /UTF-8/],
    ['an overlong UTF-8 encoding', new Uint8Array([...text('{"a":"'), 0xc0, 0xaf, ...text('"}')]), /UTF-8/],
    ['a repeated key', text('{"a":1,"b":2,"a":3}'), /key "a" twice/],
    ['a repeated key written with an escape', text('{"a":1,"\\u0061":2}'), /key "a" twice/],
    ['a repeated key in a nested object', text('{"x":[{"y":{"a":1,"a":1}}]}'), /key "a" twice/],
    ['a repeated key in a large object', text(`{${Array.from({ length: 40 }, (_, i) => `"k${i}":1`).join(',')},"k7":2}`), /key "k7" twice/],
    ['a lone high surrogate escape', text('{"a":"\\ud83d"}'), /surrogate/],
    ['a lone low surrogate escape in a key', text('{"\\ude00":1}'), /surrogate/],
    ['trailing garbage', text('{} x'), /not valid JSON/],
    ['two documents', text('{}{}'), /not valid JSON/],
    [`nesting deeper than ${maxJsonDepth} levels`, text(`${'['.repeat(maxJsonDepth + 1)}${']'.repeat(maxJsonDepth + 1)}`), /deeper/],
    ['nesting far deeper', text(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), /deeper|not valid JSON/],
  ])('refuses %s', (_, bytes, problem) => {
    expect(problemOf(bytes)).toMatch(problem);
  });

  it('scans a 4 MiB document of 35,000 descriptors', () => {
    const layer = (i: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${i.toString(16).padStart(64, '0')}`, size: i });
    const doc = { schemaVersion: 2, layers: Array.from({ length: 35_000 }, (_, i) => layer(i)) };
    const r = parseStrictJson(text(JSON.stringify(doc)));
    expect(r.ok && (r.value as typeof doc).layers.length).toBe(35_000);
  });
});
