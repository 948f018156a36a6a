import process from 'node:process';
import { parseArgs } from 'node:util';
import { applyRetentionRules, type RulesReport } from '../maintenance/apply-rules.ts';
import type { Decision } from '../maintenance/rules.ts';
import { storesMirrored } from '../mirror/router.ts';
import { ImmutableTags } from '../registry/immutable.ts';
import { openStorage } from './stored.ts';

export const retentionUsage = `  retention apply retention.rules now: delete the tags and manifests they expire, and their bytes
    --config FILE        YAML configuration file (env BERTH_CONFIG)
    --data DIR           local storage directory (env BERTH_DATA)
    --dry-run            report what would be deleted and the rule that decided, delete nothing
    --explain            also list the tags kept, and why
`;

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** One line per decision: what, where, and the rule and reason that decided it. */
export function decisionLine(d: Decision, dryRun: boolean): string {
  const verb = d.delete ? (dryRun ? 'would delete' : 'deleted') : 'keep';
  const what = d.tag !== undefined ? `tag ${d.repository}:${d.tag}${d.digest === undefined ? '' : ` (${d.digest})`}` : `manifest ${d.repository}@${d.digest ?? ''}`;
  return `${verb} ${what}: ${d.rule}: ${d.reason}`;
}

export function retentionSummary(r: RulesReport, dryRun: boolean): string {
  const verb = dryRun ? 'would delete' : 'deleted';
  const skipped = r.skipped > 0 ? `; ${r.skipped} changed while looked at, left for the next run` : '';
  return `${dryRun ? 'dry run: ' : ''}${r.repositories} repositories under a rule${skipped}; ${verb} ${r.tagsDeleted} tags, ${r.manifestsDeleted} manifests, ${r.blobsDeleted} blobs (${mib(r.bytesFreed)})`;
}

/** `berth retention`: the configured rules applied once (or only explained), each decision on stdout. */
export async function runRetention(args: string[], env: Record<string, string | undefined>): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: { config: { type: 'string' }, data: { type: 'string' }, 'dry-run': { type: 'boolean' }, explain: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`berth retention: ${e instanceof Error ? e.message : String(e)}\n\n${retentionUsage}`);
    return 2;
  }
  const opened = await openStorage('retention', flags, env);
  if (typeof opened === 'number') return opened;
  const { config, stored } = opened;
  try {
    if (config.retention.rules.length === 0) {
      process.stderr.write('berth retention: no retention.rules in the configuration: nothing to apply\n');
      return 2;
    }
    const dryRun = flags['dry-run'] === true;
    const report = await applyRetentionRules(stored.inventory, {
      rules: config.retention.rules,
      pulls: stored.pulls,
      immutable: new ImmutableTags(config.tags.immutable),
      skip: storesMirrored(config.mirror),
      graceMs: config.gc.grace,
      dryRun,
      explain: flags.explain === true,
    });
    const lines = report.decisions.map((d) => decisionLine(d, dryRun));
    process.stdout.write([...lines, retentionSummary(report, dryRun)].join('\n') + '\n');
    return 0;
  } finally {
    opened.close();
  }
}
