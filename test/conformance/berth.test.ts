import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResult, runConformance } from '../../conformance/suite.ts';
import { startServer, type TestServer } from '../support/server.ts';

describe('conformance suite against berth', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('passes every case of the four categories', async () => {
    const summary = await runConformance({ url: server.url });
    const failures = summary.results.filter((r) => r.status !== 'pass').map(formatResult);
    expect(failures).toEqual([]);
    expect(summary.passed).toBeGreaterThan(50);
  });
});
