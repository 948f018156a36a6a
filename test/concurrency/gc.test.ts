/**
 * "gc is safe while serving", tried: garbage collection with no grace period runs in a loop inside
 * the server and as `berth gc` processes beside it, while 8 clients push images that share layers
 * (some of them old orphans the clients find with a HEAD and do not upload again).
 *
 * What must hold, whatever the grace period:
 * - a push gc interferes with may be refused, but only cleanly (4xx MANIFEST_BLOB_UNKNOWN,
 *   BLOB_UNKNOWN, BLOB_UPLOAD_UNKNOWN), never with a 5xx;
 * - whatever berth acknowledged stays whole: every acknowledged tag pulls completely, manifest,
 *   config and layers, by digest;
 * - once gc has run with nothing beside it, every blob hashes to its name and no link, tag or
 *   manifest refers to a missing blob.
 * A grace period keeps pushes that finish within it from being refused; it cannot be what keeps
 * acknowledged content whole, since an old unreferenced blob a new manifest reuses is never young.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeProblemsIn } from '../support/store.ts';
import { ensureBlob, isClean, pullProblems, pushImage, type Refusal } from './client.ts';
import { repeatUntilStopped, startStack, type Stack } from './stack.ts';

const clients = 8;
const imagesPerClient = 6;
const repos = ['race/a', 'race/b'];

interface Acknowledged {
  repo: string;
  tag: string;
  digest: string;
}

describe('gc with grace 0, in the server and as berth gc, while 8 clients push', () => {
  let stack: Stack;
  const acknowledged: Acknowledged[] = [];
  const refused: Refusal[] = [];
  let cliRuns = 0;
  let cliDeleted = 0;

  beforeAll(async () => {
    // Every half second, so most pushes (a few tens of ms each) get through and the races happen.
    stack = await startStack({ gc: { interval: '500ms', grace: 0 }, log: { requests: false } });
    const url = stack.server.url;
    // Layers every image shares, pushed before the race and referenced by nothing yet: garbage
    // to gc, present to a client's HEAD. Whichever wins must leave no acknowledged image broken.
    const shared = Array.from({ length: 4 }, () => randomBytes(128 << 10));
    // And one no image uses, so there is garbage whether or not gc refuses a push.
    const orphan = randomBytes(64 << 10);
    // gc already runs: an upload it catches is refused (cleanly) and tried again, as any push here.
    for (const repo of repos) {
      for (const layer of [...shared, orphan]) {
        let refusal = await ensureBlob(url, repo, layer);
        for (let attempt = 0; refusal && isClean(refusal) && attempt < 10; attempt++) refusal = await ensureBlob(url, repo, layer);
        expect(refusal).toBeUndefined();
      }
    }

    let cliDone = 0;
    const cli = repeatUntilStopped(async () => {
      const out = await stack.gc('--grace', '0s');
      cliDeleted += Number(/deleted (\d+) blobs/.exec(out)?.[1] ?? 0);
      cliDone++;
    });
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        const repo = repos[client % repos.length]!;
        // Until each has pushed its images and `berth gc` has run twice beside the pushes (a run
        // takes seconds on a busy machine: the pushes must not all be over before the second).
        for (let i = 0; (i < imagesPerClient || cliDone < 2) && i < imagesPerClient * 20; i++) {
          const tag = `c${client}-${i}`;
          const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', client, i }));
          const layers = [shared[(client + i) % shared.length]!, shared[(client + i + 1) % shared.length]!, randomBytes(32 << 10)];
          // A refused push is tried again, as a client's retry would: on a busy machine every first
          // try may lose its fresh blobs to gc, and the test needs pushes that were acknowledged.
          for (let attempt = 0; attempt < 10; attempt++) {
            const outcome = await pushImage(url, repo, tag, config, layers);
            if (outcome.ok) {
              acknowledged.push({ repo, tag, digest: outcome.digest });
              break;
            }
            refused.push(outcome.refusal);
            if (!isClean(outcome.refusal)) break;
          }
        }
      }),
    );
    cliRuns = await cli.stop();
  }, 300_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses a push only cleanly, never with a server error', () => {
    const unclean = refused.filter((r) => !isClean(r));
    expect(unclean, JSON.stringify(unclean)).toEqual([]);
  });

  it('keeps every acknowledged tag whole: the manifest and every blob, by digest', async () => {
    expect(acknowledged.length).toBeGreaterThan(0);
    const problems = [];
    for (const a of acknowledged) problems.push(...(await pullProblems(stack.server.url, a.repo, a.tag, a.digest)));
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('collected garbage meanwhile, in the server and in the berth gc processes', () => {
    const serverRuns = stack.server.logs().split('\n').filter((l) => l.includes('"msg":"garbage collected"'));
    expect(serverRuns.length).toBeGreaterThan(1);
    expect(cliRuns).toBeGreaterThan(1);
    // The orphan nobody used is garbage, and so are the unique layers of refused pushes: some went.
    const serverDeleted = serverRuns.reduce((n, l) => n + Number(/"blobsDeleted":(\d+)/.exec(l)?.[1] ?? 0), 0);
    expect(serverDeleted + cliDeleted).toBeGreaterThan(0);
  });

  it('leaves a store where every blob hashes to its name and every link, tag and manifest has its blob', async () => {
    await stack.stopServer();
    // One last collection with nothing running beside it: what it leaves must be consistent.
    await stack.gc('--grace', '0s');
    const problems = await storeProblemsIn(stack.store);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
