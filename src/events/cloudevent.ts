/**
 * Events as CloudEvents 1.0 in structured JSON mode (one JSON document per request, the attributes
 * beside `data`), the form Knative, Azure Event Grid and most receivers read without an SDK.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { EventAction } from './schema.ts';

/** `berth.manifest.pushed`, ...: what happened, as receivers filter on it. */
export type EventType =
  | 'berth.manifest.pushed'
  | 'berth.tag.pushed'
  | 'berth.manifest.deleted'
  | 'berth.tag.deleted'
  | 'berth.manifest.mirrored'
  | 'berth.manifest.pulled';

/** The action a webhook's `actions` filter matches each type on. */
export const actionOf: Record<EventType, EventAction> = {
  'berth.manifest.pushed': 'push',
  'berth.tag.pushed': 'push',
  'berth.manifest.deleted': 'delete',
  'berth.tag.deleted': 'delete',
  'berth.manifest.mirrored': 'mirror',
  'berth.manifest.pulled': 'pull',
};

/** What an event is about; `data` of the CloudEvent. */
export interface EventData {
  repository: string;
  digest?: string;
  tag?: string;
  /** Tags a pushed manifest was pushed under. */
  tags?: string[];
  mediaType?: string;
  artifactType?: string;
  size?: number;
  /** The manifest a referrer (signature, SBOM) refers to. */
  subject?: string;
  /** What deleted it when a client did not: the rule (`retention.rules[0]`), and why. */
  rule?: string;
  reason?: string;
}

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: EventType;
  /** `team/app:v1`, `team/app@sha256:...` */
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: EventData;
}

export function cloudEvent(source: string, type: EventType, data: EventData, at = new Date()): CloudEvent {
  const subject = data.tag !== undefined ? `${data.repository}:${data.tag}` : data.digest !== undefined ? `${data.repository}@${data.digest}` : data.repository;
  return { specversion: '1.0', id: randomUUID(), source, type, subject, time: at.toISOString(), datacontenttype: 'application/json', data };
}

export const contentType = 'application/cloudevents+json; charset=utf-8';

/** The header that carries the body's signature, and its value: `sha256=<hex HMAC-SHA256 of the body>`. */
export const signatureHeader = 'Berth-Signature';

export const signature = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
