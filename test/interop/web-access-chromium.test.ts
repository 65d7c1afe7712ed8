// Web access in a real browser: Debian's Chromium, driven by playwright-core, signs two
// users in through the reverse proxy's forms sign-in of an all-in-one deployment; they find
// and add each other, see each other's presence change and exchange IM. A wrong password
// shows an error; a tampered CSRF token gets 403. Screenshots go to
// test-artifacts/web-access/. Needs the Debian package `chromium`.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { requireProgram } from '../helpers/process.ts';
import { rampartCli, REPO_ROOT, startRampart, type RampartInstance } from '../helpers/rampart.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'web-access');
const USERS = { alice: 'alice-web-pw', bob: 'bob-web-pw' } as const;
const TIMEOUT_MS = 15_000;

let rampart: RampartInstance | undefined;
let browser: Browser | undefined;
let base = '';

async function signIn(user: keyof typeof USERS | 'mallory', password: string): Promise<Page> {
  assert.ok(browser !== undefined);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  await page.goto(`${base}/webaccess/`);
  // Not signed in: the proxy sends the browser to its sign-in form.
  assert.match(new URL(page.url()).pathname, /^\/signin/);
  await page.fill('input[name="user"]', `${user}@example.test`);
  await page.fill('input[name="password"]', password);
  const [posted] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/signin',
    ),
    page.click('button[type="submit"], input[type="submit"]'),
  ]);
  // Signed in: 303 back to the page asked for; refused: the form again.
  if (posted.status() === 303) await page.waitForURL(/\/webaccess\/$/);
  else await page.waitForLoadState();
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

before(async () => {
  const executablePath = requireProgram('chromium', 'chromium');
  await mkdir(ARTIFACTS, { recursive: true });
  rampart = await startRampart();
  for (const [user, password] of Object.entries(USERS))
    await rampartCli(
      rampart.dataDir,
      'user',
      'add',
      `${user}@example.test`,
      '--password',
      password,
      '--name',
      user === 'alice' ? 'Alice Liddell' : 'Bob Builder',
    );
  base = `https://127.0.0.1:${String(rampart.endpoint('reverse-proxy', 'external', 'https').port)}`;
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  await rampart?.stop();
});

describe('web access in Chromium through the reverse proxy', () => {
  test('two users sign in, add each other, see presence change and exchange IM', async () => {
    const alice = await signIn('alice', USERS.alice);
    assert.equal(new URL(alice.url()).pathname, '/webaccess/');
    await alice.waitForSelector('#me:has-text("Signed in as Alice Liddell")');
    const bob = await signIn('bob', USERS.bob);
    await bob.waitForSelector('#me:has-text("Signed in as Bob Builder")');

    // Directory search, then add: each puts the other on the contact list.
    await alice.fill('#search', 'bob');
    await alice.click('#search-form button');
    await alice.click('#results button:has-text("Bob Builder")');
    await bob.fill('#search', 'alice');
    await bob.click('#search-form button');
    await bob.click('#results button:has-text("Alice Liddell")');
    // Both are online and authorised each other: each sees the other available.
    await alice.waitForSelector(
      '#contacts button:has-text("Bob Builder") [data-state="available"]',
    );
    await bob.waitForSelector(
      '#contacts button:has-text("Alice Liddell") [data-state="available"]',
    );
    await shot(alice, '1-alice-sees-bob-online');

    // Bob is busy: Alice sees it.
    await bob.selectOption('#presence', 'busy');
    await bob.fill('#note', 'in a meeting');
    await bob.click('#presence-form button');
    await alice.waitForSelector(
      '#contacts button:has-text("Bob Builder") [data-state="busy"]:has-text("in a meeting")',
    );
    await shot(alice, '2-alice-sees-bob-busy');

    // IM both ways.
    await alice.click('#contacts button:has-text("Bob Builder")');
    await alice.fill('#im', 'Hello Bob, from the browser');
    await alice.click('#im-form button');
    await bob.waitForSelector('#messages li:has-text("Hello Bob, from the browser")');
    await bob.fill('#im', 'Hi Alice, got it');
    await bob.click('#im-form button');
    await alice.waitForSelector('#messages li:has-text("Hi Alice, got it")');
    assert.equal(await alice.locator('#messages li:has-text("not delivered")').count(), 0);
    await shot(alice, '3-alice-conversation');
    await shot(bob, '4-bob-conversation');

    // Sign-out ends the session; the page is no longer reachable without signing in.
    await alice.goto(`${base}/signout`);
    const [signedOut] = await Promise.all([
      alice.waitForResponse(
        (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/signout',
      ),
      alice.click('button[type="submit"], input[type="submit"]'),
    ]);
    assert.equal(signedOut.status(), 303);
    await alice.goto(`${base}/webaccess/`);
    assert.match(new URL(alice.url()).pathname, /^\/signin/);
    // Bob sees Alice go offline (her session unsubscribed and withdrew her presence).
    await bob.waitForSelector('#contacts button:has-text("Alice Liddell") [data-state="offline"]');
  });

  test('a wrong password shows an error and no session', async () => {
    const page = await signIn('alice', 'not-her-password');
    assert.match(new URL(page.url()).pathname, /^\/signin/);
    assert.match(await page.content(), /Wrong user or password/);
    await shot(page, '5-wrong-password');
    const response = await page.goto(`${base}/webaccess/`);
    assert.match(new URL(page.url()).pathname, /^\/signin/, String(response?.status()));
  });

  test('a tampered CSRF token is refused with 403', async () => {
    assert.ok(browser !== undefined);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    await page.goto(`${base}/signin`);
    await page.fill('input[name="user"]', 'alice@example.test');
    await page.fill('input[name="password"]', USERS.alice);
    const token = await page.getAttribute('input[name="csrf"]', 'value');
    assert.ok(token !== null && token.length > 8);
    const tampered = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await page.evaluate(
      `document.querySelector('input[name="csrf"]').value = ${JSON.stringify(tampered)}`,
    );
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/signin',
      ),
      page.click('button[type="submit"], input[type="submit"]'),
    ]);
    assert.equal(response.status(), 403);
    // And no session came of it (a new tab of the same browser context: same cookies).
    const check = await context.newPage();
    await check.goto(`${base}/webaccess/`);
    assert.match(new URL(check.url()).pathname, /^\/signin/);
    await context.close();
  });
});
