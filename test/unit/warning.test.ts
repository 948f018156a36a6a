import { describe, expect, it } from 'vitest';
import { maxWarningBytes, warningValue } from '../../src/oci/warning.ts';
import { staleWarning } from '../../src/http/responses.ts';

/** RFC 9110's quoted-string over printable ASCII: qdtext, or a backslash and the character it escapes. */
const quoted = /^"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\[\t\x20-\x7e])*"$/;
const fieldBytes = (value: string): number => Buffer.byteLength(`Warning: ${value}`);

describe('Warning (distribution-spec: Warnings)', () => {
  it('is 299, agent "-", a quoted text and no date', () => {
    expect(warningValue('Your auth token will expire in 30 seconds.')).toBe('299 - "Your auth token will expire in 30 seconds."');
    expect(staleWarning('upstream hub answered 503')).toBe('299 - "Response is stale: upstream hub answered 503"');
  });

  it('escapes quotes and backslashes, and turns what a header cannot carry into ?', () => {
    const value = warningValue('a "b" \\c\r\nd\u0000é\u{1F600}');
    expect(value).toBe('299 - "a \\"b\\" \\\\c??d?????"'.replace('?????', '????'));
    expect(value.slice('299 - '.length)).toMatch(quoted);
  });

  it('keeps the whole field under 4096 bytes, however long the text, without splitting an escape', () => {
    for (const text of ['x'.repeat(100_000), '"'.repeat(10_000), `${'y'.repeat(4075)}"yyyy`, 'é'.repeat(9_000), '\\'.repeat(5_000)]) {
      const value = warningValue(text);
      expect(fieldBytes(value), text.slice(0, 10)).toBeLessThanOrEqual(maxWarningBytes);
      expect(value.startsWith('299 - "')).toBe(true);
      expect(value.endsWith('..."')).toBe(true);
      expect(value.slice('299 - '.length)).toMatch(quoted);
    }
    // The escape that would straddle the cut goes whole.
    expect(warningValue(`${'y'.repeat(4075)}"yyyy`).endsWith('yy..."')).toBe(true);
    // A text that just fits is not cut.
    const fits = 'z'.repeat(maxWarningBytes - 'Warning: 299 - ""'.length);
    expect(warningValue(fits)).toBe(`299 - "${fits}"`);
    expect(fieldBytes(warningValue(fits))).toBe(maxWarningBytes);
    expect(warningValue(`${fits}z`).endsWith('z..."')).toBe(true);
  });
});
