/** The home page: repositories the viewer may pull, searchable, local and mirrored, in pages. */
import { html, type Html } from '../html.ts';
import { page, type View } from '../layout.ts';
import { mapLimit, pager } from '../parts.ts';
import { repositoryName } from '../source.ts';
import { ok, type Reply, type Sources } from './reply.ts';

export interface RepositoryQuery {
  q?: string | undefined;
  kind?: string | undefined;
  last?: string | undefined;
  /** "Open a repository by name", for viewers who may not list them. */
  open?: string | undefined;
}

type Kind = 'all' | 'local' | 'mirrored';
const kindOf = (s: string | undefined): Kind => (s === 'local' || s === 'mirrored' ? s : 'all');

function openForm(view: View): Html {
  return html`<form class="search" method="get" action="${view.paths.home()}" role="search">
<label for="open">Repository name</label>
<input type="text" id="open" name="open" required autocomplete="off" spellcheck="false">
<button type="submit">Open</button></form>`;
}

export async function repositoriesPage(view: View, src: Sources, query: RepositoryQuery): Promise<Reply> {
  const { viewer, paths } = view;
  if (query.open !== undefined) {
    const name = repositoryName(query.open.trim().toLowerCase());
    if (name !== undefined) return { redirect: paths.repo(name) };
  }
  if (!viewer.mayList) {
    const why = viewer.user === undefined && viewer.authOn
      ? html`<p><a href="${paths.login(paths.home())}">Sign in</a> to see the repositories you may pull, or open one by name.</p>`
      : html`<p>Your account may not list repositories; open one by name.</p>`;
    return ok(page(view, 'Repositories', 'repositories', html`<h1>Repositories</h1>${why}${openForm(view)}`));
  }

  const q = (query.q ?? '').trim().slice(0, 200);
  const kind = kindOf(query.kind);
  const needle = q.toLowerCase();
  const matching = (await src.registry.repositories()).filter(
    (name) =>
      viewer.mayPull(name) &&
      (needle === '' || name.includes(needle)) &&
      (kind === 'all' || (src.registry.mirrorOf(name) === undefined) === (kind === 'local')),
  );
  const from = query.last === undefined ? matching : matching.filter((n) => n > (query.last as string));
  const shown = from.slice(0, src.pageSize);
  const next = from.length > shown.length ? paths.home({ q, kind: kind === 'all' ? undefined : kind, last: shown.at(-1) }) : undefined;
  const rows = await mapLimit(shown, 8, async (name) => ({ name, mirror: src.registry.mirrorOf(name), tags: (await src.registry.tags(name)).length }));

  const option = (value: Kind, label: string): Html =>
    value === kind ? html`<option value="${value}" selected>${label}</option>` : html`<option value="${value}">${label}</option>`;
  const filters = html`<form class="search" method="get" action="${paths.home()}" role="search">
<label for="q">Search</label>
<input type="search" id="q" name="q" value="${q}" placeholder="name contains…" autocomplete="off" spellcheck="false">
<label for="kind">Show</label>
<select id="kind" name="kind">${option('all', 'all repositories')}${option('local', 'local (pushed here)')}${option('mirrored', 'mirrored')}</select>
<button type="submit">Filter</button>
</form>`;
  const summary = html`<p class="muted">${matching.length === 1 ? '1 repository' : `${matching.length} repositories`}${q === '' ? '' : html` matching “${q}”`}${query.last === undefined ? '' : html`, after ${query.last}`}.</p>`;
  const table =
    rows.length === 0
      ? html`<p>No repositories${q === '' && kind === 'all' ? ' yet: push one, or pull through the mirror' : ' match'}.</p>`
      : html`<table><thead><tr><th scope="col">Repository</th><th scope="col">Kind</th><th scope="col" class="num">Tags</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td><a href="${paths.repo(r.name)}">${r.name}</a></td><td>${r.mirror ? html`<span class="badge">mirror of ${r.mirror.upstream}</span>` : html`<span class="badge">local</span>`}</td><td class="num">${r.tags}</td></tr>`,
)}
</tbody></table>`;
  return ok(page(view, 'Repositories', 'repositories', html`<h1>Repositories</h1>${filters}${summary}${table}${pager(next)}`));
}
