import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResult, runConformance } from '../../conformance/suite.ts';
import { startFleet, type Fleet } from '../support/fleet.ts';
import { Client } from '../support/http.ts';
import { s3Available } from '../support/s3.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { rm } from 'node:fs/promises';
import { expectBlobDeletesSeenEverywhere, expectTagsAndManifestsSeenEverywhere } from './checks.ts';

const describeS3 = s3Available || process.env.CI ? describe : describe.skip;

/**
 * Three replicas on one bucket behind a balancer that sends each request to the next replica, with
 * nothing shared but the bucket: every write made through one must be what the very next request
 * on any other sees (issue 14).
 */
describeS3('three replicas on one bucket, no coordination: read-your-writes everywhere', () => {
  let fleet: Fleet;
  let replicas: Client[];

  beforeAll(async () => {
    fleet = await startFleet();
    replicas = fleet.replicas.map((r) => new Client(r.url));
  }, 240_000);
  afterAll(async () => {
    await fleet?.stop();
  });

  it('passes the conformance suite through a round-robin balancer', async () => {
    const summary = await runConformance({ url: fleet.url });
    expect(summary.results.filter((r) => r.status !== 'pass').map(formatResult)).toEqual([]);
    expect({ failed: summary.failed, skipped: summary.skipped }).toEqual({ failed: 0, skipped: 0 });
    // Every replica took part.
    expect(Math.min(...fleet.balancer.counts)).toBeGreaterThan(100);
  }, 600_000);

  it('sees a tag moved, a tag deleted and a manifest deleted on one replica from the next request on every other', async () => {
    await expectTagsAndManifestsSeenEverywhere(replicas, 'fleet/moves');
  });

  it('sees a blob deleted on one replica as unknown on the others', async () => {
    await expectBlobDeletesSeenEverywhere(replicas, 'fleet/blobs');
  });

  // CI installs skopeo; there a missing binary is a failure, not a skip.
  it.runIf(hasSkopeo || process.env.CI)('skopeo delete through one replica, then skopeo inspect through another: gone', async () => {
    const [a, b, c] = fleet.replicas.map((r) => new URL(r.url).host) as [string, string, string];
    const layout = await makeImageLayout('v1');
    try {
      await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${a}/fleet/skopeo:v1`);
      for (const host of [a, b, c]) await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/fleet/skopeo:v1`);
      await skopeo('delete', '--tls-verify=false', `docker://${b}/fleet/skopeo:v1`);
      for (const host of [c, a]) {
        const inspected = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/fleet/skopeo:v1`).then(
          () => 'found',
          (e: { stderr?: string }) => e.stderr ?? String(e),
        );
        expect(inspected).toMatch(/manifest unknown/i);
      }
    } finally {
      await rm(layout.dir, { recursive: true, force: true });
    }
  });
});
