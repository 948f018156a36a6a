/**
 * The registry raising events for what clients did through it: pushes (the manifest, then each tag),
 * deletes, mirror fills (a manifest the mirror fetched and stored to answer) and pulls. Wraps the
 * registry HTTP serves outermost, so what another layer refused (an immutable tag) raises nothing.
 */
import { formatDigest, type Digest } from '../oci/digest.ts';
import { parseManifest } from '../oci/manifest.ts';
import { decorate } from '../registry/decorate.ts';
import type { Reference, ServedManifest } from '../registry/manifests.ts';
import type { Registry } from '../registry/registry.ts';
import type { EventData } from './cloudevent.ts';
import type { Notifier } from './notifier.ts';

/** A served manifest's artifact type, for `mediaTypes` filters (it was valid when stored). */
function artifactTypeOf(bytes: Uint8Array, mediaType: string): string | undefined {
  try {
    return parseManifest(bytes, mediaType).artifactType;
  } catch {
    return undefined;
  }
}

export function withEvents(registry: Registry, events: Notifier | undefined): Registry {
  if (!events) return registry;
  const { manifests, tags } = registry;

  /** A manifest the mirror fetched to answer this request (`miss`): stored now, so an event. */
  const served = (name: string, ref: Reference, found: ServedManifest): void => {
    if (found.outcome !== 'miss' || !events.wants('mirror', name)) return;
    events.raise('berth.manifest.mirrored', { repository: name, digest: formatDigest(found.digest), mediaType: found.mediaType, size: found.size, ...(ref.tag === undefined ? {} : { tag: ref.tag }) });
  };

  /** What a delete is about, read before it: the media type a filter may ask for. */
  const describe = async (name: string, digest: Digest): Promise<Pick<EventData, 'mediaType' | 'size'>> => {
    const found = await manifests.resolve(name, { digest }).catch(() => undefined);
    return found ? { mediaType: found.mediaType, size: found.size } : {};
  };

  return decorate(registry, {
    manifests: {
      async stat(name, ref, accept) {
        const found = await manifests.stat(name, ref, accept);
        served(name, ref, found);
        return found;
      },
      async get(name, ref, accept) {
        const found = await manifests.get(name, ref, accept);
        served(name, ref, found);
        if (events.wants('pull', name)) {
          const artifactType = artifactTypeOf(found.bytes, found.mediaType);
          events.raise('berth.manifest.pulled', {
            repository: name,
            digest: formatDigest(found.digest),
            mediaType: found.mediaType,
            ...(artifactType === undefined ? {} : { artifactType }),
            size: found.size,
            ...(ref.tag === undefined ? {} : { tag: ref.tag }),
          });
        }
        return found;
      },
      async put(name, ref, bytes, contentType, extraTags) {
        const pushed = await manifests.put(name, ref, bytes, contentType, extraTags);
        if (!events.wants('push', name)) return pushed;
        const digest = formatDigest(pushed.digest);
        const about = {
          repository: name,
          digest,
          mediaType: pushed.info.mediaType,
          ...(pushed.info.artifactType === undefined ? {} : { artifactType: pushed.info.artifactType }),
        };
        events.raise('berth.manifest.pushed', {
          ...about,
          size: bytes.byteLength,
          tags: pushed.tags,
          ...(pushed.info.subject ? { subject: formatDigest(pushed.info.subject.parsed) } : {}),
        });
        for (const tag of pushed.tags) events.raise('berth.tag.pushed', { ...about, tag });
        return pushed;
      },
      async delete(name, digest) {
        const about = events.wants('delete', name) ? await describe(name, digest) : undefined;
        await manifests.delete(name, digest);
        if (about) events.raise('berth.manifest.deleted', { repository: name, digest: formatDigest(digest), ...about });
      },
    },
    tags: {
      async delete(name, tag) {
        const target = events.wants('delete', name) ? await tags.resolve(name, tag).catch(() => undefined) : undefined;
        const about = target && (await describe(name, target));
        const deleted = await tags.delete(name, tag);
        if (deleted && target) events.raise('berth.tag.deleted', { repository: name, tag, digest: formatDigest(target), ...about });
        return deleted;
      },
    },
  });
}
