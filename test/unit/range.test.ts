import { describe, expect, it } from 'vitest';
import { parseContentRange, parseRangeHeader, type RangeRequest } from '../../src/oci/range.ts';

const full: RangeRequest = { kind: 'full' };
const unsatisfiable: RangeRequest = { kind: 'unsatisfiable' };
const partial = (start: number, end: number): RangeRequest => ({ kind: 'partial', range: { start, end } });

describe('parseRangeHeader (RFC 9110 §14)', () => {
  it.each<[string, string | undefined, number, RangeRequest]>([
    ['no header', undefined, 100, full],
    ['first and last', 'bytes=0-9', 100, partial(0, 9)],
    ['a middle slice', 'bytes=10-19', 100, partial(10, 19)],
    ['one byte', 'bytes=5-5', 100, partial(5, 5)],
    ['the last byte exactly', 'bytes=99-99', 100, partial(99, 99)],
    ['the whole thing as a range', 'bytes=0-99', 100, partial(0, 99)],
    ['a case-insensitive unit', 'Bytes=0-9', 100, partial(0, 9)],
    ['open-ended', 'bytes=10-', 100, partial(10, 99)],
    ['open-ended from 0', 'bytes=0-', 100, partial(0, 99)],
    ['suffix', 'bytes=-10', 100, partial(90, 99)],
    ['suffix longer than the representation', 'bytes=-200', 100, partial(0, 99)],
    ['end clamped to size-1', 'bytes=50-1000', 100, partial(50, 99)],
    ['a huge last-pos is clamped too', 'bytes=0-99999999999999999999', 100, partial(0, 99)],
    ['start at size', 'bytes=100-', 100, unsatisfiable],
    ['start beyond size', 'bytes=150-200', 100, unsatisfiable],
    ['a zero-length suffix', 'bytes=-0', 100, unsatisfiable],
    // §14.1.1: a last-pos below the first-pos makes the range invalid; §14.2 lets a server reject it.
    ['last-pos before first-pos (invalid: rejected)', 'bytes=9-0', 100, unsatisfiable],
    ['the issue\'s bytes=500-0, inside the representation (invalid: rejected)', 'bytes=500-0', 1000, unsatisfiable],
    ['another unit (ignored: §14.2 MUST ignore)', 'items=0-9', 100, full],
    ['no range at all (invalid)', 'bytes=', 100, unsatisfiable],
    ['a lone dash (invalid)', 'bytes=-', 100, unsatisfiable],
    ['garbage (invalid)', 'bytes=abc', 100, unsatisfiable],
    ['negative numbers (invalid)', 'bytes=-5-9', 100, unsatisfiable],
    ['a trailing comma is an empty list element (ignored)', 'bytes=0-9,', 100, partial(0, 9)],
    ['several valid ranges (ignored: one range is served)', 'bytes=0-1, 5-6', 100, full],
    ['several ranges, one invalid (rejected)', 'bytes=0-1,9-5', 100, unsatisfiable],
    ['empty header (no unit: ignored)', '', 100, full],
    ['size 0, open-ended', 'bytes=0-', 0, unsatisfiable],
    ['size 0, first and last', 'bytes=0-9', 0, unsatisfiable],
    ['size 0, zero-length suffix', 'bytes=-0', 0, unsatisfiable],
    // §14.1.1: with a zero-length representation a non-zero suffix is the one satisfiable form;
    // there is no byte to put in a 206, so the whole (empty) representation is the answer.
    ['size 0, non-zero suffix', 'bytes=-5', 0, full],
    ['size 1, first byte', 'bytes=0-0', 1, partial(0, 0)],
    ['size 1, suffix', 'bytes=-1', 1, partial(0, 0)],
  ])('%s: %j of %d bytes', (_, header, size, expected) => {
    expect(parseRangeHeader(header, size)).toEqual(expected);
  });
});

describe('parseContentRange', () => {
  it.each([
    ['0-9', 0, 9],
    ['bytes=0-9', 0, 9],
    ['bytes 0-9/100', 0, 9],
    ['bytes 0-9/*', 0, 9],
    ['10-19', 10, 19],
    ['0-0', 0, 0],
  ])('%j is %d-%d', (header, start, end) => {
    expect(parseContentRange(header)).toEqual({ start, end });
  });

  it.each(['', 'abc', '0-', '-9', '0-9-10', 'bytes 0-9/', 'bytes 0-9/abc', 'bytes=0-9,10-19', 'items 0-9', '0x0-9', `0-${'9'.repeat(30)}`])(
    'rejects malformed %j as BLOB_UPLOAD_INVALID (400)',
    (header) => {
      expect(() => parseContentRange(header)).toThrow(
        expect.objectContaining({ name: 'OciError', code: 'BLOB_UPLOAD_INVALID', status: 400 }),
      );
    },
  );

  // Malformed, so a 400; 416 is kept for a well-formed range that does not fit the upload.
  it('rejects an end before its start as malformed (400 BLOB_UPLOAD_INVALID)', () => {
    expect(() => parseContentRange('9-0')).toThrow(expect.objectContaining({ name: 'OciError', status: 400, code: 'BLOB_UPLOAD_INVALID' }));
  });

  it('rejects a complete length not beyond last-pos (RFC 9110 §14.4: invalid)', () => {
    expect(() => parseContentRange('bytes 0-9/5')).toThrow(expect.objectContaining({ name: 'OciError', code: 'BLOB_UPLOAD_INVALID' }));
  });
});
