import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  dir: string;
  /** Remounts it read-only (`ro: true`) or read-write: a disk the kernel turned read-only after errors. */
  remount(opts: { ro: boolean }): Promise<void>;
  unmount(): Promise<void>;
}

/**
 * A real filesystem of `bytes` capacity: tmpfs mounted on a fresh directory. A write past its size
 * fails with ENOSPC exactly as on a full disk. Needs root (or CAP_SYS_ADMIN); undefined without it.
 */
export async function mountTmpfs(bytes: number): Promise<Tmpfs | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  } catch {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    remount: async ({ ro }) => {
      await run('mount', ['-o', `remount,${ro ? 'ro' : 'rw'}`, dir]);
    },
    unmount: async () => {
      // -l: a server that still has a file open must not keep the mount (and the test) hanging.
      await run('umount', ['-l', dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether this machine lets tests mount a tmpfs; where it must (CI), a refusal fails instead. */
export async function tmpfsAvailable(): Promise<boolean> {
  const probe = await mountTmpfs(1 << 20);
  if (!probe) {
    if (process.env.CI) throw new Error('CI must be able to mount a tmpfs (run as root) for the disk-full tests');
    return false;
  }
  await probe.unmount();
  return true;
}
