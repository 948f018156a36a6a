import { formatDigest, parseDigest, type Digest } from '../oci/digest.ts';
import { isTag } from '../oci/names.ts';
import type { Driver } from '../storage/driver.ts';
import { fanOut } from './fan-out.ts';
import { layout } from './layout.ts';
import { parsedOnce } from './parsed.ts';
import { pageOfNames, type Page, type PageRequest } from './paging.ts';

const text = new TextDecoder();
const parseTag = parsedOnce((raw) => parseDigest(text.decode(raw).trim()));

/** Tags: one small object per tag holding the digest it points to. */
export class Tags {
  readonly #driver: Driver;

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  async resolve(name: string, tag: string): Promise<Digest | undefined> {
    const raw = await this.#driver.get(layout.tag(name, tag));
    return raw ? parseTag(raw) : undefined;
  }

  /** When the tag was last written: a mirror's last confirmation of it, across restarts. */
  async writtenAt(name: string, tag: string): Promise<Date | undefined> {
    return (await this.#driver.stat(layout.tag(name, tag)))?.modified;
  }

  async set(name: string, tag: string, digest: Digest): Promise<void> {
    await this.#driver.put(layout.tag(name, tag), formatDigest(digest));
  }

  /**
   * Writes the tag only if it does not exist yet, in one step of the store: of pushes racing for a
   * fresh tag through any replicas, exactly one gets true.
   */
  async create(name: string, tag: string, digest: Digest): Promise<boolean> {
    return this.#driver.create(layout.tag(name, tag), formatDigest(digest));
  }

  /** Returns false when there was no such tag. */
  async delete(name: string, tag: string): Promise<boolean> {
    if (!(await this.#driver.stat(layout.tag(name, tag)))) return false;
    await this.#driver.delete(layout.tag(name, tag));
    return true;
  }

  async all(name: string): Promise<string[]> {
    return (await this.#driver.list(layout.tags(name))).filter(isTag);
  }

  async list(name: string, request: PageRequest): Promise<Page<string>> {
    return pageOfNames(await this.all(name), request);
  }

  /** Tags pointing at `digest`; costs one read per tag (a few at a time), so only deletes use it. */
  async pointingAt(name: string, digest: Digest): Promise<string[]> {
    const target = formatDigest(digest);
    const hits = await fanOut.map(await this.all(name), async (tag) => {
      const raw = await this.#driver.get(layout.tag(name, tag));
      return raw && text.decode(raw).trim() === target ? tag : undefined;
    });
    return hits.filter((t): t is string => t !== undefined);
  }
}
