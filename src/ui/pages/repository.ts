/** One repository: its tags with digest, type, size, platforms and times, in pages. */
import type { Described } from '../describe.ts';
import { isTag } from '../../oci/names.ts';
import { maxPageSize } from '../../registry/paging.ts';
import { formatAge, formatBytes, formatPlatform, mediaTypeLabel, shortDigest } from '../format.ts';
import { html, type Html } from '../html.ts';
import { page, type View } from '../layout.ts';
import { artifactOf } from '../model.ts';
import { mapLimit, pager, pullCommands } from '../parts.ts';
import type { TagTimes } from '../facts.ts';
import { notFound } from './errors.ts';
import { ok, type Reply, type Sources } from './reply.ts';

export interface TagQuery {
  q?: string | undefined;
  last?: string | undefined;
  /** Tags per page, instead of the configured size (at most 1000). */
  n?: string | undefined;
  /** A tag just deleted, to confirm it on the page. */
  deleted?: string | undefined;
}

const when = (at: Date | undefined): Html => (at ? html`<time datetime="${at.toISOString()}" title="${at.toISOString()}">${formatAge(at)}</time>` : html`<span class="muted">—</span>`);

function artifactBadge(d: Described | undefined): Html {
  const type = artifactOf(d?.view);
  return type === undefined ? html`` : html` <span class="badge">${type}</span>`;
}

function platformsCell(d: Described | undefined): Html {
  if (!d || d.platforms.length === 0) return html`<span class="muted">—</span>`;
  return html`${d.platforms.map((p, i) => (i > 0 ? `, ${formatPlatform(p)}` : formatPlatform(p)))}`;
}

/** After a delete: what went, if the parameter names a tag or a digest (it is only ever a notice). */
function deletedNotice(deleted: string | undefined): Html {
  if (deleted === undefined) return html``;
  if (isTag(deleted)) return html`<p class="notice" role="status">Deleted tag <strong>${deleted}</strong>.</p>`;
  if (/^[a-z0-9]+:[a-f0-9]{32,128}$/.test(deleted)) return html`<p class="notice" role="status">Deleted manifest <code>${deleted}</code> and its tags.</p>`;
  return html``;
}

export async function repositoryPage(view: View, src: Sources, name: string, query: TagQuery): Promise<Reply> {
  const { paths, viewer } = view;
  if (!viewer.mayPull(name)) return viewer.authOn && viewer.user === undefined ? { redirect: paths.login(paths.repo(name)) } : notFound(view, `No repository ${name} that you may see.`);
  const all = await src.registry.tags(name);
  if (all.length === 0 && !(await src.registry.exists(name))) return notFound(view, `No repository ${name} that you may see.`);

  const mirror = src.registry.mirrorOf(name);
  const q = (query.q ?? '').trim().slice(0, 128);
  const matching = q === '' ? all : all.filter((t) => t.toLowerCase().includes(q.toLowerCase()));
  const from = query.last === undefined ? matching : matching.filter((t) => t > (query.last as string));
  const n = query.n !== undefined && /^\d{1,4}$/.test(query.n) ? Math.min(Math.max(Number(query.n), 1), maxPageSize) : undefined;
  const shown = from.slice(0, n ?? src.pageSize);
  const next = from.length > shown.length ? paths.repo(name, { q, n: n === undefined ? undefined : String(n), last: shown.at(-1) }) : undefined;

  const [rows, times] = await Promise.all([
    mapLimit(shown, 16, async (tag) => {
      const described = await src.describer.describe(name, tag);
      return { tag, ref: described?.ref, described };
    }),
    src.facts.tagTimes(name, shown),
  ]);
  const timeOf = (tag: string): TagTimes => times.get(tag) ?? {};
  const showPushed = shown.some((t) => timeOf(t).pushed);
  const showPulled = shown.some((t) => timeOf(t).lastPulled);
  const mayDelete = !mirror && src.deletes.tags && viewer.mayDelete(name);

  const head = html`<tr><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col">Type</th><th scope="col" class="num">Size</th><th scope="col">Platforms</th>${showPushed ? html`<th scope="col">Pushed</th>` : ''}${showPulled ? html`<th scope="col">Last pulled</th>` : ''}${mayDelete ? html`<th scope="col"><span class="muted">Actions</span></th>` : ''}</tr>`;
  const body = rows.map(({ tag, ref, described }) => {
    const cells = ref
      ? html`<td class="mono"><a href="${paths.manifest(name, ref.digest)}">${shortDigest(ref.digest)}</a></td><td>${mediaTypeLabel(ref.mediaType)}${artifactBadge(described)}</td><td class="num">${described ? formatBytes(described.total) : '—'}</td><td class="mono">${platformsCell(described)}</td>`
      : html`<td colspan="4" class="muted">points at a manifest that is not stored</td>`;
    return html`<tr><th scope="row"><a href="${paths.manifest(name, tag)}">${tag}</a></th>${cells}${showPushed ? html`<td>${when(timeOf(tag).pushed)}</td>` : ''}${showPulled ? html`<td>${when(timeOf(tag).lastPulled)}</td>` : ''}${mayDelete ? html`<td><a href="${paths.remove(name, { tag })}" aria-label="Delete tag ${tag}">Delete…</a></td>` : ''}</tr>`;
  });

  const about = mirror
    ? html`<p><span class="badge">mirror of ${mirror.upstream}</span> <code>${mirror.remote}</code>: the tags cached here; the upstream may have more.</p>`
    : html`<p><span class="badge">local</span> pushed to this registry.</p>`;
  const deleted = deletedNotice(query.deleted);
  const search = html`<form class="search" method="get" action="${paths.repo(name)}" role="search">
<label for="q">Find a tag</label>
<input type="search" id="q" name="q" value="${q}" autocomplete="off" spellcheck="false">
<button type="submit">Find</button></form>`;
  const count = html`<p class="muted">${all.length === 1 ? '1 tag' : `${all.length} tags`}${q === '' ? '' : html`, ${matching.length} matching “${q}”`}.${showPushed || showPulled ? '' : ' Push and pull times are not recorded by this registry yet.'}</p>`;
  const table = rows.length === 0 ? html`<p>No tags${q === '' ? '' : ' match'}.</p>` : html`<table><thead>${head}</thead><tbody>${body}</tbody></table>`;
  const pull = shown[0] === undefined ? '' : html`<h2>Pull</h2>${pullCommands(view, name, shown[0], rows[0]?.described?.view?.kind === 'index')}`;
  return ok(page(view, name, 'repositories', html`<h1>${name}</h1>${about}${deleted}${search}${count}${table}${pager(next)}${pull}`));
}
