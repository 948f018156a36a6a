import { readFile, writeFile } from 'node:fs/promises';

const field = (status: string, name: string): number => {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : 0;
};

/** Resident memory of a process, now and at its peak (VmHWM), from /proc. */
export async function rss(pid: number): Promise<{ current: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { current: field(status, 'VmRSS'), peak: field(status, 'VmHWM') };
}

/** Resets a process's peak RSS to its current RSS (Linux: `5` into clear_refs), so a peak belongs to one run. */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}
