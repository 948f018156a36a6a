/**
 * The four per-request HTTP families, kept as plain numbers and written in the Prometheus text
 * format at scrape time. prom-client validates and hashes the labels of every call, bound child or
 * not: four calls per request were ~5% of a cached manifest GET's CPU (bench/). Everything else
 * stays with prom-client; `Metrics.text()` joins the two.
 */

export interface FinishedRequest {
  route: string;
  method: string;
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

interface Durations {
  readonly labels: string;
  readonly buckets: number[];
  sum: number;
  count: number;
}

interface Bytes {
  readonly labels: string;
  received: number;
  sent: number;
}

/** One route × method × status, holding its share of every family, so a request costs one lookup. */
interface Series {
  readonly labels: string;
  count: number;
  readonly durations: Durations;
  readonly bytes: Bytes;
}

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const label = (k: string, v: string): string => `${k}="${escape(v)}"`;

export class RequestMetrics {
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();
  readonly #durations = new Map<string, Durations>();
  readonly #bytes = new Map<string, Bytes>();

  constructor(latencyBuckets: readonly number[]) {
    this.#bounds = latencyBuckets;
  }

  record(r: FinishedRequest): void {
    const key = `${r.route} ${r.method} ${r.status}`;
    const series = this.#series.get(key) ?? this.#add(key, r);
    series.count++;
    const d = series.durations;
    d.sum += r.seconds;
    d.count++;
    // Buckets hold their own observations; the text sums them into Prometheus' cumulative counts.
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && r.seconds > bounds[i]!) i++;
    d.buckets[i]!++;
    series.bytes.received += r.bytesIn;
    series.bytes.sent += r.bytesOut;
  }

  #add(key: string, r: FinishedRequest): Series {
    const routeLabel = label('route', r.route);
    const durationKey = `${r.route} ${r.method}`;
    let durations = this.#durations.get(durationKey);
    if (!durations) {
      durations = { labels: `${routeLabel},${label('method', r.method)}`, buckets: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#durations.set(durationKey, durations);
    }
    let bytes = this.#bytes.get(r.route);
    if (!bytes) {
      bytes = { labels: routeLabel, received: 0, sent: 0 };
      this.#bytes.set(r.route, bytes);
    }
    const series: Series = { labels: `${routeLabel},${label('method', r.method)},${label('status', String(r.status))}`, count: 0, durations, bytes };
    this.#series.set(key, series);
    return series;
  }

  /** The four families in the Prometheus text format (0.0.4). */
  text(): string {
    const out: string[] = [];
    out.push('# HELP berth_http_requests_total HTTP requests by route, method and status', '# TYPE berth_http_requests_total counter');
    for (const s of this.#series.values()) out.push(`berth_http_requests_total{${s.labels}} ${s.count}`);
    out.push('', '# HELP berth_http_request_duration_seconds Time to the response headers, by route and method', '# TYPE berth_http_request_duration_seconds histogram');
    for (const d of this.#durations.values()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += d.buckets[i]!;
        out.push(`berth_http_request_duration_seconds_bucket{${d.labels},le="${bound}"} ${cumulative}`);
      });
      out.push(`berth_http_request_duration_seconds_bucket{${d.labels},le="+Inf"} ${d.count}`);
      out.push(`berth_http_request_duration_seconds_sum{${d.labels}} ${d.sum}`);
      out.push(`berth_http_request_duration_seconds_count{${d.labels}} ${d.count}`);
    }
    const bytes = [...this.#bytes.values()];
    out.push('', '# HELP berth_http_received_bytes_total Request body bytes received (by declared Content-Length), by route', '# TYPE berth_http_received_bytes_total counter');
    for (const b of bytes) if (b.received > 0) out.push(`berth_http_received_bytes_total{${b.labels}} ${b.received}`);
    out.push('', '# HELP berth_http_sent_bytes_total Response body bytes sent, by route', '# TYPE berth_http_sent_bytes_total counter');
    for (const b of bytes) if (b.sent > 0) out.push(`berth_http_sent_bytes_total{${b.labels}} ${b.sent}`);
    return `${out.join('\n')}\n`;
  }
}
