import type { RegistryClient } from './client.ts';

/** The spec's four workflow categories (spec: Conformance / Workflow Categories). */
export type Category = 'pull' | 'push' | 'discovery' | 'management';

export type CaseStatus = 'pass' | 'fail' | 'skip';

/**
 * How the spec binds a case, so registries are compared on what the spec asks of them:
 * - `required`: a MUST of the spec (within the category: a registry claiming Push implements all of Push);
 * - `optional`: something the spec lets a registry do or not (SHOULD, MAY, and the optional APIs:
 *   Range, sha512, referrers, deletion), required of berth;
 * - `berth`: a rule of berth's own where the spec is silent or leaves the answer open.
 */
export type CaseLevel = 'required' | 'optional' | 'berth';

export interface CaseResult {
  category: Category;
  name: string;
  level: CaseLevel;
  status: CaseStatus;
  /** Why a case failed or was skipped; for a pass, an optional note (e.g. an allowed fallback). */
  message: string;
}

/** What a case gets to work with. Every repository it asks for is new and unique to the run. */
export interface CaseContext {
  readonly client: RegistryClient;
  /** A fresh repository name under the run's namespace. */
  repo(label?: string): string;
  /** A fresh repository name under the cross-mount namespace (the `from` side of a mount). */
  crossRepo(label?: string): string;
  /** Attach a note to the result (shown on a pass, e.g. "fell back to 202, which the spec allows"). */
  note(text: string): void;
  /** Register best-effort cleanup, run after the case whatever its outcome. */
  cleanup(action: () => Promise<unknown>): void;
}

export interface CaseDefinition {
  name: string;
  /** Default `required`. */
  level?: CaseLevel;
  run(ctx: CaseContext): Promise<void>;
}

export interface ConformanceOptions {
  url: string;
  namespace?: string;
  crossNamespace?: string;
  username?: string;
  password?: string;
  log?: (line: string) => void;
  /** Per-request timeout; a hanging registry fails the case instead of hanging the run. */
  requestTimeoutMs?: number;
  /** Upper bound for one whole case, cleanup excluded. */
  caseTimeoutMs?: number;
}

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

export interface ConformanceSummary extends Tally {
  /** The same counts per level, so required cases are never mixed with berth's own rules. */
  byLevel: Record<CaseLevel, Tally>;
  results: CaseResult[];
}
