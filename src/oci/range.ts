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
 * One range is served; a syntactically invalid or multi-range header is ignored (the whole
 * representation is sent), which is what the RFC allows and what caches expect.
 */
export function parseRangeHeader(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'full' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'full' };
  if ((first !== '' && !int.test(first)) || (last !== '' && !int.test(last))) return { kind: 'full' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (n === 0) return { kind: 'unsatisfiable' };
    // A non-zero suffix of an empty representation is satisfiable: it is all of it, nothing.
    if (size === 0) return { kind: 'full' };
    return { kind: 'partial', range: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'full' }; // invalid per RFC: ignore
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
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
