/**
 * Where events are raised and routed: each webhook's filter (repositories, actions, media types)
 * picks what goes into its own queue. Raising an event never waits on a receiver.
 */
import { repositoryMatcher } from '../config/patterns.ts';
import type { Logger } from '../observability/log.ts';
import { actionOf, cloudEvent, type EventData, type EventType } from './cloudevent.ts';
import { WebhookQueue, type DeliveryObserver } from './delivery.ts';
import type { EventAction, EventsOptions, WebhookOptions } from './schema.ts';

interface Route {
  queue: WebhookQueue;
  repositories: (name: string) => boolean;
  actions: ReadonlySet<EventAction>;
  mediaTypes: ReadonlySet<string> | undefined;
}

const picks = (route: Route, data: EventData): boolean =>
  route.mediaTypes === undefined || (data.mediaType !== undefined && route.mediaTypes.has(data.mediaType)) || (data.artifactType !== undefined && route.mediaTypes.has(data.artifactType));

export class Notifier {
  readonly #source: string;
  readonly #routes: Route[];

  constructor(options: EventsOptions, observe: DeliveryObserver, logger: Logger) {
    this.#source = options.source;
    this.#routes = options.webhooks.map((w: WebhookOptions) => ({
      queue: new WebhookQueue(w, observe, logger),
      repositories: repositoryMatcher(w.repositories),
      actions: new Set(w.actions),
      mediaTypes: w.mediaTypes && new Set(w.mediaTypes),
    }));
  }

  /** Whether any webhook hears `action` in this repository: the caller may skip the work of describing the event. */
  wants(action: EventAction, repository: string): boolean {
    return this.#routes.some((r) => r.actions.has(action) && r.repositories(repository));
  }

  /** Queues the event for each webhook whose filter it passes. */
  raise(type: EventType, data: EventData): void {
    const action = actionOf[type];
    let event;
    for (const route of this.#routes) {
      if (!route.actions.has(action) || !route.repositories(data.repository) || !picks(route, data)) continue;
      // One event, one id, whichever webhooks receive it.
      event ??= cloudEvent(this.#source, type, data);
      route.queue.offer(event);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#routes.map((r) => r.queue.close()));
  }
}
