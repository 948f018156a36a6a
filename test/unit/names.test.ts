import { describe, expect, it } from 'vitest';
import { isTag, maxNameLength, validateName, validateTag } from '../../src/oci/names.ts';

describe('validateName', () => {
  const long = (n: number): string => 'a'.repeat(n);
  // 255 characters made of several components, so the limit is not only tested on one.
  const longPath = `${'abc/'.repeat(63)}abc`;

  it('allows names up to 255 characters', () => {
    expect(maxNameLength).toBe(255);
    expect(longPath).toHaveLength(255);
  });

  it.each(['a', 'a/b', 'a-b', 'a--b', 'a__b', 'a.b', 'a_b', '0', 'library/ubuntu', 'a/b/c/d', 'my.registry-x/sub__x/z', long(255), longPath])(
    'accepts %s',
    (name) => {
      expect(validateName(name)).toBe(name);
    },
  );

  it.each([
    ['empty', ''],
    ['uppercase', 'Library/ubuntu'],
    ['leading underscore', '_a'],
    ['trailing underscore', 'a_'],
    ['triple underscore', 'a___b'],
    ['double dot', 'a..b'],
    ['mixed separators', 'a._b'],
    ['leading dash', '-a'],
    ['trailing dash', 'a-'],
    ['empty component', 'a//b'],
    ['leading slash', '/a'],
    ['trailing slash', 'a/'],
    ['dot-dot', '..'],
    ['dot', '.'],
    ['dot-dot component', 'a/../b'],
    ['dot component', 'a/./b'],
    ['component starting with _', 'a/_manifests'],
    ['leading dot', '.a'],
    ['256 characters', long(256)],
    ['256 characters in components', `${longPath}a`],
    ['unicode', 'café'],
    ['fullwidth letter', 'ａ'],
    ['space', 'a b'],
    ['colon', 'a:b'],
    ['backslash', 'a\\b'],
    ['trailing newline', 'a\n'],
  ])('rejects %s as NAME_INVALID', (_, name) => {
    expect(() => validateName(name)).toThrow(expect.objectContaining({ name: 'OciError', code: 'NAME_INVALID', status: 400 }));
  });
});

describe('tags', () => {
  it.each(['latest', 'v1.0', '_x', 'V1', '1', 'a-b_c.d', 'x'.repeat(128)])('accepts %s', (tag) => {
    expect(isTag(tag)).toBe(true);
    expect(validateTag(tag)).toBe(tag);
  });

  it.each([
    ['129 characters', 'x'.repeat(129)],
    ['leading dash', '-x'],
    ['leading dot', '.x'],
    ['colon', 'a:b'],
    ['slash', 'a/b'],
    ['empty', ''],
    ['space', 'a b'],
    ['unicode', 'vé'],
    ['trailing newline', 'latest\n'],
    ['a digest', `sha256:${'a'.repeat(64)}`],
  ])('rejects %s', (_, tag) => {
    expect(isTag(tag)).toBe(false);
    expect(() => validateTag(tag)).toThrow(expect.objectContaining({ name: 'OciError', status: 400 }));
  });
});
