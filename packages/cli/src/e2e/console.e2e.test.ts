import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  axeViolations,
  browserSkipReason,
  launchBrowser,
  newPage,
  screenshot,
  signInAdmin,
} from './browser.js';
import { Installation, ok, totp } from './processes.js';

// The admin console and the self-service portal in Debian's chromium, against a real server process
// with the built console: the acceptance flows of the console issue, as an administrator would click them.

const skip = browserSkipReason();
const inst = new Installation();
if (skip) fs.rmSync(inst.work, { recursive: true, force: true }); // nothing will use it
const ADMIN = 'sec@example.com';
const PASSWORD = 'a long and careful admin passphrase';
const JUNIOR = 'junior@example.com';
const EMPLOYEE = 'erin@example.com';
const deviceDir = path.join(inst.work, 'erin-phone');
const ENDPOINTS = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../console/src/api/endpoints.json',
);

let url = '';
let caFingerprint = '';
let totpSecret = '';
let browser: Browser;
let admin: { context: BrowserContext; page: Page; errors: string[] };
let userId = '';
let deviceId = '';
let activationPassword = '';

/**
 * A TOTP code the server will take: a later time step than any used before (it refuses replays),
 * and at most one step ahead of now (its window). Waits for the clock when needed.
 */
let lastStep = 0;
async function nextTotp(): Promise<string> {
  let now = Math.floor(Date.now() / 30_000);
  const step = Math.max(lastStep + 1, now);
  if (step > now + 1) {
    await new Promise((r) => setTimeout(r, (step - 1) * 30_000 - Date.now() + 200));
    now = Math.floor(Date.now() / 30_000);
  }
  lastStep = step;
  return totp(totpSecret, step - now);
}

async function csrfOf(page: Page): Promise<string> {
  const csrf = await page.evaluate(() => sessionStorage.getItem('enclave.csrf'));
  assert.ok(csrf, 'the console keeps the CSRF token for the tab');
  return csrf;
}

async function text(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent())?.trim() ?? '';
}

describe('admin console and self-service portal in a browser', { skip: skip ?? false }, () => {
  before(async () => {
    await inst.create();
    const init = inst.init(ADMIN, 'Acme Corp');
    caFingerprint = init.json.caFingerprint;
    ({ url } = await inst.startServer());
    ok(
      inst.enclave([
        'login',
        '--server',
        url,
        '--email',
        ADMIN,
        '--password-file',
        inst.passwordFile,
        '--ca-fingerprint',
        caFingerprint,
        '--json',
      ]),
    );
    totpSecret = ok(inst.enclave(['account', 'totp', 'enroll', '--json'])).json.secret;
    ok(inst.enclave(['account', 'totp', 'confirm', '--code', await nextTotp(), '--json']));
    browser = await launchBrowser();
    admin = await newPage(browser, { width: 1280 });
  });

  after(async () => {
    await browser?.close();
    await inst.destroy();
  });

  it('every endpoint the console calls is in the server’s OpenAPI document, with its method', async () => {
    const doc = (await (await admin.page.request.get(`${url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const endpoints = JSON.parse(fs.readFileSync(ENDPOINTS, 'utf8')) as Record<string, [string, string]>;
    const missing = Object.entries(endpoints)
      .filter(([, [method, p]]) => !doc.paths[p]?.[method.toLowerCase()])
      .map(([name, [method, p]]) => `${name}: ${method} ${p}`);
    assert.deepEqual(missing, [], 'console endpoints missing from /api/v1/openapi.json');
  });

  it('a signed-out visitor is sent to sign-in; the server serves the console with a strict CSP', async () => {
    const res = await admin.page.goto(`${url}/devices`);
    assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    await admin.page.waitForURL(/\/sign-in$/);
    await admin.page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    assert.equal(
      await admin.page.getByText('Sign in again').count(),
      0,
      'a first visit is not an expired session',
    );
  });

  it('a wrong password shows the server’s message', async () => {
    const { page } = admin;
    await page.getByLabel('Email').fill(ADMIN);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong email or password' }).waitFor();
  });

  it('signs in with password and TOTP and lands on live dashboard figures', async () => {
    const { page } = admin;
    await signInAdmin(page, url, ADMIN, PASSWORD, nextTotp);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal(await text(page, 'admin-email'), ADMIN);
    assert.equal(await text(page, 'admin-role'), 'Security Administrator');
    await page.getByTestId('stat-devices-active').filter({ hasText: /^\d+$/ }).waitFor();
    assert.equal(await text(page, 'stat-devices-active'), '0');
    assert.equal(await page.getByTestId('activations-chart').getAttribute('data-total'), '0');
    assert.equal(await text(page, 'org-name'), 'Acme Corp');
  });

  it('creates a user, then an activation password shown once with its QR code', async () => {
    const { page } = admin;
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Users & groups' })
      .click();
    await page.getByRole('button', { name: 'Add user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add user' });
    await dialog.getByLabel('Email').fill('not an email');
    await dialog.getByLabel('Full name').fill('Erin Example');
    await dialog.getByRole('button', { name: 'Add user' }).click();
    await dialog.getByText('an email address').waitFor(); // the server's own zod message, checked client-side
    await dialog.getByLabel('Email').fill(EMPLOYEE);
    await dialog.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('heading', { name: 'Erin Example' }).waitFor();
    userId = /\/users\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? '';
    assert.ok(userId, 'the user page has the new user’s id');

    await page.getByRole('button', { name: 'Create activation password' }).click();
    const shown = page.getByRole('dialog', { name: 'Activation password' });
    await shown.waitFor();
    const qr = shown.getByTestId('activation-qr');
    await qr.waitFor();
    const qrSize = await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth);
    assert.ok(Number(qrSize) > 100, 'the QR code image is drawn');
    activationPassword = (await shown.getByTestId('activation-password').textContent())?.trim() ?? '';
    assert.ok(activationPassword.length >= 20, 'the password is shown');
    await shown.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('activations-table').getByText('Live').waitFor();
    assert.equal(await page.getByText(activationPassword).count(), 0, 'the password is gone once closed');
  });

  it('imports users from CSV and reports the rows that failed, one by one', async () => {
    const { page } = admin;
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Users & groups' })
      .click();
    await page.getByRole('button', { name: 'Import CSV' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import users from CSV' });
    await dialog
      .getByLabel('…or paste CSV')
      .fill('email,name,groups\nbob@example.com,Bob Builder,\nnot-an-email,Nobody,\n');
    await dialog.getByRole('button', { name: 'Import' }).click();
    const report = dialog.getByTestId('import-report');
    await report.getByText('1 imported, 1 failed.').waitFor();
    await report
      .getByRole('row')
      .filter({ hasText: 'not-an-email' })
      .getByRole('cell', { name: '3' })
      .waitFor();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('users-table').getByRole('link', { name: 'Bob Builder' }).waitFor();
  });

  it('a device activated with the CLI shows on the dashboard without a reload', async (t) => {
    const { page } = admin;
    const t0 = Date.now();
    await page.goto(`${url}/`);
    await page.getByTestId('stat-devices-active').filter({ hasText: /^\d+$/ }).waitFor();
    t.diagnostic(`dashboard: page load to live figures ${Date.now() - t0} ms (informational)`);
    assert.equal(await text(page, 'stat-devices-active'), '0');
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const act = ok(
      await inst.enclaveAsync([
        'device',
        'activate',
        '--server',
        url,
        '--email',
        EMPLOYEE,
        '--activation-password',
        activationPassword,
        '--dir',
        deviceDir,
        '--ca-fingerprint',
        caFingerprint,
        '--json',
      ]),
    );
    deviceId = act.json.deviceId;
    await page.getByTestId('stat-devices-active').filter({ hasText: /^1$/ }).waitFor({ timeout: 20_000 });
    await page.locator('[data-testid="activations-chart"][data-total="1"]').waitFor();
    assert.equal(
      await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument),
      true,
      'the page was not reloaded',
    );
    await screenshot(page, 'dashboard-1280');
  });

  it('creates a group and puts the user in it', async () => {
    const { page } = admin;
    await page.goto(`${url}/groups`);
    await page.getByRole('button', { name: 'New group' }).click();
    const dialog = page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Name').fill('Sales');
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await page.getByTestId('groups-table').getByText('Sales').waitFor();
    await page.goto(`${url}/users/${userId}`);
    await page.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit Erin Example' });
    await edit.getByLabel('Sales').check();
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('link', { name: 'Sales' }).waitFor();
  });

  it('filters the device list by status, compliance and last contact', async () => {
    const { page } = admin;
    await page.goto(`${url}/devices`);
    const table = page.getByTestId('devices-table');
    await table.getByRole('link', { name: EMPLOYEE }).waitFor();
    await page.getByLabel('Status').selectOption('revoked');
    await table.getByText('No devices match these filters').waitFor();
    await page.getByLabel('Status').selectOption('active');
    await page.getByLabel('Compliance').selectOption('unknown');
    await page.getByLabel('Last contact').selectOption('24h');
    await table.getByRole('link', { name: EMPLOYEE }).waitFor();
    assert.match(page.url(), /status=active/);
    await page.getByLabel('Last contact').selectOption('stale30d');
    await table.getByText('No devices match these filters').waitFor();
  });

  it('sends a lock from the device page and the history shows it reach done', async () => {
    await admin.page.goto(`${url}/`);
    const { page } = admin;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page
      .getByTestId('devices-table')
      .getByRole('link', { name: /device|phone|erin/i })
      .first()
      .click();
    await page.waitForURL(new RegExp(`/devices/${deviceId}$`));
    await page.getByRole('button', { name: 'Lock', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Message on the locked screen').fill('Call the helpdesk on 555-0100');
    await dialog.getByRole('button', { name: 'Lock', exact: true }).click();
    const row = page.locator('[data-testid="command-history"] tr[data-command-type="lock"]').first();
    await row.waitFor();
    assert.match((await row.getAttribute('data-command-state')) ?? '', /^(queued|delivered)$/);
    // The device checks in: verifies the signed command, locks, and reports done.
    const sync = ok(await inst.enclaveAsync(['device', 'sync', '--dir', deviceDir, '--json']));
    assert.ok(
      (sync.json.commands as { type: string; state: string }[]).some(
        (c) => c.type === 'lock' && c.state === 'done',
      ),
    );
    await page
      .locator('[data-testid="command-history"] tr[data-command-type="lock"][data-command-state="done"]')
      .waitFor({ timeout: 15_000 });
    await screenshot(page, 'device-1280');
  });

  it('a destructive command needs the device name typed', async () => {
    const { page } = admin;
    await page.getByRole('button', { name: 'Wipe work data' }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Wipe work data' });
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByLabel(/Type .* to confirm/).fill('wrong name');
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('is keyboard usable: skip link, and dialogs that trap and return focus', async () => {
    const { page } = admin;
    await page.goto(`${url}/devices/${deviceId}`);
    await page.getByRole('button', { name: 'Lock', exact: true }).waitFor();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    assert.equal(
      await skip.evaluate((e) => e === document.activeElement),
      true,
      'the first Tab reaches the skip link',
    );
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
    const lock = page.getByRole('button', { name: 'Lock', exact: true });
    await lock.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(
      await dialog.evaluate((d) => d.contains(document.activeElement)),
      true,
      'focus moves into the dialog',
    );
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(
      await lock.evaluate((e) => e === document.activeElement),
      true,
      'focus returns to the opener',
    );
  });

  it('a Junior Helpdesk administrator sees no wipe button, and the API refuses a crafted wipe (403)', async () => {
    const csrf = await csrfOf(admin.page);
    const created = await admin.page.request.post(`${url}/api/v1/admins`, {
      headers: { 'x-csrf-token': csrf },
      data: { email: JUNIOR, role: 'junior-helpdesk', password: 'junior helpdesk passphrase' },
    });
    assert.equal(created.status(), 201, await created.text());
    const junior = await newPage(browser, { width: 1280 });
    try {
      await signInAdmin(junior.page, url, JUNIOR, 'junior helpdesk passphrase');
      await junior.page.goto(`${url}/devices/${deviceId}`);
      await junior.page.getByRole('button', { name: 'Lock', exact: true }).waitFor();
      assert.equal(await junior.page.getByRole('button', { name: /wipe/i }).count(), 0, 'no wipe button');
      assert.equal(await junior.page.getByRole('button', { name: 'Revoke' }).count(), 0, 'no revoke button');
      assert.equal(await junior.page.getByRole('link', { name: 'Administrators' }).count(), 0);
      const crafted = await junior.page.request.post(`${url}/api/v1/devices/${deviceId}/commands`, {
        headers: { 'x-csrf-token': await csrfOf(junior.page) },
        data: { type: 'wipe' },
      });
      assert.equal(crafted.status(), 403);
      assert.equal(((await crafted.json()) as { error: { code: string } }).error.code, 'forbidden');
    } finally {
      await junior.context.close();
    }
  });

  it('an employee accepts an invitation and locks their own device in the portal', async () => {
    const invite = await admin.page.request.post(`${url}/api/v1/users/${userId}/invitations`, {
      headers: { 'x-csrf-token': await csrfOf(admin.page) },
    });
    assert.equal(invite.status(), 201, await invite.text());
    const { code } = (await invite.json()) as { code: string };
    const portal = await newPage(browser, { width: 390 });
    try {
      const { page } = portal;
      await page.goto(`${url}/portal`);
      await page.getByRole('link', { name: 'I have an invitation code' }).click();
      await page.getByLabel('Email').fill(EMPLOYEE);
      await page.getByLabel('Invitation code').fill(code);
      await page.getByLabel('New password').fill('erin chooses a long password');
      await page.getByRole('button', { name: 'Set password and sign in' }).click();
      const card = page.getByTestId('portal-device');
      await card.first().waitFor();
      assert.equal(
        await page.evaluate(() => localStorage.length),
        0,
        'nothing in localStorage (the token lives in sessionStorage)',
      );
      await card
        .first()
        .getByRole('button', { name: /^Lock / })
        .click();
      await page.getByRole('dialog').getByRole('button', { name: 'Lock device' }).click();
      await page.getByTestId('toast').filter({ hasText: 'Lock sent' }).waitFor();
      await screenshot(page, 'portal-390');
    } finally {
      await portal.context.close();
    }
    // The administrator sees the employee's lock in the device's history.
    const detail = await admin.page.request.get(`${url}/api/v1/devices/${deviceId}`);
    const locks = ((await detail.json()) as { commands: { type: string }[] }).commands.filter(
      (c) => c.type === 'lock',
    );
    assert.equal(locks.length, 2);
  });

  it('session expiry sends the administrator back to sign-in with a message', async () => {
    const { page } = admin;
    // Sign the session out behind the console's back (as expiry would), then act.
    await page.request.post(`${url}/api/v1/auth/logout`, { headers: { 'x-csrf-token': await csrfOf(page) } });
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Users & groups' })
      .click();
    await page.waitForURL(/\/sign-in$/);
    await page.getByText('Sign in again to continue').waitFor();
  });

  it('my pages have no serious or critical axe-core violations, and nothing tripped the CSP', async () => {
    const { page } = admin;
    await signInAdmin(page, url, ADMIN, PASSWORD, nextTotp);
    const pages = [
      '/',
      '/users',
      `/users/${userId}`,
      '/groups',
      '/devices',
      `/devices/${deviceId}`,
      '/account',
    ];
    const found: string[] = [];
    for (const p of pages) {
      await page.goto(`${url}${p}`);
      await page.locator('h1').first().waitFor();
      await page.waitForLoadState('networkidle');
      await screenshot(
        page,
        `page${p.replace(/\/[0-9a-f-]{36}/, '-detail').replace(/\//g, '-')}`.replace(/-$/, '-dashboard'),
      );
      for (const v of await axeViolations(page))
        found.push(`${p}: ${v.id} (${v.impact}) ${v.help} ${v.nodes.join(' ')}`);
    }
    assert.deepEqual(found, []);
  });

  it('works at 390 px: the sidebar becomes a menu, and no page scrolls sideways', async () => {
    const { page } = admin;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/`);
    await page.getByTestId('stat-devices-active').filter({ hasText: /^\d+$/ }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.isVisible(), false, 'the sidebar is folded away');
    await screenshot(page, 'dashboard-390');
    for (const p of ['/', '/users', `/devices/${deviceId}`]) {
      await page.goto(`${url}${p}`);
      await page.locator('h1').first().waitFor();
      const wide = await page.evaluate(() =>
        Array.from(document.querySelectorAll('body *'))
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          .filter((e) => !e.closest('.table-wrap, [style*="overflow"], .sidebar'))
          .slice(0, 5)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
      );
      assert.deepEqual(wide, [], `${p} is wider than 390 px`);
    }
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav.getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    assert.equal(await nav.isVisible(), false, 'the menu closes after navigating');
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.deepEqual(
      admin.errors.filter((e) => !/401|403|Failed to load resource/.test(e)),
      [],
      'no console errors (CSP violations show up here)',
    );
  });
});
