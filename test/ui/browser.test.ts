/**
 * The web UI in a real browser (Debian's Chromium, headless, via playwright-core) against berth on
 * the runtime under test: sign in, browse to a two-platform signed index, follow a platform to a
 * layer, delete a tag and see it gone; hostile annotations stay text; every main page can be used
 * with the keyboard and has readable contrast in light and dark schemes. Screenshots go to
 * test-results/ui/<runtime>/ (gitignored).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contrastFailures, tabThrough } from '../support/a11y.ts';
import { basic, hashPassword, startWithConfig, type AuthServer } from '../support/auth.ts';
import { testRuntime } from '../support/server.ts';
import { artefactDir, hasChromium, launchBrowser, pushImage, pushSample, type Browser, type Sample } from '../support/ui.ts';

// CI installs chromium; there a missing browser is a failure, not a skip.
const describeBrowser = hasChromium() || process.env.CI ? describe : describe.skip;

const pw = { alice: 'alice-browser-pw', bob: 'bob-browser-pw' };
const hostile = {
  'org.example.img': '<img src=x onerror="window.__xss=1">',
  'org.example.script': '"><script>window.__xss=2</script>',
};

describeBrowser(`the web UI in Chromium [${testRuntime}]`, () => {
  let server: AuthServer;
  let browser: Browser;
  let page: Page;
  let sample: Sample;
  let shots: string;
  const dialogs: string[] = [];
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    server = await startWithConfig({
      auth: {
        mode: 'basic',
        users: { alice: { password: hashPassword(pw.alice) }, bob: { password: hashPassword(pw.bob) } },
        rules: [
          { users: ['alice'], repositories: ['**'], actions: ['pull', 'push', 'delete'], catalog: true },
          { users: ['bob'], repositories: ['team/**'], actions: ['pull'], catalog: true },
        ],
      },
    });
    const auth = basic('alice', pw.alice);
    sample = await pushSample(server.url, 'team/app', 'v1', { annotations: hostile, auth });
    await pushImage(server.url, 'team/app', { tag: 'old', auth });
    await pushImage(server.url, 'team/app', { tag: 'latest', auth });
    await pushImage(server.url, 'other/thing', { tag: '1.0', auth });
    shots = await artefactDir(testRuntime);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in, browses to a signed two-platform index, follows a platform to a layer', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'Sign in' }).first().click();
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill(pw.alice);
    await shot('01-sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/ui/`);
    expect(await page.textContent('header')).toContain('Signed in as alice');
    await shot('02-repositories');

    await page.getByRole('link', { name: 'team/app' }).click();
    await page.waitForURL(/\/ui\/repo\/team\/app$/);
    expect(await page.locator('tbody tr').count()).toBe(3);
    await shot('03-repository');

    await page.getByRole('link', { name: 'v1', exact: true }).click();
    await page.waitForURL(/\/-\/manifest\/v1$/);
    expect(await page.textContent('h1')).toBe('team/app:v1');
    const main = (await page.textContent('main')) ?? '';
    expect(main).toContain('Platforms (2)');
    expect(main).toContain('linux/amd64');
    expect(main).toContain('linux/arm64');
    expect(main).toContain('Signatures (1)');
    expect(main).toContain('SBOMs (1)');
    await shot('04-index');

    await page.getByRole('link', { name: 'linux/amd64' }).click();
    await page.waitForURL(new RegExp(`/-/manifest/${sample.amd64.digest}$`));
    const layer = sample.amd64.layers[0]!;
    await page.locator(`a[title="${layer.digest}"]`).click();
    await page.waitForURL(/\/-\/blob\//);
    const blob = (await page.textContent('main')) ?? '';
    expect(blob).toContain('layer 1 of 3');
    expect(blob).toContain(layer.digest);
    await shot('05-layer');
  });

  it('shows hostile annotations as text and runs none of them', async () => {
    await page.goto(`${server.url}/ui/repo/team/app/-/manifest/v1`);
    const main = (await page.textContent('main')) ?? '';
    for (const value of Object.values(hostile)) expect(main).toContain(value);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    await page.goto(`${server.url}/ui/?q=${encodeURIComponent('<img src=x onerror="window.__xss=3">')}`);
    expect(await page.inputValue('#q')).toBe('<img src=x onerror="window.__xss=3">');
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(dialogs).toEqual([]);
  });

  it('deletes a tag after asking, and the tag is gone', async () => {
    await page.goto(`${server.url}/ui/repo/team/app`);
    await page.getByRole('link', { name: 'Delete tag old' }).click();
    expect(await page.textContent('h1')).toBe('Delete tag?');
    await shot('06-confirm-delete');
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/deleted=old$/);
    expect(await page.getByRole('status').textContent()).toBe('Deleted tag old.');
    expect(await page.getByRole('link', { name: 'old', exact: true }).count()).toBe(0);
    expect(await page.locator('tbody tr').count()).toBe(2);
    await shot('07-deleted');
    expect((await fetch(`${server.url}/v2/team/app/manifests/old`, { headers: { Authorization: basic('alice', pw.alice) } })).status).toBe(404);
  });

  /** A new tab, signed in as `user` (the profile's cookies cleared first). */
  async function signedIn(user: 'alice' | 'bob'): Promise<Page> {
    await browser.context.clearCookies();
    const p = await browser.context.newPage();
    await p.goto(`${server.url}/ui/login`);
    await p.getByLabel('User name').fill(user);
    await p.getByLabel('Password').fill(pw[user]);
    await p.keyboard.press('Enter');
    await p.waitForURL(`${server.url}/ui/`);
    return p;
  }

  it('offers a reader no delete', async () => {
    const reader = await signedIn('bob');
    expect(await reader.getByRole('link', { name: 'other/thing' }).count()).toBe(0);
    await reader.goto(`${server.url}/ui/repo/team/app/-/manifest/v1`);
    expect(await reader.getByRole('link', { name: /Delete/ }).count()).toBe(0);
    await reader.close();
  });

  const mainPages = (): string[] => [
    '/ui/',
    '/ui/repo/team/app',
    '/ui/repo/team/app/-/manifest/v1',
    `/ui/repo/team/app/-/blob/${encodeURIComponent(sample.amd64.layers[0]!.digest)}?from=${encodeURIComponent(sample.amd64.digest)}`,
    '/ui/storage',
  ];

  it('reaches every link, button and field with Tab, with a visible focus', async () => {
    await browser.context.clearCookies();
    const login = await browser.context.newPage();
    await login.goto(`${server.url}/ui/login`);
    const report = await tabThrough(login);
    expect(report.unreached).toEqual([]);
    expect(report.invisibleFocus).toEqual([]);
    await login.close();
    const p = await signedIn('alice');
    for (const path of mainPages()) {
      await p.goto(`${server.url}${path}`);
      const report = await tabThrough(p);
      expect(report.elements.length, path).toBeGreaterThan(3);
      expect(report.unreached, path).toEqual([]);
      expect(report.invisibleFocus, path).toEqual([]);
    }
    await p.close();
  });

  it('copies a pull command with its Copy button', async () => {
    const p = await signedIn('alice');
    await p.goto(`${server.url}/ui/repo/team/app/-/manifest/v1`);
    const button = p.getByRole('button', { name: /^Copy docker pull / });
    await button.click();
    // Over plain HTTP there is no clipboard API: the command is selected for Ctrl+C instead.
    await p.waitForFunction(() => [...document.querySelectorAll('button.copy')].some((b) => b.textContent === 'Copied' || b.textContent === 'Selected'));
    const selected = await p.evaluate(() => window.getSelection()?.toString() ?? '');
    const copied = (await button.textContent()) === 'Copied';
    expect(copied || selected.startsWith('docker pull 127.0.0.1:')).toBe(true);
    await p.close();
  });

  it('has WCAG AA contrast on the main pages, light and dark', async () => {
    await browser.context.clearCookies();
    const login = await browser.context.newPage();
    for (const colorScheme of ['light', 'dark'] as const) {
      await login.emulateMedia({ colorScheme });
      await login.goto(`${server.url}/ui/login`);
      expect(await contrastFailures(login), `sign-in page (${colorScheme})`).toEqual([]);
    }
    await login.close();
    const p = await signedIn('alice');
    for (const colorScheme of ['light', 'dark'] as const) {
      await p.emulateMedia({ colorScheme });
      for (const path of mainPages()) {
        await p.goto(`${server.url}${path}`);
        expect(await contrastFailures(p), `${path} (${colorScheme})`).toEqual([]);
      }
      await p.goto(`${server.url}/ui/repo/team/app/-/manifest/v1`);
      await p.screenshot({ path: join(shots, `08-index-${colorScheme}.png`), fullPage: true });
    }
    await p.close();
  });
});

describeBrowser(`the web UI without JavaScript [${testRuntime}]`, () => {
  let server: AuthServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startWithConfig({ auth: { mode: 'basic', users: { alice: { password: hashPassword(pw.alice) } }, rules: [{ users: ['alice'], repositories: ['**'], actions: ['push', 'delete'], catalog: true }] } });
    const auth = basic('alice', pw.alice);
    await pushSample(server.url, 'team/app', 'v1', { auth });
    await pushImage(server.url, 'team/app', { tag: 'old', auth });
    browser = await launchBrowser({ javaScript: false });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in, browses and deletes with plain links and forms', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/ui/login`);
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill(pw.alice);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/ui/`);
    await page.getByRole('link', { name: 'team/app' }).click();
    await page.getByRole('link', { name: 'v1', exact: true }).click();
    expect(await page.textContent('main')).toContain('Platforms (2)');
    // Without script there are no Copy buttons: the commands are plain text to select.
    expect(await page.locator('button.copy').count()).toBe(0);
    await page.goto(`${server.url}/ui/repo/team/app`);
    await page.getByRole('link', { name: 'Delete tag old' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/deleted=old$/);
    expect(await page.getByRole('link', { name: 'old', exact: true }).count()).toBe(0);
  });
});
