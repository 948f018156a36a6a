import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { PasswordChecker, type CheckResult } from '../../../src/auth/passwords.ts';
import { UserStore } from '../../../src/auth/users.ts';
import { createLogger } from '../../../src/observability/log.ts';

const logger = createLogger('silent');
const hash = bcrypt.hashSync('right', 4);

describe('PasswordChecker', () => {
  it('checks a password against its hash; an unknown user (no hash) never passes', async () => {
    const checker = new PasswordChecker(logger);
    try {
      expect(await checker.check('right', hash)).toBe(true);
      expect(await checker.check('wrong', hash)).toBe(false);
      expect(await checker.check('right', undefined, 4)).toBe(false);
      expect(await checker.check('', undefined, 4)).toBe(false);
    } finally {
      await checker.close();
    }
  });

  it('sheds checks beyond its queue as busy instead of letting it grow, and answers the rest', async () => {
    const checker = new PasswordChecker(logger);
    try {
      const results: CheckResult[] = await Promise.all(Array.from({ length: 60 }, (_, i) => checker.check(i % 2 === 0 ? 'right' : 'wrong', hash)));
      const busy = results.filter((r) => r === 'busy').length;
      expect(busy).toBeGreaterThan(0);
      expect(busy).toBeLessThan(60);
      // Every check that ran got the right answer.
      results.forEach((r, i) => {
        if (r !== 'busy') expect(r).toBe(i % 2 === 0);
      });
      // Once the queue drains, checks are taken again.
      expect(await checker.check('right', hash)).toBe(true);
    } finally {
      await checker.close();
    }
  });
});

describe('UserStore', () => {
  it('checks an unknown user against a dummy of the cost most users have, so a wrong name costs what a wrong password costs', async () => {
    const calls: Array<{ hash: string | undefined; cost: number | undefined }> = [];
    const checker = {
      check: async (_password: string, h: string | undefined, cost?: number) => {
        calls.push({ hash: h, cost });
        return false;
      },
      prepare: () => undefined,
    } as unknown as PasswordChecker;
    const users = new UserStore(
      { a: { password: bcrypt.hashSync('x', 5) }, b: { password: bcrypt.hashSync('x', 5) }, c: { password: bcrypt.hashSync('x', 4) } },
      undefined,
      logger,
      checker,
    );
    expect(await users.verify('nobody', 'guess')).toBe(false);
    expect(await users.verify('c', 'guess')).toBe(false);
    expect(calls[0]).toEqual({ hash: undefined, cost: 5 });
    expect(calls[1]?.hash).toMatch(/^\$2[aby]\$04\$/);
  });
});
