import { OciError } from './errors.ts';

// The spec's repository name grammar: path components of lowercase alphanumerics joined by
// '.', '_', '__' or runs of '-'. No component can start with '_' or '.', which is what lets
// storage keep its own entries (`_manifests`, `_tags`, ...) beside them and keeps `..` out.
const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const nameRe = new RegExp(`^${component}(?:/${component})*$`);
const tagRe = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Clients limit the whole reference (host + name) to 255 characters; so do we for the name. */
export const maxNameLength = 255;

export function validateName(name: string): string {
  if (name.length === 0 || name.length > maxNameLength) {
    throw new OciError('NAME_INVALID', `repository name must be 1 to ${maxNameLength} characters`, {
      detail: { length: name.length },
    });
  }
  if (!nameRe.test(name)) {
    throw new OciError('NAME_INVALID', 'invalid repository name', { detail: { name } });
  }
  return name;
}

export const isTag = (s: string): boolean => tagRe.test(s);

export function validateTag(tag: string): string {
  if (!tagRe.test(tag)) {
    throw new OciError('MANIFEST_INVALID', 'invalid tag: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', {
      detail: { tag: tag.slice(0, 200) },
    });
  }
  return tag;
}
