import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Metrics } from '../../src/observability/metrics.ts';

const docs = resolve(import.meta.dirname, '..', '..', 'docs');

describe('docs/ examples for operators', () => {
  it('the Grafana dashboard queries only metrics berth exports', async () => {
    const dashboard = JSON.parse(await readFile(join(docs, 'grafana-dashboard.json'), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/berth_[a-z_]+/g) ?? [])).map((m) => m.replace(/_(bucket|count|sum)$/, '')));
    // Every family the scrape carries, prom-client's and berth's own per-request ones.
    const exported = new Set([...(await new Metrics().text()).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(exported, name).toContain(name);
  });

  it('the Prometheus example is a valid scrape config', async () => {
    const config = parse(await readFile(join(docs, 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string; metrics_path: string }> };
    expect(config.scrape_configs[0]).toMatchObject({ job_name: 'berth', metrics_path: '/metrics' });
  });
});
