/** The mirror: each upstream's reachability and activity, and the cache against its retention limits. */
import { formatAge, formatBytes, formatSeconds, shortDigest } from '../format.ts';
import { html, type Html } from '../html.ts';
import { page, type View } from '../layout.ts';
import type { Reachability } from '../probe.ts';
import { mapLimit } from '../parts.ts';
import { notFound } from './errors.ts';
import { ok, type Reply, type Sources } from './reply.ts';

const outcomes = ['hit', 'miss', 'revalidated', 'stale'] as const;

function reachability(r: Reachability): Html {
  const when = html`<span class="muted">(checked ${formatAge(r.at)})</span>`;
  if (r.status === undefined) return html`<span class="warn">unreachable</span>: ${r.error ?? 'no answer'} ${when}`;
  const healthy = r.status < 500 && r.status !== 429;
  return html`<span class="${healthy ? 'ok' : 'warn'}">${healthy ? 'reachable' : 'answering with errors'}</span>: HTTP ${r.status} in ${r.ms} ms ${when}`;
}

export async function mirrorPage(view: View, src: Sources): Promise<Reply> {
  if (!view.viewer.mayList || !view.mirrorOn) {
    return view.viewer.authOn && view.viewer.user === undefined ? { redirect: view.paths.login(view.paths.mirror()) } : notFound(view, 'No mirror page for you here.');
  }
  const upstreams = src.registry.upstreams();
  const [probes, cache] = await Promise.all([mapLimit(upstreams, 4, (u) => src.prober.probe(u.url)), src.facts.mirrorCache()]);
  const sections = upstreams.map((u, i) => {
    const a = src.activity.of(u.name);
    const answers = outcomes.map((o) => html`<li>${o}: <strong>${a?.answers[o] ?? 0}</strong></li>`);
    const last = a?.last ? html`${a.last.method} → ${String(a.last.status)}, ${formatAge(a.last.at)}` : html`<span class="muted">none since start</span>`;
    return html`<section aria-labelledby="up-${i}"><h2 id="up-${i}">${u.name}${u.isDefault ? html` <span class="badge">default</span>` : ''}</h2>
<dl class="facts">
<dt>URL</dt><dd><code>${u.url}</code></dd>
<dt>Pulled as</dt><dd><code>${view.host}/${u.prefix}/…</code>${u.isDefault ? html` and unqualified names` : ''}</dd>
<dt>Reachability</dt><dd>${probes[i] ? reachability(probes[i]) : '—'}</dd>
<dt>Client requests</dt><dd><ul class="inline-list">${answers}</ul></dd>
<dt>Requests upstream</dt><dd>${a?.requests ?? 0}, of which failed or refused: ${a?.errors ?? 0}${a?.lastError ? html` <span class="muted">(last ${String(a.lastError.status)}, ${formatAge(a.lastError.at)})</span>` : ''}</dd>
<dt>Last request upstream</dt><dd>${last}</dd>
<dt>Tag TTL</dt><dd>${formatSeconds(u.tagTtlSeconds)}</dd>
</dl></section>`;
  });

  const r = src.settings.retention;
  const limit = r && r.maxSize > 0 ? formatBytes(r.maxSize) : 'no limit';
  const retention = html`<h2>Cache and retention</h2><dl class="facts">
<dt>Size</dt><dd>${cache ? html`${formatBytes(cache.bytes)} of ${limit} <span class="muted">(measured ${formatAge(cache.measuredAt)})</span>` : html`<span class="muted">not measured by this registry yet</span>; limit: ${limit}`}</dd>
<dt>Unused images expire after</dt><dd>${r && r.maxAge > 0 ? formatSeconds(r.maxAge) : 'never (no age limit)'}</dd>
<dt>Sweep</dt><dd>${r && (r.maxAge > 0 || r.maxSize > 0) ? `every ${formatSeconds(r.interval)}` : 'off (no limit set)'}</dd>
</dl>
<h3>Next to expire</h3>
${
  cache === undefined
    ? html`<p class="muted">Not known: the retention sweep does not report its plan yet.</p>`
    : cache.nextEvictions.length === 0
      ? html`<p class="muted">Nothing.</p>`
      : html`<table><thead><tr><th scope="col">Repository</th><th scope="col">Manifest</th><th scope="col" class="num">Size</th><th scope="col">Last used</th></tr></thead><tbody>
${cache.nextEvictions.map((e) => html`<tr><td>${e.repository}</td><td class="mono">${shortDigest(e.digest)}</td><td class="num">${e.bytes === undefined ? '—' : formatBytes(e.bytes)}</td><td>${e.lastUsed ? formatAge(e.lastUsed) : '—'}</td></tr>`)}
</tbody></table>`
}`;
  const note = html`<p class="muted">Counts are since this process started.</p>`;
  return ok(page(view, 'Mirror', 'mirror', html`<h1>Mirror</h1>${note}${sections}${retention}`));
}
