/** The conformance suite, with credentials, through berth's token flow. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResult, runConformance } from '../../conformance/suite.ts';
import { hashPassword, startWithConfig, type AuthServer } from '../support/auth.ts';

describe('conformance suite against berth in token mode', () => {
  let server: AuthServer;
  beforeAll(async () => {
    server = await startWithConfig({
      auth: {
        mode: 'token',
        users: { conformance: { password: hashPassword('conformance-pw') } },
        rules: [{ users: ['conformance'], repositories: ['conformance/**'], actions: ['pull', 'push', 'delete'], catalog: true }],
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('passes every case of the four categories with credentials', async () => {
    const summary = await runConformance({ url: server.url, username: 'conformance', password: 'conformance-pw' });
    const failures = summary.results.filter((r) => r.status !== 'pass').map(formatResult);
    expect(failures).toEqual([]);
    expect(summary.passed).toBeGreaterThan(50);
  });

  it('and without them, gets nowhere', async () => {
    const summary = await runConformance({ url: server.url, caseTimeoutMs: 20_000 });
    expect(summary.passed).toBeLessThan(5);
  });
});
