/** Storage: how much is used, and the maintenance that keeps it in check (gc, upload purge, retention). */
import { formatAge, formatBytes, formatSeconds } from '../format.ts';
import { html } from '../html.ts';
import { page, type View } from '../layout.ts';
import { notFound } from './errors.ts';
import { ok, type Reply, type Sources } from './reply.ts';

export async function storagePage(view: View, src: Sources): Promise<Reply> {
  if (!view.viewer.mayList) return view.viewer.authOn && view.viewer.user === undefined ? { redirect: view.paths.login(view.paths.storage()) } : notFound(view, 'No storage page for you here.');
  const { settings, facts } = src;
  const [volume, stored, totals, runs, quotas] = await Promise.all([facts.volume(), facts.storedBytes(), facts.maintenanceTotals(), facts.maintenanceRuns(), facts.quotas()]);
  const used = volume ? volume.total - volume.free : undefined;
  const usage = html`<h2>Use</h2><dl class="facts">
<dt>Backend</dt><dd>${settings.storage}</dd>
<dt>Content stored</dt><dd>${stored === undefined ? html`<span class="muted">not measured by this registry yet (garbage collection counts it)</span>` : html`${formatBytes(stored.bytes)} <span class="muted">(what the manifests reference, each blob once; counted by garbage collection ${formatAge(stored.measuredAt)})</span>`}</dd>
${volume && used !== undefined ? html`<dt>Disk</dt><dd>${formatBytes(used)} used of ${formatBytes(volume.total)}, ${formatBytes(volume.free)} free <span class="muted">(the volume holding the data directory, shared with whatever else is on it)</span></dd>` : ''}
</dl>${
    quotas.length === 0
      ? ''
      : html`<h2>Quotas</h2><table><thead><tr><th scope="col">Repositories</th><th scope="col">Used</th><th scope="col">Limit</th><th scope="col">Rule</th></tr></thead><tbody>
${quotas.map((q) => html`<tr><td><code>${q.prefix}</code>, <code>${q.prefix}/…</code></td><td>${q.usedBytes === undefined ? html`<span class="muted">not counted</span>` : html`${formatBytes(q.usedBytes)}${q.usedBytes >= q.limitBytes ? html` <span class="warn">full</span>` : ''}`}</td><td>${formatBytes(q.limitBytes)}</td><td><code>${q.rule}</code></td></tr>`)}
</tbody></table>`
  }`;
  const gc = settings.gc;
  const policy = html`<h2>Maintenance</h2><dl class="facts">
<dt>Garbage collection</dt><dd>${gc.interval > 0 ? `every ${formatSeconds(gc.interval)}` : html`not scheduled: run <code>berth gc</code>`}; keeps what is younger than ${formatSeconds(gc.grace)}${gc.deleteUntagged ? '; deletes untagged manifests' : ''}</dd>
<dt>Retention rules</dt><dd>${
    settings.retentionRules.rules === 0
      ? 'none configured'
      : html`${String(settings.retentionRules.rules)} rule${settings.retentionRules.rules === 1 ? '' : 's'}, ${settings.retentionRules.interval > 0 ? `applied every ${formatSeconds(settings.retentionRules.interval)}${settings.retentionRules.dryRun ? ' (dry run: logged only)' : ''}` : html`not scheduled: run <code>berth retention</code>`}`
  }</dd>
<dt>Upload sessions</dt><dd>purged hourly when idle for ${formatSeconds(settings.uploadsPurgeAfter)}</dd>
${settings.retention ? html`<dt>Mirror retention</dt><dd>${settings.retention.maxAge > 0 || settings.retention.maxSize > 0 ? `every ${formatSeconds(settings.retention.interval)}` : 'off (no limit set)'} (<a href="${view.paths.mirror()}">mirror</a>)</dd>` : ''}
<dt>Since this process started</dt><dd>${totals.gcRuns} garbage collection run${totals.gcRuns === 1 ? '' : 's'}, ${formatBytes(totals.gcBytesFreed)} freed; ${totals.uploadsPurged} upload session${totals.uploadsPurged === 1 ? '' : 's'} purged</dd>
</dl>`;
  const history =
    runs.length === 0
      ? html`<h2>Last runs</h2><p class="muted">No run history is recorded by this registry yet; runs are logged (<code>garbage collected</code>, <code>mirror retention sweep</code>).</p>`
      : html`<h2>Last runs</h2><table><thead><tr><th scope="col">Pass</th><th scope="col">Finished</th><th scope="col">Result</th><th scope="col">Figures</th></tr></thead><tbody>
${runs.map((r) => html`<tr><td>${r.kind}</td><td><time datetime="${r.finishedAt.toISOString()}">${formatAge(r.finishedAt)}</time></td><td>${r.ok ? html`<span class="ok">ok</span>` : html`<span class="warn">failed</span>`}</td><td>${r.figures.map(([k, v], i) => html`${i > 0 ? ', ' : ''}${k}: ${/bytes/i.test(k) ? formatBytes(v) : String(v)}`)}</td></tr>`)}
</tbody></table>`;
  return ok(page(view, 'Storage', 'storage', html`<h1>Storage</h1>${usage}${policy}${history}`));
}
