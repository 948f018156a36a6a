/** A layer or config blob: its size, what the manifest says of it, small JSON contents, a download link. */
import { shortDigest } from '../format.ts';
import { html } from '../html.ts';
import { page, type View } from '../layout.ts';
import { prettyJson, type DescriptorView } from '../model.ts';
import { annotationsTable, digestLink, mediaType, size } from '../parts.ts';
import { notFound } from './errors.ts';
import { ok, type Reply, type Sources } from './reply.ts';

/** JSON blobs up to this size are shown on the page. */
const showLimit = 256 * 1024;

async function describedBy(src: Sources, name: string, manifest: string | undefined, digest: string): Promise<{ d: DescriptorView; role: string } | undefined> {
  if (manifest === undefined) return undefined;
  const m = (await src.describer.manifest(name, manifest))?.view;
  if (!m) return undefined;
  if (m.config?.digest === digest) return { d: m.config, role: 'config' };
  const i = m.layers.findIndex((l) => l.digest === digest);
  const layer = m.layers[i];
  return layer ? { d: layer, role: `layer ${i + 1} of ${m.layers.length}` } : undefined;
}

export async function blobPage(view: View, src: Sources, name: string, digest: string, from: string | undefined): Promise<Reply> {
  const { paths, viewer } = view;
  if (!viewer.mayPull(name)) return viewer.authOn && viewer.user === undefined ? { redirect: paths.login(paths.blob(name, digest, { from })) } : notFound(view, `No repository ${name} that you may see.`);
  const bytes = await src.registry.blobSize(name, digest);
  if (bytes === undefined) return notFound(view, `No blob ${digest} in ${name}.`);
  const context = await describedBy(src, name, from, digest);
  const type = context?.d.mediaType;
  const json = type !== undefined && /(?:\+|\/)json$/.test(type) && bytes <= showLimit ? await src.registry.smallBlob(name, digest, showLimit) : undefined;
  const body = html`<h1>${context?.role === 'config' ? 'Config' : context ? 'Layer' : 'Blob'} ${shortDigest(digest)}</h1>
<dl class="facts">
<dt>Repository</dt><dd><a href="${paths.repo(name)}">${name}</a></dd>
<dt>Digest</dt><dd><code>${digest}</code></dd>
<dt>Size</dt><dd>${size(bytes)}</dd>
${type !== undefined ? html`<dt>Type</dt><dd>${mediaType(type)}</dd>` : ''}
${context && from ? html`<dt>In</dt><dd>${context.role} of ${digestLink(paths.manifest(name, from), from)}</dd>` : ''}
</dl>
<div class="actions"><a class="button" href="${paths.download(name, digest)}" download>Download</a>${from ? html`<a href="${paths.manifest(name, from)}">Back to the manifest</a>` : ''}</div>
${context ? annotationsTable(context.d.annotations, 'Annotations') : ''}
${json ? html`<h2>Contents</h2><pre>${prettyJson(json)}</pre>` : ''}`;
  return ok(page(view, `Blob ${digest}`, 'repositories', body));
}
