/**
 * The spec's `Warning` header (distribution-spec: Warnings): `299 - "<text>"`, warn-code 299,
 * warn-agent `-`, no warn-date, and at most 4096 bytes of warning data in a response.
 */

/** The spec's bound on all warning data of a response; the field name and its `: ` count too, so any reading of it holds. */
export const maxWarningBytes = 4096;
const fieldName = 'Warning: ';
const prefix = '299 - "';
const cut = '...';

/**
 * The value of a `Warning` header carrying `text`: a quoted-string (RFC 9110) with `"` and `\`
 * escaped, anything but printable ASCII (control characters, line breaks, non-ASCII, which a header
 * cannot carry safely) as `?`, and cut with `...` so the whole field line fits `maxWarningBytes`.
 */
export function warningValue(text: string): string {
  const room = maxWarningBytes - fieldName.length - prefix.length - 1;
  const pieces: string[] = [];
  let length = 0;
  for (let i = 0; i < text.length && length <= room; i++) {
    const code = text.charCodeAt(i);
    const c = code >= 0x20 && code <= 0x7e ? text[i]! : '?';
    const piece = c === '"' || c === '\\' ? `\\${c}` : c;
    pieces.push(piece);
    length += piece.length;
  }
  if (length <= room) return `${prefix}${pieces.join('')}"`;
  // Too long: whole pieces up to the cut mark, so an escape is never split from what it escapes.
  let out = '';
  for (const piece of pieces) {
    if (out.length + piece.length > room - cut.length) break;
    out += piece;
  }
  return `${prefix}${out}${cut}"`;
}
