/**
 * The metrics berth serves on /metrics, sent over OTLP as well. What is sent is read from the very
 * text a scrape gets (the Prometheus text format), so both paths carry the same numbers under the
 * same names and labels, and a family added to /metrics is exported without anyone counting it twice.
 */
import { keyValues, unixNanos, type KeyValue, type Resource, scope } from './otlp.ts';

type Labels = Record<string, string>;

interface Sample {
  /** The sample's own name: the family's, or with `_bucket`, `_sum`, `_count`. */
  name: string;
  labels: Labels;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const unescapeHelp = (s: string): string => s.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));

function parseLabels(text: string): Labels {
  const labels: Labels = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    labels[m[1]!] = m[2]!.replace(/\\(n|\\|")/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/** Parses the Prometheus text format (0.0.4) into families, in the order they appear. */
export function parsePrometheusText(text: string): Family[] {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: '', type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  // A sample belongs to the family it extends: `x_bucket` to histogram `x`, and so on.
  const owner = (sample: string): Family => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (!sample.endsWith(suffix)) continue;
      const f = families.get(sample.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
    return family(sample);
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s?(.*)$/.exec(line);
      if (!m) continue;
      const f = family(m[2]!);
      if (m[1] === 'HELP') f.help = unescapeHelp(m[3]!);
      else if (/^(counter|gauge|histogram|summary|untyped)$/.test(m[3]!)) f.type = m[3] as Family['type'];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    owner(m[1]!).samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2]) : {}, value: parseValue(m[3]!) });
  }
  return [...families.values()];
}

const without = (labels: Labels, drop: string): Labels => {
  const { [drop]: _, ...rest } = labels;
  return rest;
};

/** Samples of one histogram or summary series, grouped by their labels minus `le` / `quantile`. */
function seriesOf(f: Family, key: 'le' | 'quantile'): Map<string, { labels: Labels; points: Sample[]; sum: number; count: number }> {
  const series = new Map<string, { labels: Labels; points: Sample[]; sum: number; count: number }>();
  for (const s of f.samples) {
    const labels = without(s.labels, key);
    const id = JSON.stringify(Object.entries(labels).sort());
    let entry = series.get(id);
    if (!entry) {
      entry = { labels, points: [], sum: 0, count: 0 };
      series.set(id, entry);
    }
    if (s.name === `${f.name}_sum`) entry.sum = s.value;
    else if (s.name === `${f.name}_count`) entry.count = s.value;
    else entry.points.push(s);
  }
  return series;
}

const attributes = (labels: Labels): KeyValue[] => keyValues(labels);

/**
 * One family as an OTLP metric: counters as cumulative monotonic sums, gauges as gauges,
 * histograms with their bucket bounds (counts per bucket, not cumulative as Prometheus writes
 * them). No unit is set: the name already says it, and a collector's Prometheus exporter would
 * append one, renaming the family.
 */
function toMetric(f: Family, startTime: string, time: string): object | undefined {
  const base = { name: f.name, description: f.help };
  const point = (s: Sample) => ({ attributes: attributes(s.labels), startTimeUnixNano: startTime, timeUnixNano: time, asDouble: s.value });
  const finite = f.samples.filter((s) => Number.isFinite(s.value));
  switch (f.type) {
    case 'counter':
      return { ...base, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: finite.map(point) } };
    case 'gauge':
    case 'untyped':
      return { ...base, gauge: { dataPoints: finite.map(point) } };
    case 'histogram': {
      const dataPoints = [...seriesOf(f, 'le').values()].map(({ labels, points, sum, count }) => {
        const buckets = points.map((p) => ({ le: parseValue(p.labels.le ?? '+Inf'), cumulative: p.value })).sort((a, b) => a.le - b.le);
        const explicitBounds = buckets.filter((b) => b.le !== Infinity).map((b) => b.le);
        const bucketCounts: string[] = [];
        let previous = 0;
        for (const b of explicitBounds.map((le) => buckets.find((x) => x.le === le)!)) {
          bucketCounts.push(String(b.cumulative - previous));
          previous = b.cumulative;
        }
        bucketCounts.push(String(count - previous));
        return { attributes: attributes(labels), startTimeUnixNano: startTime, timeUnixNano: time, count: String(count), sum, bucketCounts, explicitBounds };
      });
      return { ...base, histogram: { aggregationTemporality: 2, dataPoints } };
    }
    case 'summary': {
      const dataPoints = [...seriesOf(f, 'quantile').values()].map(({ labels, points, sum, count }) => ({
        attributes: attributes(labels),
        startTimeUnixNano: startTime,
        timeUnixNano: time,
        count: String(count),
        sum,
        quantileValues: points.filter((p) => Number.isFinite(p.value)).map((p) => ({ quantile: Number(p.labels.quantile), value: p.value })),
      }));
      return { ...base, summary: { dataPoints } };
    }
  }
}

/** An `ExportMetricsServiceRequest` of the scrape text's families, cumulative since `startMs`. */
export function encodeMetrics(resource: Resource, text: string, startMs: number, nowMs: number): string {
  const startTime = unixNanos(startMs);
  const time = unixNanos(nowMs);
  const metrics = parsePrometheusText(text)
    .filter((f) => f.samples.length > 0)
    .map((f) => toMetric(f, startTime, time))
    .filter((m) => m !== undefined);
  return JSON.stringify({ resourceMetrics: [{ resource, scopeMetrics: [{ scope, metrics }] }] });
}
