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

/** Text made safe for element content and quoted attribute values. */
export const escapeText = (s: string): string => s.replace(/[&<>"']/g, (ch) => entities[ch] ?? ch);

function append(out: string[], part: Part): void {
  if (part === null || part === undefined || part === false || part === true) return;
  if (part instanceof Html) out.push(part.text);
  else if (typeof part === 'string') out.push(escapeText(part));
  else if (typeof part === 'number') out.push(String(part));
  else for (const p of part) append(out, p);
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  const out: string[] = [strings[0] ?? ''];
  for (let i = 0; i < values.length; i++) {
    append(out, values[i]);
    out.push(strings[i + 1] ?? '');
  }
  return new Html(out.join(''));
}

/** Markup written by berth itself (never registry content). */
export const trusted = (s: string): Html => new Html(s);
