/** A pushing client as skopeo or docker behaves: skip blobs the repository has, upload the rest, then the manifest. */
import { createHash } from 'node:crypto';

export const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

/** One request that did not succeed, as the client saw it. */
export interface Refusal {
  step: string;
  status: number;
  code?: string;
  message?: string;
}

export type PushOutcome = { ok: true; digest: string; blobs: string[] } | { ok: false; refusal: Refusal };

async function refusal(step: string, res: Response): Promise<Refusal> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    return { step, status: res.status, code: body.errors?.[0]?.code, message: body.errors?.[0]?.message };
  } catch {
    return { step, status: res.status, message: text.slice(0, 200) };
  }
}

/** Uploads a blob unless the repository already has it (HEAD), as clients do; undefined when it worked. */
export async function ensureBlob(url: string, repo: string, bytes: Uint8Array<ArrayBuffer>): Promise<Refusal | undefined> {
  const digest = sha256(bytes);
  const head = await fetch(`${url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return undefined;
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) return refusal(`POST upload of ${digest}`, start);
  await start.arrayBuffer();
  const location = new URL(start.headers.get('location') ?? '', url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) return refusal(`PUT upload of ${digest}`, put);
  await put.arrayBuffer();
  return undefined;
}

/** Pushes config and layers (skipping those present), then the manifest under `tag`. */
export async function pushImage(url: string, repo: string, tag: string, config: Uint8Array<ArrayBuffer>, layers: Uint8Array<ArrayBuffer>[]): Promise<PushOutcome> {
  for (const bytes of [config, ...layers]) {
    const refused = await ensureBlob(url, repo, bytes);
    if (refused) return { ok: false, refusal: refused };
  }
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.byteLength },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.byteLength })),
    }),
  );
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'Content-Type': ociManifest } });
  if (res.status !== 201) return { ok: false, refusal: await refusal(`PUT manifest ${repo}:${tag}`, res) };
  await res.arrayBuffer();
  return { ok: true, digest: sha256(manifest), blobs: [config, ...layers].map(sha256) };
}

/** Pulls `repo:tag` and every blob it names; returns what is wrong (empty when the image is whole). */
export async function pullProblems(url: string, repo: string, tag: string, expected: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { headers: { Accept: ociManifest } });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) return [`${repo}:${tag} → ${res.status}`];
  if (sha256(bytes) !== expected) return [`${repo}:${tag} is ${sha256(bytes)}, acknowledged as ${expected}`];
  const doc = JSON.parse(new TextDecoder().decode(bytes)) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const problems: string[] = [];
  for (const { digest } of [doc.config, ...doc.layers]) {
    const blob = await fetch(`${url}/v2/${repo}/blobs/${digest}`);
    const body = new Uint8Array(await blob.arrayBuffer());
    if (blob.status !== 200) problems.push(`${repo}:${tag} blob ${digest} → ${blob.status}`);
    else if (sha256(body) !== digest) problems.push(`${repo}:${tag} blob ${digest} hashes to ${sha256(body)}`);
  }
  return problems;
}

/**
 * A refusal a client can act on: the spec's 4xx for content that is not (or no longer) there.
 * Anything else (a 5xx, an unknown code) is the registry failing, not the push.
 */
export const isClean = (r: Refusal): boolean =>
  r.status >= 400 && r.status < 500 && ['MANIFEST_BLOB_UNKNOWN', 'BLOB_UNKNOWN', 'BLOB_UPLOAD_UNKNOWN'].includes(r.code ?? '');
