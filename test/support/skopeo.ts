import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeImageLayout } from './oci-layout.ts';

const run = promisify(execFile);

export const hasSkopeo = await run('skopeo', ['--version']).then(
  () => true,
  () => false,
);

export const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 << 20 });

/** What a round trip saw, for the caller's assertions. */
export interface RoundTrip {
  /** The raw index as the registry served it, and as the source layout holds it. */
  served: string;
  source: string;
  /** Blob names on each side, sorted, and the names whose bytes differ. */
  sourceBlobs: string[];
  backBlobs: string[];
  differing: string[];
}

/**
 * Copies a two-platform image layout into `host`/`ref` with skopeo, inspects it, and copies it
 * back out into a new layout, comparing every blob byte for byte.
 */
export async function skopeoRoundTrip(host: string, ref: string): Promise<RoundTrip> {
  const layout = await makeImageLayout('v1');
  const back = await mkdtemp(join(tmpdir(), 'berth-back-'));
  try {
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${host}/${ref}`);
    const { stdout: served } = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/${ref}`);
    const source = (await readFile(join(layout.dir, 'blobs', 'sha256', layout.index.slice(7)))).toString();
    await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/${ref}`, `oci:${back}:v1`);
    const sourceBlobs = (await readdir(join(layout.dir, 'blobs', 'sha256'))).sort();
    const backBlobs = (await readdir(join(back, 'blobs', 'sha256'))).sort();
    const differing: string[] = [];
    for (const blob of sourceBlobs) {
      const [a, b] = await Promise.all([
        readFile(join(layout.dir, 'blobs', 'sha256', blob)),
        readFile(join(back, 'blobs', 'sha256', blob)).catch(() => Buffer.alloc(0)),
      ]);
      if (!a.equals(b)) differing.push(blob);
    }
    return { served, source, sourceBlobs, backBlobs, differing };
  } finally {
    await rm(layout.dir, { recursive: true, force: true });
    await rm(back, { recursive: true, force: true });
  }
}
