import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { repositoryPattern } from '../config/patterns.ts';

/** What a webhook may ask to hear about. */
export const eventActions = ['push', 'delete', 'mirror', 'pull'] as const;
export type EventAction = (typeof eventActions)[number];

const webhookUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http:// or https:// URL' });

const webhook = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
      .describe('How logs and metrics (the `webhook` label) name it.'),
    url: webhookUrl.describe('Where events are POSTed, one CloudEvents 1.0 JSON document per request (structured mode).'),
    secret: z
      .string()
      .min(16, 'must be at least 16 characters')
      .optional()
      .describe('Signs each request: `Berth-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body with this key. Receivers compare it in constant time and drop what does not match.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers (`Authorization`, ...). Never logged.'),
    repositories: z.array(repositoryPattern).min(1).default(['**']).describe('Repository name globs whose events it receives.'),
    actions: z
      .array(z.enum(eventActions))
      .min(1)
      .default(['push', 'delete', 'mirror'])
      .describe('`push` (a manifest, and each tag it is pushed under), `delete` (a manifest or a tag, by a client or by the scheduled retention rules), `mirror` (the mirror stored a manifest fetched from its upstream), `pull` (a manifest GET; off by default: one event per pull).'),
    mediaTypes: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Only events about manifests of these media types or artifact types. Absent: all. A tag deletion is matched on the manifest the tag pointed at.'),
    timeout: duration.prefault('10s').describe('How long one delivery may take before it counts as failed.'),
    retries: z.number().int().min(0).max(100).default(8).describe('Further attempts after a failed delivery (a network error, a timeout, 408, 429 or 5xx; other answers are final), with backoff.'),
    backoff: duration.prefault('1s').describe('Wait before the first retry; it doubles with each retry, up to `maxBackoff`.'),
    maxBackoff: duration.prefault('5m').describe('The longest wait between two attempts.'),
    queueSize: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('Events waiting for this webhook (the one being delivered included). When it is full, new events are dropped and counted (`berth_events_dropped_total`), so an endpoint that is down never makes memory grow.'),
  })
  .strict();

export type WebhookOptions = z.output<typeof webhook>;

/** The `events:` block: who hears about pushes, deletes, mirror fills and pulls. */
export const eventsSchema = z
  .object({
    source: z
      .string()
      .min(1)
      .default('berth')
      .describe('The CloudEvents `source` of every event: a URI reference naming this registry (`https://registry.example.com`).'),
    webhooks: z
      .array(webhook)
      .default([])
      .refine((hooks) => new Set(hooks.map((h) => h.name)).size === hooks.length, { message: 'webhook names must be unique' })
      .describe('Endpoints that receive events, each with its own filter, queue and retries; delivered in order, at least once (a receiver drops repeats by the event `id`).'),
  })
  .strict()
  .prefault({})
  .describe('Events (CloudEvents 1.0 JSON) sent to webhooks.');

export type EventsOptions = z.output<typeof eventsSchema>;
