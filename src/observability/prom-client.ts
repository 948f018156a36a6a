/**
 * The four parts of prom-client berth uses, each imported from its own file. The package's index
 * requires all of it: the push gateway's client (node:https, zlib), the cluster aggregator,
 * summaries (tdigest, bintrees) and the default process metrics, which load @opentelemetry/api's
 * ~50 modules. None of that is used by berth, and it cost every server ~60 ms of start-up CPU on
 * Node (issue 15; bench/README.md, "Idle memory and start-up on Node").
 */
import type * as prom from 'prom-client';
import CounterClass from 'prom-client/lib/counter.js';
import GaugeClass from 'prom-client/lib/gauge.js';
import HistogramClass from 'prom-client/lib/histogram.js';
import RegistryClass from 'prom-client/lib/registry.js';

export const Counter: typeof prom.Counter = CounterClass;
export const Gauge: typeof prom.Gauge = GaugeClass;
export const Histogram: typeof prom.Histogram = HistogramClass;
export const Registry: typeof prom.Registry = RegistryClass;
