/**
 * The suite must tell a registry from a sink: against a server that acknowledges every write with
 * the headers the spec describes and keeps nothing, no push case may pass, and nothing that needs
 * stored content either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConformance, type CaseResult } from '../../conformance/suite.ts';
import { startAcceptAll, type AcceptAll } from './accept-all.ts';

describe('conformance suite against a registry that accepts everything and stores nothing', () => {
  let sink: AcceptAll;
  let results: CaseResult[];
  beforeAll(async () => {
    sink = await startAcceptAll();
    results = (await runConformance({ url: sink.url })).results;
  });
  afterAll(async () => {
    await sink?.close();
  });

  it('fails every push case', () => {
    const push = results.filter((r) => r.category === 'push');
    expect(push.length).toBeGreaterThan(40);
    expect(push.filter((r) => r.status === 'pass').map((r) => r.name)).toEqual([]);
  });

  it('passes only the cases an empty registry passes: /v2/ and a 404 for a repository never pushed', () => {
    expect(results.filter((r) => r.status === 'pass').map((r) => `${r.category}: ${r.name}`)).toEqual([
      'pull: GET /v2/ → 200, or 401 with WWW-Authenticate before authenticating (end-1)',
      'pull: GET manifest in an unknown repository → 404 NAME_UNKNOWN or MANIFEST_UNKNOWN',
    ]);
  });
});
