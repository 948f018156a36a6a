import { CaseFailure, CaseSkip } from './assert.ts';
import { RegistryClient } from './client.ts';
import { discoveryCases } from './cases/discovery.ts';
import { managementCases } from './cases/management.ts';
import { pullCases } from './cases/pull.ts';
import { pushCases } from './cases/push.ts';
import { uniqueId } from './fixtures.ts';
import type { CaseContext, CaseDefinition, CaseLevel, CaseResult, Category, ConformanceOptions, ConformanceSummary, Tally } from './types.ts';

export type { CaseLevel, CaseResult, CaseStatus, Category, ConformanceOptions, ConformanceSummary, Tally } from './types.ts';

/** In the spec's order: Pull is required of every registry, the other three are claimed per category. */
export const CATEGORIES: ReadonlyArray<{ category: Category; cases: CaseDefinition[] }> = [
  { category: 'pull', cases: pullCases },
  { category: 'push', cases: pushCases },
  { category: 'discovery', cases: discoveryCases },
  { category: 'management', cases: managementCases },
];

const DEFAULT_CASE_TIMEOUT_MS = 120_000;

/** Spec: Pulling manifests — the `<name>` grammar. */
const REPOSITORY_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

export const LEVELS: readonly CaseLevel[] = ['required', 'optional', 'berth'];

/** How a result line marks a case that is not a MUST of the spec. */
const LEVEL_TAGS: Record<CaseLevel, string> = { required: '', optional: '[optional] ', berth: '[berth rule] ' };

/** What each level counts, in the summary line. */
const LEVEL_LABELS: Record<CaseLevel, string> = { required: 'spec requires', optional: 'spec optional', berth: 'berth rules' };

export function formatResult(result: CaseResult): string {
  const status = result.status.toUpperCase();
  return `${status}  ${result.category}: ${LEVEL_TAGS[result.level]}${result.name}${result.message ? ` — ${result.message}` : ''}`;
}

const counts = (t: Tally): string => `${t.passed} passed, ${t.failed} failed${t.skipped > 0 ? `, ${t.skipped} skipped` : ''}`;

/** `N passed, M failed`, then the same per level: a berth rule failed elsewhere is no spec failure. */
export function formatSummary(summary: ConformanceSummary): string {
  const levels = LEVELS.map((level) => `${LEVEL_LABELS[level]}: ${summary.byLevel[level].passed}/${total(summary.byLevel[level])}`);
  return `${counts(summary)} (${levels.join('; ')})`;
}

const total = (t: Tally): number => t.passed + t.failed + t.skipped;

/** Counts the results that `keep` selects. */
export function tally(results: readonly CaseResult[], keep: (r: CaseResult) => boolean = () => true): Tally {
  const kept = results.filter(keep);
  return {
    passed: kept.filter((r) => r.status === 'pass').length,
    failed: kept.filter((r) => r.status === 'fail').length,
    skipped: kept.filter((r) => r.status === 'skip').length,
  };
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceSummary> {
  const client = new RegistryClient({
    url: options.url,
    username: options.username,
    password: options.password,
    timeoutMs: options.requestTimeoutMs,
  });
  const namespace = options.namespace ?? `conformance/${uniqueId()}`;
  const crossNamespace = options.crossNamespace ?? namespace;
  for (const name of [namespace, crossNamespace]) {
    if (!REPOSITORY_NAME.test(name)) throw new Error(`namespace "${name}" is not a valid repository name`);
  }
  const log = options.log ?? (() => undefined);
  const caseTimeoutMs = options.caseTimeoutMs ?? DEFAULT_CASE_TIMEOUT_MS;

  let repoCounter = 0;
  const newRepo = (prefix: string, label: string): string => `${prefix}/${label}-${++repoCounter}`;

  // A registry that cannot be reached would make every case wait for its timeouts; probe once.
  const unreachable = await probe(client);

  const results: CaseResult[] = [];
  for (const { category, cases } of CATEGORIES) {
    for (const definition of cases) {
      // The first case (GET /v2/) still runs and reports the connection error itself.
      const result: CaseResult =
        unreachable && results.length > 0
          ? { category, name: definition.name, level: definition.level ?? 'required', status: 'fail', message: `not run: registry unreachable (${unreachable})` }
          : await runCase(category, definition, {
              client,
              newRepo: (label) => newRepo(namespace, label),
              newCrossRepo: (label) => newRepo(crossNamespace, label),
              timeoutMs: caseTimeoutMs,
            });
      results.push(result);
      log(formatResult(result));
    }
  }
  const byLevel = Object.fromEntries(LEVELS.map((level) => [level, tally(results, (r) => r.level === level)])) as Record<CaseLevel, Tally>;
  return { ...tally(results), byLevel, results };
}

async function probe(client: RegistryClient): Promise<string | undefined> {
  try {
    await client.request('GET', '/v2/');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

interface CaseEnvironment {
  client: RegistryClient;
  newRepo(label: string): string;
  newCrossRepo(label: string): string;
  timeoutMs: number;
}

async function runCase(category: Category, definition: CaseDefinition, env: CaseEnvironment): Promise<CaseResult> {
  const notes: string[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];
  const ctx: CaseContext = {
    client: env.client,
    repo: (label = 'repo') => env.newRepo(label),
    crossRepo: (label = 'repo') => env.newCrossRepo(label),
    note: (text) => notes.push(text),
    cleanup: (action) => cleanups.push(action),
  };
  const result = (status: CaseResult['status'], message: string): CaseResult => ({
    category,
    name: definition.name,
    level: definition.level ?? 'required',
    status,
    message,
  });
  let outcome: CaseResult;
  try {
    await withTimeout(definition.run(ctx), env.timeoutMs, `case did not finish within ${env.timeoutMs} ms`);
    outcome = result('pass', notes.length > 0 ? `note: ${notes.join('; ')}` : '');
  } catch (error) {
    if (error instanceof CaseSkip) outcome = result('skip', error.message);
    else if (error instanceof CaseFailure) outcome = result('fail', error.message);
    else outcome = result('fail', `error: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Best effort, newest first (manifests before the blobs they reference); a registry that
  // refuses deletes simply keeps the content.
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // ignored: cleanup never changes a result
    }
  }
  return outcome;
}

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CaseFailure(message)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
