// End-to-end test of the bearer-auth pages in a real browser (Debian's
// Chromium driven by playwright-core), against a running server.
//
//   BASE_URL          the server (default http://127.0.0.1:8000)
//   SCREENSHOT_DIR    where the screenshots go (default target/screenshots)
//   EXPECT_SESSIONS   optional: "1" or "0", what the server is expected to
//                     run with; by default it is found out from the server
//   CHROMIUM_PATH     the browser (default /usr/bin/chromium)
//
// Works against the default profile (stateless tokens) and against `strict`
// (sessions, single-use tokens, rotation and encryption all on).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '');
const SCREENSHOT_DIR = path.resolve(process.env.SCREENSHOT_DIR || 'target/screenshots');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TOKEN_KEY = 'bearer-auth.token';
const TIMEOUT = 15_000;

const username = `e2e-${randomBytes(5).toString('hex')}`;
const password = `pw-${randomBytes(9).toString('base64url')}`;

let browser;
let desktop; // { context, page, problems }
let phone;
let sessionsOn;

/** A context with its page, and every page error or CSP violation it saw. */
async function open(options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(`console: ${text}`);
  });
  // No JavaScript dialog (alert, confirm, prompt) is ever expected.
  page.on('dialog', async (dialog) => {
    problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    await dialog.dismiss();
  });
  // Nor the browser's own password dialog, which a 401 with
  // `WWW-Authenticate: Basic` brings up unless the request omits
  // credentials. Chromium asks the DevTools protocol first (Fetch with
  // handleAuthRequests): every such ask is a dialog the user would have seen.
  const cdp = await context.newCDPSession(page);
  cdp.on('Fetch.requestPaused', (event) => {
    cdp.send('Fetch.continueRequest', { requestId: event.requestId }).catch(() => {});
  });
  cdp.on('Fetch.authRequired', (event) => {
    problems.push(`password dialog: ${event.request.method} ${event.request.url}`);
    cdp
      .send('Fetch.continueWithAuth', {
        requestId: event.requestId,
        authChallengeResponse: { response: 'CancelAuth' },
      })
      .catch(() => {});
  });
  await cdp.send('Fetch.enable', { handleAuthRequests: true, patterns: [{ urlPattern: '*' }] });
  return { context, page, problems };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, name), fullPage: true });
}

/** Waits until the element's trimmed text is exactly `text`. */
async function waitForText(page, selector, text) {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent.trim() === want,
    [selector, text],
    { timeout: TIMEOUT },
  );
}

async function text(page, selector) {
  return (await page.locator(selector).textContent())?.trim();
}

/** Waits for the signed-in panel to have loaded everything it shows. */
async function waitForPanel(page) {
  await page.locator('#panel').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.body.dataset.loaded === 'true', null, {
    timeout: TIMEOUT,
  });
  await waitForText(page, '#secret', 'Welcome to the secret area!');
}

async function storedToken(page) {
  return page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY);
}

/** The status of `GET path` sent from the page with this bearer token. */
async function statusWith(page, token, urlPath = '/secret') {
  return page.evaluate(
    async ([p, t]) => {
      const response = await fetch(p, {
        headers: { Authorization: `Bearer ${t}` },
        credentials: 'omit',
        cache: 'no-store',
      });
      return response.status;
    },
    [urlPath, token],
  );
}

async function signIn(page, user, pass) {
  await page.locator('#signin-username').fill(user);
  await page.locator('#signin-password').fill(pass);
  await page.locator('#signin-form button[type=submit]').click();
}

async function usersList(page) {
  return page.locator('#users li').evaluateAll((items) =>
    items.map((item) => item.firstChild.textContent.trim()),
  );
}

before(async () => {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  // Sessions on or off? Unauthenticated, GET /sessions is 401 when the route
  // is mounted and 404 when it is not.
  const probe = await fetch(`${BASE_URL}/sessions`);
  assert.ok([401, 404].includes(probe.status), `GET /sessions answered ${probe.status}`);
  sessionsOn = probe.status === 401;
  if (process.env.EXPECT_SESSIONS !== undefined && process.env.EXPECT_SESSIONS !== '') {
    assert.equal(sessionsOn, process.env.EXPECT_SESSIONS === '1', 'sessions on/off as expected');
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  desktop = await open({ viewport: { width: 1280, height: 800 } });
  phone = await open({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
});

after(async () => {
  await browser?.close();
});

test('the page loads signed out, with both forms', async () => {
  const { page } = desktop;
  const response = await page.goto(`${BASE_URL}/`);
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'bearer-auth');
  await page.locator('#signin-username').waitFor({ state: 'visible' });
  await page.locator('#signup-username').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#panel').isVisible(), false);
  assert.equal(await page.locator('#signin-username').isEnabled(), true);
  // No inline script anywhere: everything comes from app.js.
  const inline = await page.evaluate(
    () =>
      [...document.scripts].filter((s) => !s.src).length +
      document.querySelectorAll('[onclick],[onsubmit],[onload],[oninput],[onchange]').length,
  );
  assert.equal(inline, 0);
  await shot(page, '01-signed-out.png');
});

test('signing up signs the new user in', async () => {
  const { page } = desktop;
  await page.locator('#signup-username').fill(username);
  await page.locator('#signup-password').fill(password);
  await page.locator('#signup-form button[type=submit]').click();
  await waitForPanel(page);
  assert.match(await text(page, '#message'), /Welcome/);
  assert.equal(await text(page, '#whoami'), username);
  assert.ok((await usersList(page)).includes(username), 'the new user is in the users list');
  assert.ok(await storedToken(page), 'the token is kept in sessionStorage');
  await shot(page, '02-signed-up.png');

  // Taking the same name again is refused, and the server's words are shown.
  const other = await open({ viewport: { width: 1280, height: 800 } });
  try {
    await other.page.goto(`${BASE_URL}/`);
    await other.page.locator('#signup-username').fill(username);
    await other.page.locator('#signup-password').fill(password);
    await other.page.locator('#signup-form button[type=submit]').click();
    await other.page.locator('#message.message-error').waitFor({ state: 'visible' });
    assert.ok((await text(other.page, '#message')).length > 0);
    assert.equal(await other.page.locator('#panel').isVisible(), false);
    // A password that is too short: the server's error is shown too.
    await other.page.locator('#signup-username').fill(`${username}-2`);
    await other.page.locator('#signup-password').fill('short');
    await other.page.locator('#signup-form button[type=submit]').click();
    await other.page.waitForFunction(
      () => /password/i.test(document.querySelector('#message')?.textContent || ''),
      null,
      { timeout: TIMEOUT },
    );
    assert.deepEqual(other.problems, []);
  } finally {
    await other.context.close();
  }
});

test('log out, then a wrong password shows "Invalid Login"', async () => {
  const { page } = desktop;
  await page.locator('#logout').click();
  await page.locator('#signin-form').waitFor({ state: 'visible' });
  assert.equal(await storedToken(page), null, 'log-out forgets the token');
  await signIn(page, username, `${password}-wrong`);
  await waitForText(page, '#message', 'Invalid Login');
  assert.equal(await page.locator('#panel').isVisible(), false);
  assert.equal(await storedToken(page), null);
  assert.equal(await page.locator('#signin-password').inputValue(), '', 'the password is cleared');
  await shot(page, '03-invalid-login.png');
});

test('signing in reaches the secret area and survives a reload', async () => {
  const { page, context } = desktop;
  await signIn(page, username, password);
  await waitForPanel(page);
  assert.equal(await text(page, '#whoami'), username);
  assert.ok((await usersList(page)).includes(username), 'the user is in the users list');

  if (sessionsOn) {
    await page.locator('#sessions-card').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#sessions li.current').count(), 1, 'this tab is listed');
  } else {
    assert.equal(await page.locator('#sessions-card').isVisible(), false);
  }

  // The token survives a reload of the tab (and, with rotation, the one kept
  // is the latest: an older, spent one would be refused).
  await page.reload();
  await waitForPanel(page);
  assert.equal(await text(page, '#whoami'), username);
  assert.deepEqual(await context.cookies(), [], 'no cookie is ever set');
  await shot(page, '04-secret-area.png');
});

test('on a phone-sized screen', async () => {
  const { page } = phone;
  await page.goto(`${BASE_URL}/`);
  await page.locator('#signin-username').waitFor({ state: 'visible' });
  await shot(page, '05-phone-signed-out.png');
  await signIn(page, username, password);
  await waitForPanel(page);
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `no sideways scrolling (overflow ${overflow}px)`);
  if (sessionsOn) {
    await page.locator('#sessions-card').waitFor({ state: 'visible' });
  }
  await shot(page, '06-phone-secret-area.png');
});

test('sessions: list, end another one, log out everywhere', async (t) => {
  if (!sessionsOn) {
    t.skip('sessions are off on this server');
    return;
  }
  const { page } = desktop;
  // The phone's sign-in is a second session: refresh shows both.
  await page.locator('#refresh').click();
  await page.waitForFunction(
    () => document.querySelectorAll('#sessions li').length === 2 && document.body.dataset.loaded === 'true',
    null,
    { timeout: TIMEOUT },
  );
  await shot(page, '07-sessions.png');

  // End the phone's session from the desktop.
  const phoneToken = await storedToken(phone.page);
  assert.ok(phoneToken);
  await page.locator('#sessions li:not(.current) button.session-logout').click();
  await page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1, null, {
    timeout: TIMEOUT,
  });
  assert.equal(await statusWith(phone.page, phoneToken), 401, "the phone's token is dead");
  // The phone page notices on its next request and shows the sign-in form.
  await phone.page.locator('#refresh').click();
  await phone.page.locator('#signin-form').waitFor({ state: 'visible' });
  await phone.page.locator('#message.message-error').waitFor({ state: 'visible' });
  await shot(phone.page, '08-phone-session-ended.png');

  // Sign the phone in again, then log out everywhere from the desktop.
  await signIn(phone.page, username, password);
  await waitForPanel(phone.page);
  const phoneToken2 = await storedToken(phone.page);
  await page.locator('#logout-all').click();
  await page.locator('#signin-form').waitFor({ state: 'visible' });
  await waitForText(page, '#message', 'You are signed out everywhere.');
  assert.equal(await storedToken(page), null);
  assert.equal(await statusWith(phone.page, phoneToken2), 401, 'every session ended');

  // Back in on the desktop for the last step.
  await signIn(page, username, password);
  await waitForPanel(page);
});

test('log out ends the session', async () => {
  const { page } = desktop;
  if (sessionsOn) {
    // The session list was there before logging out.
    await page.locator('#sessions-card').waitFor({ state: 'visible' });
    assert.ok((await page.locator('#sessions li').count()) >= 1);
  }
  const token = await storedToken(page);
  assert.ok(token);
  await page.locator('#logout').click();
  await page.locator('#signin-form').waitFor({ state: 'visible' });
  await waitForText(page, '#message', 'You are signed out.');
  assert.equal(await page.locator('#panel').isVisible(), false);
  assert.equal(await storedToken(page), null, 'the token is forgotten');
  if (sessionsOn) {
    assert.equal(await statusWith(page, token), 401, 'the old token no longer works');
  }
  await shot(page, '09-logged-out.png');
});

test('no page error, CSP violation or dialog on the way', () => {
  assert.deepEqual(desktop.problems, []);
  assert.deepEqual(phone.problems, []);
});
