/**
 * Deleting a tag or a manifest: a confirmation page (GET) whose form does it (POST, with the
 * session's CSRF token, checked before this runs). Offered, and done, only where the viewer may
 * delete, the registry allows that kind of delete, and the repository is not a mirror.
 */
import { looksLikeDigest } from '../../oci/digest.ts';
import { html } from '../html.ts';
import { page, type View } from '../layout.ts';
import { digestLink } from '../parts.ts';
import { failed, notFound } from './errors.ts';
import { ok, type Reply, type Sources } from './reply.ts';

export interface Target {
  tag?: string | undefined;
  digest?: string | undefined;
}

async function check(view: View, src: Sources, name: string, target: Target): Promise<Reply | undefined> {
  const { viewer, paths } = view;
  if (!viewer.mayPull(name)) return viewer.authOn && viewer.user === undefined ? { redirect: paths.login(paths.remove(name, { tag: target.tag, digest: target.digest })) } : notFound(view, `No repository ${name} that you may see.`);
  const allowed = target.tag !== undefined ? src.deletes.tags : src.deletes.manifests;
  if (src.registry.mirrorOf(name)) return failed(view, 403, 'Cannot delete', `${name} is a mirror: its content comes from the upstream and expires by itself.`);
  if (!allowed) return failed(view, 403, 'Cannot delete', `This registry does not allow deleting ${target.tag !== undefined ? 'tags' : 'manifests'}.`);
  if (!viewer.mayDelete(name)) return failed(view, 403, 'Cannot delete', `You may not delete in ${name}.`);
  return undefined;
}

export async function confirmPage(view: View, src: Sources, name: string, target: Target): Promise<Reply> {
  const refused = await check(view, src, name, target);
  if (refused) return refused;
  const { paths } = view;
  const reference = target.tag ?? target.digest;
  // A manifest is deleted by its digest only: a tag here would delete whatever it points at now.
  const named = reference !== undefined && (target.tag !== undefined || looksLikeDigest(reference));
  const ref = named ? await src.registry.resolve(name, reference) : undefined;
  if (!ref || reference === undefined) return notFound(view, `No ${target.tag !== undefined ? 'tag' : 'manifest'} ${reference ?? ''} in ${name}.`);
  const tags = target.tag === undefined ? await src.registry.tagsPointingAt(name, ref.digest) : [];
  const what =
    target.tag !== undefined
      ? html`<p>Delete the tag <strong>${target.tag}</strong> from <strong>${name}</strong>? It points at ${digestLink(paths.manifest(name, ref.digest), ref.digest)}; the manifest stays, reachable by its digest and by any other tag.</p>`
      : html`<p>Delete the manifest <code>${ref.digest}</code> from <strong>${name}</strong>?${tags.length > 0 ? html` Its tags go with it: ${tags.map((t, i) => html`${i > 0 ? ', ' : ''}<strong>${t}</strong>`)}.` : ''} Its bytes are freed by the next garbage collection.</p>`;
  const hidden = target.tag !== undefined ? html`<input type="hidden" name="tag" value="${target.tag}">` : html`<input type="hidden" name="digest" value="${ref.digest}">`;
  const body = html`<h1>Delete ${target.tag !== undefined ? 'tag' : 'manifest'}?</h1>${what}
<form method="post" action="${paths.remove(name)}">
<input type="hidden" name="csrf" value="${view.csrf}">${hidden}
<div class="actions"><button class="danger" type="submit">Delete</button><a href="${target.tag !== undefined ? paths.repo(name) : paths.manifest(name, ref.digest)}">Cancel</a></div>
</form>`;
  return ok(page(view, 'Delete?', 'repositories', body));
}

export async function remove(view: View, src: Sources, name: string, target: Target): Promise<Reply> {
  const refused = await check(view, src, name, target);
  if (refused) return refused;
  const { paths } = view;
  if (target.tag !== undefined) {
    if (!(await src.registry.resolve(name, target.tag))) return notFound(view, `No tag ${target.tag} in ${name}.`);
    await src.registry.deleteTag(name, target.tag);
    return { redirect: paths.repo(name, { deleted: target.tag }) };
  }
  const ref = target.digest === undefined ? undefined : await src.registry.resolve(name, target.digest);
  if (!ref || ref.digest !== target.digest) return notFound(view, `No manifest ${target.digest ?? ''} in ${name}.`);
  await src.registry.deleteManifest(name, ref.digest);
  return { redirect: paths.repo(name, { deleted: ref.digest }) };
}
