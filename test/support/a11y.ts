/**
 * Accessibility checks run in the browser on a page as it is rendered: every interactive element
 * reachable with Tab and showing where focus is, and the contrast of the page's actual colours
 * (WCAG 2: 4.5:1 for text, 3:1 for large text and for focus indicators).
 */
import type { Page } from 'playwright-core';

const focusable = 'a[href], button:not([disabled]), input:not([type="hidden"]):not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

export interface TabReport {
  /** Interactive elements on the page (described), in document order. */
  elements: string[];
  /** Those Tab never reached. */
  unreached: string[];
  /** Those that, focused from the keyboard, showed no visible outline (or one under 3:1 against the page). */
  invisibleFocus: string[];
}

/** Presses Tab from the top of the page until focus comes round again, looking at each stop. */
export async function tabThrough(page: Page): Promise<TabReport> {
  const elements = await page.evaluate((selector) => {
    const all = [...document.querySelectorAll<HTMLElement>(selector)].filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden');
    return all.map((el, i) => {
      el.dataset.tabCheck = String(i);
      return `${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 40) || el.getAttribute('aria-label') || el.getAttribute('name') || ''}"`;
    });
  }, focusable);
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
  const reached = new Set<number>();
  const invisibleFocus: string[] = [];
  for (let i = 0; i < elements.length + 5; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body || el.dataset.tabCheck === undefined) return undefined;
      const style = getComputedStyle(el);
      const width = parseFloat(style.outlineWidth);
      return { index: Number(el.dataset.tabCheck), outline: style.outlineStyle !== 'none' && width >= 2 ? style.outlineColor : undefined, background: effectiveBackground(el.parentElement ?? el) };

      function effectiveBackground(start: HTMLElement): string {
        for (let node: HTMLElement | null = start; node; node = node.parentElement) {
          const bg = getComputedStyle(node).backgroundColor;
          if (bg !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(bg)) return bg;
        }
        return getComputedStyle(document.documentElement).backgroundColor;
      }
    });
    if (!stop) continue;
    if (reached.has(stop.index)) break;
    reached.add(stop.index);
    if (!stop.outline || contrast(stop.outline, stop.background) < 3) invisibleFocus.push(elements[stop.index] ?? '?');
  }
  return { elements, unreached: elements.filter((_, i) => !reached.has(i)), invisibleFocus };
}

export interface ContrastFailure {
  text: string;
  color: string;
  background: string;
  ratio: number;
  required: number;
}

/** Every element holding text, with its colour against the background it is drawn on. */
export async function contrastFailures(page: Page): Promise<ContrastFailure[]> {
  const samples = await page.evaluate(() => {
    const out: Array<{ text: string; color: string; background: string; large: boolean }> = [];
    const background = (start: Element): string => {
      for (let node: Element | null = start; node; node = node.parentElement) {
        const bg = getComputedStyle(node).backgroundColor;
        if (bg !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(bg)) return bg;
      }
      return getComputedStyle(document.documentElement).backgroundColor;
    };
    for (const el of document.body.querySelectorAll('*')) {
      const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim() !== '');
      if (own.length === 0 || el.getClientRects().length === 0) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      const size = parseFloat(style.fontSize);
      const bold = Number(style.fontWeight) >= 700;
      out.push({ text: own.map((n) => n.textContent?.trim()).join(' ').slice(0, 50), color: style.color, background: background(el), large: size >= 24 || (bold && size >= 18.66) });
    }
    return out;
  });
  return samples
    .map((s) => ({ text: s.text, color: s.color, background: s.background, ratio: contrast(s.color, s.background), required: s.large ? 3 : 4.5 }))
    .filter((s) => s.ratio < s.required);
}

function rgb(css: string): [number, number, number] {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(css);
  if (!m) throw new Error(`unexpected colour ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

const luminance = (css: string): number => {
  const [r, g, b] = rgb(css).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

/** The WCAG contrast ratio of two CSS colours (opaque). */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
}
