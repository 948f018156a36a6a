/**
 * The UI's stylesheet, script and icon, shipped inside the code (no build step, no CDN, nothing to
 * copy next to dist/). Served under a content hash with a year's caching. Colours are chosen for
 * WCAG AA contrast in both schemes (the browser tests measure them), focus is always visible, and
 * the script only adds conveniences: every page works without it.
 */
import { createHash } from 'node:crypto';

const css = `
:root {
  --bg: #ffffff; --fg: #1b1f24; --muted: #545d68; --link: #0a56c2; --border: #c9d1d9;
  --subtle: #f3f5f7; --bar: #1b1f24; --bar-fg: #ffffff; --focus: #0a56c2; --bar-focus: #ffd33d;
  --button: #0a56c2; --button-fg: #ffffff; --danger: #b42318; --danger-fg: #ffffff;
  --ok: #116329; --warn: #8a4600; --notice-bg: #e8f1fb; --error-bg: #fdecea;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #a3adb8; --link: #74b9ff; --border: #3d444d;
    --subtle: #161b22; --bar: #010409; --bar-fg: #f0f6fc; --focus: #74b9ff; --bar-focus: #ffd33d;
    --button: #1f6feb; --button-fg: #ffffff; --danger: #b62324; --danger-fg: #ffffff;
    --ok: #56d364; --warn: #e3b341; --notice-bg: #10243e; --error-bg: #3c1618;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--link); }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 2px; }
.skip { position: absolute; left: -9999px; top: 0; background: var(--bg); color: var(--link); padding: .5rem 1rem; }
.skip:focus { left: .5rem; top: .5rem; z-index: 10; }
header.bar { background: var(--bar); color: var(--bar-fg); }
header.bar nav { max-width: 72rem; margin: 0 auto; padding: .6rem 1rem; display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; align-items: center; }
header.bar a, header.bar button.link { color: var(--bar-fg); text-decoration: none; }
header.bar a:hover, header.bar button.link:hover { text-decoration: underline; }
header.bar a[aria-current="page"] { text-decoration: underline; text-underline-offset: 4px; }
header.bar :focus-visible { outline-color: var(--bar-focus); }
header.bar .brand { font-weight: 700; font-size: 1.1rem; margin-right: .5rem; }
header.bar .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
header.bar form { margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
p, dl { margin: .5rem 0; }
.muted { color: var(--muted); }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
code { background: var(--subtle); padding: .05rem .3rem; border-radius: 3px; overflow-wrap: anywhere; }
pre { background: var(--subtle); padding: .75rem; border: 1px solid var(--border); border-radius: 4px; overflow: auto; max-height: 40rem; white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--border); vertical-align: top; }
th { font-weight: 600; }
caption { text-align: left; color: var(--muted); padding: .25rem 0; }
td.num, th.num { text-align: right; white-space: nowrap; }
td { overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
form.inline { display: inline; }
form.search { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0 1rem; }
input, select, button { font: inherit; }
input[type="search"], input[type="text"], input[type="password"], select {
  padding: .35rem .5rem; border: 1px solid var(--muted); border-radius: 4px; background: var(--bg); color: var(--fg);
}
button, .button {
  display: inline-block; padding: .35rem .9rem; border: 1px solid var(--button); border-radius: 4px;
  background: var(--button); color: var(--button-fg); cursor: pointer; text-decoration: none;
}
button.secondary, .button.secondary { background: var(--bg); color: var(--link); border-color: var(--muted); }
button.danger, .button.danger { background: var(--danger); border-color: var(--danger); color: var(--danger-fg); }
button.link { background: none; border: none; padding: 0; color: var(--link); text-decoration: underline; cursor: pointer; }
button.copy { padding: .1rem .5rem; font-size: .85rem; margin-left: .5rem; }
.notice, .error { padding: .6rem .9rem; border-radius: 4px; border: 1px solid var(--border); margin: .75rem 0; }
.notice { background: var(--notice-bg); }
.error { background: var(--error-bg); }
.ok { color: var(--ok); }
.warn { color: var(--warn); }
.badge { display: inline-block; padding: 0 .45rem; border: 1px solid var(--muted); border-radius: 999px; font-size: .8rem; color: var(--muted); white-space: nowrap; }
ul.inline-list { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; }
ul.tree { list-style: none; padding-left: 1.25rem; border-left: 2px solid var(--border); margin: .25rem 0; }
ul.tree > li { margin: .35rem 0; }
.commands li { margin: .3rem 0; }
.pager { display: flex; gap: 1rem; margin: 1rem 0; }
.login { max-width: 24rem; }
.login label { display: block; margin: .75rem 0 .25rem; }
.login input { width: 100%; }
.login button { margin-top: 1rem; }
.actions { display: flex; gap: .75rem; align-items: center; margin-top: 1rem; }
`;

const js = `
(() => {
  'use strict';
  // Copy buttons beside pull commands: added here, so a page without script shows no dead button.
  for (const el of document.querySelectorAll('[data-copy]')) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'copy secondary';
    button.textContent = 'Copy';
    button.setAttribute('aria-label', 'Copy ' + el.textContent);
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(el.textContent);
        button.textContent = 'Copied';
      } catch {
        // No clipboard outside a secure context: select the text for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(el);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = 'Selected';
      }
      setTimeout(() => (button.textContent = 'Copy'), 1500);
    });
    el.after(button);
  }
  // "/" jumps to the search field, as on most sites with one.
  const search = document.querySelector('input[type="search"]');
  if (search) {
    document.addEventListener('keydown', (e) => {
      const t = e.target;
      if (e.key === '/' && !(t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement)) {
        e.preventDefault();
        search.focus();
      }
    });
  }
})();
`;

// A container with a layer on top: the registry's mark, drawn with the UI's own link colour.
const icon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="3" y="14" width="26" height="14" rx="2" fill="#0a56c2"/><rect x="7" y="5" width="18" height="7" rx="2" fill="#1b1f24"/></svg>`;

export interface Asset {
  /** The file name with its content hash, e.g. `ui.3f2a1b4c.css`. */
  name: string;
  type: string;
  body: string;
}

function asset(base: string, ext: string, type: string, body: string): Asset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 10);
  return { name: `${base}.${hash}.${ext}`, type, body };
}

export const assets = {
  css: asset('ui', 'css', 'text/css; charset=utf-8', css),
  js: asset('ui', 'js', 'text/javascript; charset=utf-8', js),
  icon: asset('icon', 'svg', 'image/svg+xml', icon),
};
