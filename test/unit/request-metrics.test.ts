import { describe, expect, it } from 'vitest';
import { RequestMetrics } from '../../src/observability/request-metrics.ts';

const lines = (text: string): string[] => text.split('\n');

describe('RequestMetrics (per-request families in the Prometheus text format)', () => {
  const request = { route: '/v2/<name>/manifests/<reference>', method: 'GET', status: 200, seconds: 0.002, bytesIn: 0, bytesOut: 100 };

  it('counts per route, method and status; sums bytes per route', () => {
    const m = new RequestMetrics([0.001, 0.01]);
    m.record(request);
    m.record({ ...request, status: 404, bytesOut: 20 });
    m.record({ ...request, method: 'PUT', status: 201, bytesIn: 300, bytesOut: 0 });
    const text = lines(m.text());
    expect(text).toContain('berth_http_requests_total{route="/v2/<name>/manifests/<reference>",method="GET",status="200"} 1');
    expect(text).toContain('berth_http_requests_total{route="/v2/<name>/manifests/<reference>",method="GET",status="404"} 1');
    expect(text).toContain('berth_http_requests_total{route="/v2/<name>/manifests/<reference>",method="PUT",status="201"} 1');
    expect(text).toContain('berth_http_sent_bytes_total{route="/v2/<name>/manifests/<reference>"} 120');
    expect(text).toContain('berth_http_received_bytes_total{route="/v2/<name>/manifests/<reference>"} 300');
    expect(text).toContain('# TYPE berth_http_request_duration_seconds histogram');
  });

  it('writes cumulative buckets with le inclusive, +Inf, sum and count', () => {
    const m = new RequestMetrics([0.001, 0.01]);
    for (const seconds of [0.0005, 0.001, 0.005, 0.5]) m.record({ ...request, seconds });
    const text = lines(m.text());
    const labels = 'route="/v2/<name>/manifests/<reference>",method="GET"';
    expect(text).toContain(`berth_http_request_duration_seconds_bucket{${labels},le="0.001"} 2`);
    expect(text).toContain(`berth_http_request_duration_seconds_bucket{${labels},le="0.01"} 3`);
    expect(text).toContain(`berth_http_request_duration_seconds_bucket{${labels},le="+Inf"} 4`);
    expect(text).toContain(`berth_http_request_duration_seconds_count{${labels}} 4`);
    const sum = text.find((l) => l.startsWith('berth_http_request_duration_seconds_sum'));
    expect(Number(sum?.split(' ')[1])).toBeCloseTo(0.5065, 6);
  });

  it('escapes label values', () => {
    const m = new RequestMetrics([1]);
    m.record({ ...request, method: 'WEIRD"\\\n' });
    expect(m.text()).toContain('method="WEIRD\\"\\\\\\n"');
  });
});
