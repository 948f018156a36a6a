import { isAlgorithm, parseDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { Driver } from '../storage/driver.ts';
import { layout } from './layout.ts';

const text = new TextDecoder();

/** The referrers index: one small object per (subject, referrer) pair holding the referrer's descriptor. */
export class Referrers {
  readonly #driver: Driver;

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  async add(name: string, subject: Digest, descriptor: Descriptor): Promise<void> {
    await this.#driver.put(layout.referrer(name, subject, parseDigest(descriptor.digest)), JSON.stringify(descriptor));
  }

  async remove(name: string, subject: Digest, referrer: Digest): Promise<void> {
    await this.#driver.delete(layout.referrer(name, subject, referrer));
  }

  /** Every referrer recorded for `subject`, ordered by digest. */
  async list(name: string, subject: Digest): Promise<Descriptor[]> {
    const entries = await this.#driver.list(layout.referrers(name, subject));
    const dir = layout.referrers(name, subject);
    const found = await Promise.all(
      entries.map(async (entry) => {
        const raw = await this.#driver.get(`${dir}/${entry}`);
        return raw ? (JSON.parse(text.decode(raw)) as Descriptor) : undefined;
      }),
    );
    return found.filter((d): d is Descriptor => d !== undefined);
  }
}

/** The referrers tag schema's tag for a subject: `<alg>-<hex>`, hex cut to 64 characters (spec: Referrers Tag Schema). */
export const referrersTag = (subject: Digest): string => `${subject.algorithm}-${subject.hex.slice(0, 64)}`;

/** The referrer digest an entry under `_referrers/<alg>/<hex>/` names (`<alg>-<hex>`), if well formed. */
export function parseReferrerEntry(entry: string): Digest | undefined {
  const dash = entry.indexOf('-');
  const algorithm = entry.slice(0, dash);
  const hex = entry.slice(dash + 1);
  return dash > 0 && isAlgorithm(algorithm) && /^[a-f0-9]+$/.test(hex) ? { algorithm, hex } : undefined;
}
