import { describe, expect, it } from 'vitest';
import { digestBytes, formatDigest, parseDigest } from '../../src/oci/digest.ts';
import { OciError } from '../../src/oci/errors.ts';

const hex64 = '0123456789abcdef'.repeat(4);
const hex128 = hex64.repeat(2);


describe('parseDigest', () => {
  it.each([
    ['sha256', hex64],
    ['sha512', hex128],
  ])('accepts %s with lowercase hex of the right length', (algorithm, hex) => {
    expect(parseDigest(`${algorithm}:${hex}`)).toEqual({ algorithm, hex });
  });

  it.each([
    ['sha256 one character short', `sha256:${hex64.slice(1)}`],
    ['sha256 one character long', `sha256:${hex64}0`],
    ['sha256 with a sha512-length hex', `sha256:${hex128}`],
    ['sha512 with a sha256-length hex', `sha512:${hex64}`],
    ['uppercase hex', `sha256:${hex64.toUpperCase()}`],
    ['one uppercase character', `sha256:A${hex64.slice(1)}`],
    ['uppercase algorithm', `SHA256:${hex64}`],
    ['non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['md5', `md5:${hex64.slice(0, 32)}`],
    ['sha384', `sha384:${hex64}${hex64.slice(0, 32)}`],
    ['missing colon', `sha256${hex64}`],
    ['empty hex', 'sha256:'],
    ['empty algorithm', `:${hex64}`],
    ['empty string', ''],
    ['two colons', `sha256::${hex64}`],
    ['leading space', ` sha256:${hex64}`],
    ['trailing newline', `sha256:${hex64}\n`],
    ['a huge string', `sha256:${'a'.repeat(1_000_000)}`],
  ])('rejects %s as DIGEST_INVALID (400)', (_, input) => {
    expect(() => parseDigest(input)).toThrow(expect.objectContaining({ name: 'OciError', code: 'DIGEST_INVALID', status: 400 }));
  });

  it('does not echo a huge input back in the error body', () => {
    let error: unknown;
    try {
      parseDigest(`sha256:${'a'.repeat(1_000_000)}`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OciError);
    expect(JSON.stringify((error as OciError).toJSON()).length).toBeLessThan(1000);
  });
});

describe('digestBytes', () => {
  const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

  it.each([
    ['sha256', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['sha256', 'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      'sha512',
      'abc',
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    ],
  ] as const)('%s of %j is the known vector', (algorithm, input, hex) => {
    expect(digestBytes(utf8(input), algorithm)).toEqual({ algorithm, hex });
  });

  it('uses sha256 by default and round-trips through formatDigest/parseDigest', () => {
    const d = digestBytes(utf8('abc'));
    expect(d.algorithm).toBe('sha256');
    expect(parseDigest(formatDigest(d))).toEqual(d);
  });
});
