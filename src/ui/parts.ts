/** Pieces several pages share: digests, media types, annotations, pull commands, paging. */
import { formatBytes, mediaTypeLabel, shortDigest } from './format.ts';
import { html, type Html } from './html.ts';
import type { View } from './layout.ts';

export const digestLink = (href: string, digest: string): Html => html`<a class="mono" href="${href}" title="${digest}">${shortDigest(digest)}</a>`;

/** A well-known media type by its short name (the full one on hover), any other as it is. */
export const mediaType = (type: string): Html => {
  const label = mediaTypeLabel(type);
  return label === type ? html`<code>${type}</code>` : html`<span title="${type}">${label}</span>`;
};

/** 1234567 → "1,234,567" (toLocaleString costs a hundred times more, on every row of a page). */
export const thousands = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

export const size = (n: number): Html => html`<span title="${thousands(n)} bytes">${formatBytes(n)}</span>`;

export function annotationsTable(pairs: Array<[string, string]>, caption: string): Html {
  if (pairs.length === 0) return html``;
  return html`<table><caption>${caption}</caption>
<thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
<tbody>${pairs.map(([k, v]) => html`<tr><td><code>${k}</code></td><td>${v}</td></tr>`)}</tbody></table>`;
}

/** Pull commands for docker, podman and skopeo, by tag or by digest. */
export function pullCommands(view: View, name: string, reference: string, isIndex: boolean): Html {
  const ref = `${view.host}/${name}${reference.includes(':') ? '@' : ':'}${reference}`;
  const local = `${name.split('/').at(-1) ?? name}${reference.includes(':') ? '' : `:${reference}`}`;
  const tls = view.insecure ? ' --tls-verify=false' : '';
  const srcTls = view.insecure ? ' --src-tls-verify=false' : '';
  const commands = [
    ['docker', `docker pull ${ref}`],
    ['podman', `podman pull${tls} ${ref}`],
    ['skopeo', `skopeo copy${isIndex ? ' --all' : ''}${srcTls} docker://${ref} oci:${local}`],
  ];
  const note = view.insecure
    ? html`<p class="muted">Over plain HTTP: docker needs <code>${view.host}</code> in its daemon's <code>insecure-registries</code> (except for localhost).</p>`
    : '';
  return html`<ul class="commands">${commands.map(([tool, cmd]) => html`<li><span class="badge">${tool}</span> <code data-copy>${cmd ?? ''}</code></li>`)}</ul>${note}`;
}

/** "Next page" link when there is more. */
export const pager = (next: string | undefined): Html => (next === undefined ? html`` : html`<nav class="pager" aria-label="Pages"><a href="${next}" rel="next">Next page →</a></nav>`);

/** Maps with at most `limit` calls in flight: a page never fans out without a bound. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
