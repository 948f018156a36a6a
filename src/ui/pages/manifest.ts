/** A manifest or an index: platforms or config and layers, annotations, referrers, raw JSON, pull commands. */
import { configLimit } from '../describe.ts';
import { formatPlatform, shortDigest, type ReferrerKind } from '../format.ts';
import { html, type Html } from '../html.ts';
import { page, type View } from '../layout.ts';
import { artifactOf, configView, platformEntries, prettyJson, type ConfigView, type DescriptorView, type ManifestView } from '../model.ts';
import { annotationsTable, digestLink, mapLimit, mediaType, pullCommands, size } from '../parts.ts';
import { referrerTree, type ReferrerNode } from '../referrers.ts';
import { notFound } from './errors.ts';
import { ok, type Reply, type Sources } from './reply.ts';

const kindTitles: Record<ReferrerKind, string> = { signature: 'Signatures', sbom: 'SBOMs', attestation: 'Attestations', other: 'Other artifacts' };

function referrerList(view: View, name: string, nodes: ReferrerNode[]): Html {
  return html`<ul class="tree">${nodes.map(
    (n) => html`<li><span class="badge">${n.kind}</span> ${digestLink(view.paths.manifest(name, n.digest), n.digest)} <code>${n.artifactType ?? n.mediaType}</code> ${size(n.size)}${n.tag ? html` <span class="muted">(tag ${n.tag})</span>` : ''}${n.annotations.length > 0 ? html`<br><span class="muted">${n.annotations.map(([k, v], i) => html`${i > 0 ? '; ' : ''}${k}: ${v}`)}</span>` : ''}${n.children.length > 0 ? referrerList(view, name, n.children) : ''}</li>`,
  )}</ul>`;
}

function referrersSection(view: View, name: string, nodes: ReferrerNode[]): Html {
  if (nodes.length === 0) return html`<h2>Referrers</h2><p class="muted">No signatures, SBOMs or attestations refer to this manifest.</p>`;
  const kinds: ReferrerKind[] = ['signature', 'sbom', 'attestation', 'other'];
  return html`<h2>Referrers</h2>${kinds.map((k) => {
    const group = nodes.filter((n) => n.kind === k);
    return group.length === 0 ? '' : html`<h3>${kindTitles[k]} (${group.length})</h3>${referrerList(view, name, group)}`;
  })}`;
}

const list = (items: string[] | undefined): Html => (items && items.length > 0 ? html`${items.map((s, i) => html`${i > 0 ? ' ' : ''}<code>${s}</code>`)}` : html`<span class="muted">—</span>`);

function configSection(view: View, name: string, digest: string, m: ManifestView, config: ConfigView | undefined): Html {
  if (!m.config) return html``;
  const link = html`<p>Config blob ${digestLink(view.paths.blob(name, m.config.digest, { from: digest }), m.config.digest)} <span class="muted">(${mediaType(m.config.mediaType)}, ${size(m.config.size)})</span></p>`;
  if (!config) return html`<h2>Config</h2>${link}`;
  const row = (label: string, value: Html | string | undefined): Html => html`<dt>${label}</dt><dd>${value === undefined ? html`<span class="muted">—</span>` : value}</dd>`;
  return html`<h2>Config</h2>${link}<dl class="facts">
${row('Platform', config.platform ? html`<span class="mono">${formatPlatform(config.platform)}</span>` : undefined)}
${row('Created', config.created)}
${row('Author', config.author)}
${row('Entrypoint', list(config.entrypoint))}
${row('Command', list(config.cmd))}
${row('Working directory', config.workingDir)}
${row('User', config.user)}
${row('Exposed ports', list(config.exposedPorts))}
${row('Build steps', String(config.history))}
</dl>
${config.env.length > 0 ? html`<h3>Environment</h3><pre>${config.env.join('\n')}</pre>` : ''}
${annotationsTable(config.labels, 'Labels')}`;
}

function layersSection(view: View, name: string, digest: string, m: ManifestView): Html {
  if (m.layers.length === 0) return html`<h2>Layers</h2><p class="muted">None.</p>`;
  const total = m.layers.reduce((n, l) => n + l.size, 0);
  return html`<h2>Layers</h2><table><thead><tr><th scope="col" class="num">#</th><th scope="col">Digest</th><th scope="col">Type</th><th scope="col" class="num">Size</th></tr></thead><tbody>
${m.layers.map(
  (l, i) => html`<tr><td class="num">${i + 1}</td><td>${digestLink(view.paths.blob(name, l.digest, { from: digest }), l.digest)}${l.urls.length > 0 ? html` <span class="badge">not stored here</span>` : ''}${titleOf(l)}</td><td>${mediaType(l.mediaType)}</td><td class="num">${size(l.size)}</td></tr>`,
)}
</tbody><tfoot><tr><th scope="row" colspan="3">Total</th><td class="num">${size(total)}</td></tr></tfoot></table>`;
}

const titleOf = (d: DescriptorView): Html => {
  const title = d.annotations.find(([k]) => k === 'org.opencontainers.image.title')?.[1];
  return title === undefined ? html`` : html` <span class="muted">${title}</span>`;
};

async function platformsSection(view: View, src: Sources, name: string, m: ManifestView): Promise<Html> {
  const platforms = platformEntries(m);
  const others = m.manifests.filter((e) => !platforms.includes(e));
  const totals = await mapLimit(platforms, 4, async (e) => (await src.describer.describe(name, e.digest))?.total);
  const platformTable = html`<table><thead><tr><th scope="col">Platform</th><th scope="col">Digest</th><th scope="col">Type</th><th scope="col" class="num">Size</th></tr></thead><tbody>
${platforms.map(
  (e, i) => html`<tr><th scope="row"><a href="${view.paths.manifest(name, e.digest)}">${e.platform ? formatPlatform(e.platform) : '?'}</a></th><td>${digestLink(view.paths.manifest(name, e.digest), e.digest)}</td><td>${mediaType(e.mediaType)}</td><td class="num">${totals[i] === undefined ? html`<span class="muted">not stored</span>` : size(totals[i])}</td></tr>`,
)}
</tbody></table>`;
  const otherTable =
    others.length === 0
      ? ''
      : html`<h3>Other entries</h3><table><thead><tr><th scope="col">Digest</th><th scope="col">Type</th><th scope="col">Annotations</th></tr></thead><tbody>
${others.map((e) => html`<tr><td>${digestLink(view.paths.manifest(name, e.digest), e.digest)}</td><td>${mediaType(e.artifactType ?? e.mediaType)}</td><td>${e.annotations.map(([k, v], i) => html`${i > 0 ? '; ' : ''}${k}: ${v}`)}</td></tr>`)}
</tbody></table>`;
  return html`<h2>Platforms (${platforms.length})</h2>${platforms.length > 0 ? platformTable : html`<p class="muted">None named.</p>`}${otherTable}`;
}

export async function manifestPage(view: View, src: Sources, name: string, reference: string): Promise<Reply> {
  const { paths, viewer } = view;
  if (!viewer.mayPull(name)) return viewer.authOn && viewer.user === undefined ? { redirect: paths.login(paths.manifest(name, reference)) } : notFound(view, `No repository ${name} that you may see.`);
  const registry = src.registry;
  const described = await src.describer.describe(name, reference);
  if (!described) return notFound(view, `No manifest ${reference} in ${name}.`);
  const { ref } = described;
  const viaTag = ref.digest !== reference ? reference : undefined;
  const m = described.view;

  const mirror = registry.mirrorOf(name);
  const [tags, tree, config] = await Promise.all([
    registry.tagsPointingAt(name, ref.digest),
    referrerTree(registry, name, ref.digest),
    m?.kind === 'image' && m.config && m.config.size <= configLimit ? registry.smallBlob(name, m.config.digest, configLimit).then((b) => b && configView(b)) : undefined,
  ]);

  const title = viaTag ? `${name}:${viaTag}` : `${name}@${shortDigest(ref.digest)}`;
  const artifact = artifactOf(m);
  const facts = html`<dl class="facts">
<dt>Repository</dt><dd><a href="${paths.repo(name)}">${name}</a>${mirror ? html` <span class="badge">mirror of ${mirror.upstream}</span>` : ''}</dd>
<dt>Digest</dt><dd><code>${ref.digest}</code></dd>
<dt>Type</dt><dd>${mediaType(ref.mediaType)}${artifact ? html` <span class="badge">artifact</span> <code>${artifact}</code>` : ''}</dd>
<dt>Size</dt><dd>${size(described.total)} <span class="muted">(manifest ${size(ref.size)})</span></dd>
<dt>Tags</dt><dd>${tags.length === 0 ? html`<span class="muted">none</span>` : tags.map((t, i) => html`${i > 0 ? ', ' : ''}<a href="${paths.manifest(name, t)}">${t}</a>`)}</dd>
${m?.subject ? html`<dt>Refers to</dt><dd>${digestLink(paths.manifest(name, m.subject.digest), m.subject.digest)} <span class="muted">(its subject)</span></dd>` : ''}
</dl>`;

  const mayDeleteHere = !mirror && viewer.mayDelete(name);
  const actions: Html[] = [];
  if (mayDeleteHere && viaTag && src.deletes.tags) actions.push(html`<a class="button secondary" href="${paths.remove(name, { tag: viaTag })}">Delete tag ${viaTag}…</a>`);
  if (mayDeleteHere && src.deletes.manifests) actions.push(html`<a class="button danger" href="${paths.remove(name, { digest: ref.digest })}">Delete this manifest…</a>`);

  const body = html`<h1>${title}</h1>${facts}
${actions.length > 0 ? html`<div class="actions">${actions}</div>` : ''}
<h2>Pull</h2>${pullCommands(view, name, viaTag ?? ref.digest, m?.kind === 'index')}
${m?.kind === 'index' ? await platformsSection(view, src, name, m) : ''}
${m?.kind === 'image' ? configSection(view, name, ref.digest, m, config) : ''}
${m?.kind === 'image' ? layersSection(view, name, ref.digest, m) : ''}
${referrersSection(view, name, tree)}
${m ? html`<h2>Annotations</h2>${m.annotations.length === 0 ? html`<p class="muted">None.</p>` : annotationsTable(m.annotations, 'The manifest\'s annotations')}` : ''}
<h2>Raw manifest</h2>
<details><summary>Show the JSON (${size(ref.size)})</summary><pre>${prettyJson(described.bytes)}</pre></details>`;
  return ok(page(view, title, 'repositories', body));
}
