import type { Describer } from '../describe.ts';
import type { Html } from '../html.ts';
import type { UiFacts } from '../facts.ts';
import type { MirrorActivity } from '../activity.ts';
import type { Prober } from '../probe.ts';
import type { RegistrySource } from '../source.ts';

/** What a page handler answers: a page (with its status) or a redirect. */
export type Reply = { status: number; body: Html } | { redirect: string };

export const ok = (body: Html): Reply => ({ status: 200, body });

/** What the pages read from: the registry (through one adapter) and the facts around it. */
export interface Sources {
  registry: RegistrySource;
  describer: Describer;
  facts: UiFacts;
  activity: MirrorActivity;
  prober: Prober;
  pageSize: number;
  deletes: { tags: boolean; manifests: boolean };
  settings: Settings;
}

/** The configuration the registry-wide pages report, durations in seconds. */
export interface Settings {
  storage: 'local disk' | 'S3';
  gc: { interval: number; grace: number; deleteUntagged: boolean };
  uploadsPurgeAfter: number;
  /** With a mirror: its retention policy (0: no limit). */
  retention?: { maxAge: number; maxSize: number; interval: number } | undefined;
  /** Retention rules for push repositories: how many, and how often the server applies them (0: only `berth retention`). */
  retentionRules: { rules: number; interval: number; dryRun: boolean };
}
