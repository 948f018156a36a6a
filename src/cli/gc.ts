import process from 'node:process';
import { parseArgs } from 'node:util';
import { parseDuration } from '../config/duration.ts';
import { collectGarbage, type GcReport } from '../maintenance/gc.ts';
import { purgeUploads } from '../maintenance/uploads.ts';
import { openStorage } from './stored.ts';

export const gcUsage = `  gc        delete blobs and manifests nothing references (safe while the registry serves)
    --config FILE        YAML configuration file (env BERTH_CONFIG)
    --data DIR           local storage directory (env BERTH_DATA)
    --dry-run            report what would be deleted, delete nothing
    --delete-untagged    also delete manifests no tag reaches
    --grace DURATION     keep anything younger than this, default 1h (a push may be under way)
`;

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

const units: Record<string, string> = { mark: 'repositories marked', sweep: 'blobs looked at', done: 'blobs deleted' };

/**
 * One progress line, redrawn in place, only when stderr is a terminal. The passes walk the store
 * as they go, so there is no total to show, only what is done.
 */
function progress(): (phase: string, done: number) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (phase, done) => {
    process.stderr.write(`\r${phase.padEnd(6)} ${done} ${units[phase] ?? ''}   `);
    if (phase === 'done') process.stderr.write('\n');
  };
}

export function summary(r: GcReport, purged: number, dryRun: boolean): string {
  const verb = dryRun ? 'would delete' : 'deleted';
  return [
    `${dryRun ? 'dry run: ' : ''}${r.repositories} repositories checked`,
    `${verb} ${r.blobsDeleted} blobs (${mib(r.bytesFreed)}), ${r.manifestsDeleted} manifests, ${r.linksDeleted} dangling links, ${purged} stale uploads, ${r.temporariesDeleted} leftover temporary files`,
    `kept ${r.blobsKept} blobs; the kept manifests reference ${mib(r.bytesReferenced)}`,
  ].join('\n');
}

/** `berth gc`: mark and sweep on the configured storage, then a summary on stdout. */
export async function runGc(args: string[], env: Record<string, string | undefined>): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        data: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'delete-untagged': { type: 'boolean' },
        grace: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`berth gc: ${e instanceof Error ? e.message : String(e)}\n\n${gcUsage}`);
    return 2;
  }
  const graceMs = parseDuration(flags.grace ?? '1h');
  if (graceMs === undefined) {
    process.stderr.write(`berth gc: --grace must be a duration like 30m, 1h or 7d\n`);
    return 2;
  }
  const opened = await openStorage('gc', flags, env);
  if (typeof opened === 'number') return opened;
  const { config, stored } = opened;
  const dryRun = flags['dry-run'] === true;
  // The same passes a serving registry runs, without its cache: another process may be writing.
  const { inventory } = stored;
  try {
    const report = await collectGarbage(inventory, {
      dryRun,
      deleteUntagged: flags['delete-untagged'] === true,
      graceMs,
      onProgress: progress(),
    });
    const purged = dryRun ? 0 : await purgeUploads(inventory, config.uploads.purgeAfter);
    process.stdout.write(`${summary(report, purged, dryRun)}\n`);
    return 0;
  } finally {
    opened.close();
  }
}
