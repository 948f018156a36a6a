/**
 * HTML built by one tagged template that escapes everything interpolated into it unless it is
 * already `Html`. Registry content is hostile (annotations, media types, image configs are whatever
 * a pusher wrote), so there is no other way to put text into a page. Synchronous on purpose:
 * pages gather their data first and render in one pass (hono/html may return a Promise).
 */
export class Html {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  toString(): string {
    return this.text;
  }
}

export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const special = /[&<>"']/;

/** Text made safe for element content and quoted attribute values. */
export const escapeText = (s: string): string => (special.test(s) ? s.replace(/[&<>"']/g, (ch) => entities[ch] ?? ch) : s);

// Strings are joined with `+=` (ropes in every engine): a page of a thousand rows is some ten
// thousand fragments, and arrays joined at each level cost twice as much.
function render(part: Part): string {
  if (typeof part === 'string') return escapeText(part);
  if (part instanceof Html) return part.text;
  if (typeof part === 'number') return String(part);
  if (part === null || part === undefined || typeof part === 'boolean') return '';
  let out = '';
  for (const p of part) out += render(p);
  return out;
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Markup written by berth itself (never registry content). */
export const trusted = (s: string): Html => new Html(s);
