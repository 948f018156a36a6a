import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResult, runConformance } from '../../conformance/suite.ts';
import { s3Available } from '../support/s3.ts';
import type { TestServer } from '../support/server.ts';
import { hasSkopeo, skopeo, skopeoRoundTrip } from '../support/skopeo.ts';
import { startServerOn } from '../support/storage.ts';

const describeS3 = s3Available || process.env.CI ? describe : describe.skip;

describeS3('berth on S3: conformance suite and skopeo', () => {
  let server: TestServer;
  let host: string;

  beforeAll(async () => {
    server = await startServerOn('s3');
    host = new URL(server.url).host;
  }, 240_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('passes every case of the four categories, none failed or skipped', async () => {
    const { passed, failed, skipped, results } = await runConformance({ url: server.url });
    expect(results.filter((r) => r.status !== 'pass').map(formatResult)).toEqual([]);
    expect({ failed, skipped }).toEqual({ failed: 0, skipped: 0 });
    expect(passed).toBeGreaterThan(50);
  }, 600_000);

  // CI installs skopeo; there a missing binary is a failure, not a skip.
  it.runIf(hasSkopeo || process.env.CI)('copies a multi-platform image in and back out byte for byte with skopeo', async () => {
    const trip = await skopeoRoundTrip(host, 'skopeo/on-s3:v1');
    expect(JSON.parse(trip.served)).toMatchObject({ manifests: [{}, {}] });
    expect(trip.served).toBe(trip.source);
    expect(trip.backBlobs).toEqual(trip.sourceBlobs);
    expect(trip.differing).toEqual([]);
    const { stdout } = await skopeo('list-tags', '--tls-verify=false', `docker://${host}/skopeo/on-s3`);
    expect((JSON.parse(stdout) as { Tags: string[] }).Tags).toEqual(['v1']);
  });
});
