import { OciError } from './errors.ts';

/** An inclusive byte range, as HTTP writes them. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest =
  | { kind: 'full' }
  | { kind: 'partial'; range: ByteRange }
  | { kind: 'unsatisfiable' };

// Positions beyond 2^53 are clamped to the representation's size like any other large value.
const int = /^\d{1,30}$/;

/**
 * Interprets a `Range` request header against a representation of `size` bytes (RFC 9110 §14).
 * One range is served. A header in another unit is ignored (§14.2: a server MUST ignore a unit
 * it does not understand), as is a valid set of several ranges (MAY ignore: berth sends no
 * multipart/byteranges). An invalid `bytes` ranges-specifier (`bytes=500-0`, `bytes=abc`,
 * `bytes=`) is rejected with 416, which §14.2 allows and §15.5.17 names, and which is what Go's
 * http.ServeContent (distribution) answers: a client asking for nonsense learns so, rather than
 * getting the whole blob it did not ask for.
 */
export function parseRangeHeader(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'full' };
  const unit = /^\s*bytes\s*=/i.exec(header);
  if (!unit) return { kind: 'full' };
  // A list may hold empty elements, which a recipient ignores (RFC 9110 §5.6.1.2).
  const specs = header.slice(unit[0].length).split(',').filter((s) => s.trim() !== '').map(rangeSpec);
  if (specs.length === 0 || specs.some((s) => s === undefined)) return { kind: 'unsatisfiable' };
  if (specs.length > 1) return { kind: 'full' };
  const { first, last } = specs[0]!;
  if (first === undefined) {
    // Suffix range: the last N bytes.
    if (last === 0) return { kind: 'unsatisfiable' };
    // A non-zero suffix of an empty representation is satisfiable: it is all of it, nothing.
    if (size === 0) return { kind: 'full' };
    return { kind: 'partial', range: { start: Math.max(0, size - last!), end: size - 1 } };
  }
  if (first >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start: first, end: last === undefined ? size - 1 : Math.min(last, size - 1) } };
}

/** One byte-range-spec (`a-b`, `a-`) or suffix-range (`-n`); undefined when invalid, as `b < a` is (§14.1.1). */
function rangeSpec(spec: string): { first?: number; last?: number } | undefined {
  const m = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if ((a === '' && b === '') || (a !== '' && !int.test(a)) || (b !== '' && !int.test(b))) return undefined;
  const first = a === '' ? undefined : Number(a);
  const last = b === '' ? undefined : Number(b);
  if (first !== undefined && last !== undefined && last < first) return undefined;
  return { first, last };
}

/**
 * Parses an upload chunk's `Content-Range`. The distribution spec writes it `<start>-<end>`;
 * clients also send the RFC form `bytes <start>-<end>/<total|*>`, so both are accepted.
 */
export function parseContentRange(header: string): ByteRange {
  const m = /^\s*(?:bytes[ =])?\s*(\d{1,15})-(\d{1,15})(?:\/(\d{1,15}|\*))?\s*$/i.exec(header);
  if (!m) {
    throw new OciError('BLOB_UPLOAD_INVALID', 'malformed Content-Range: expected <start>-<end>', {
      detail: { 'Content-Range': header.slice(0, 100) },
    });
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3];
  if (end < start || (total !== undefined && total !== '*' && Number(total) <= end)) {
    throw new OciError('BLOB_UPLOAD_INVALID', 'malformed Content-Range: its end is before its start or beyond its total');
  }
  return { start, end };
}
