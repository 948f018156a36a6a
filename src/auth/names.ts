import { validateName } from '../oci/names.ts';

/** A boolean form of the spec's name check, for places where an invalid name is simply skipped. */
export function isValidName(name: string): boolean {
  try {
    validateName(name);
    return true;
  } catch {
    return false;
  }
}
