import { getRandomValues } from 'node:crypto';

/**
 * Random trace and span ids as lower-case hex. One `getRandomValues` call fills a pool that
 * serves hundreds of ids, so a sampled request does not pay a system call per span.
 */

const hexByte = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const pool = new Uint8Array(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    getRandomValues(pool);
    used = 0;
  }
  let out = '';
  let zero = true;
  for (let i = 0; i < bytes; i++) {
    const b = pool[used++]!;
    if (b !== 0) zero = false;
    out += hexByte[b];
  }
  // All zeroes is W3C's "invalid id".
  return zero ? randomHex(bytes) : out;
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

export interface RemoteParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * A W3C Trace Context `traceparent` header (version 00, or a later one read as 00 allows), or
 * undefined when it is absent or malformed: a bad header starts a new trace, it is not an error.
 */
export function parseTraceparent(header: string | null | undefined): RemoteParent | undefined {
  if (!header) return undefined;
  const m = traceparentPattern.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export const formatTraceparent = (traceId: string, spanId: string, sampled: boolean): string => `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
