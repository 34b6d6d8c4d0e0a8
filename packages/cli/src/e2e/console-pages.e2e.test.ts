import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type APIRequestContext, type Browser, type Page, request } from 'playwright-core';
import {
  type AxeViolation,
  axeViolations,
  browserSkipReason,
  launchBrowser,
  newPage,
  screenshot,
  signInAdmin,
} from './browser.js';
import { Installation, ok } from './processes.js';

// The console's policy, approval, webhook, administrator, audit and settings pages in Debian's
// chromium, on a real server process: axe-core on every console and portal page at 1280 and 390 px,
// a policy edited with the keyboard only, the server's validation messages next to their fields,
// the audit page listing this test's actions and verifying the chain, and the policy editor's
// screenshot under test-artifacts/console/.
const skip = browserSkipReason();
// Created in before(): a skipped suite leaves no temp folder behind.
let inst: Installation;
const ADMIN = 'sec@example.com';
const PASSWORD = 'a long and careful admin passphrase';
const EMPLOYEE_PASSWORD = 'alice has a long portal passphrase';

/** Waits until the page shows real data: its <h1>, and no loading skeleton or busy region left. */
async function settled(page: Page): Promise<void> {
  await page.locator('h1').first().waitFor();
  await page.waitForFunction(() => !document.querySelector('.skeleton, [aria-busy="true"]'), undefined, {
    timeout: 10_000,
  });
}

function describeViolations(found: { where: string; v: AxeViolation }[]): string {
  return found
    .map(({ where, v }) => `${where}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.join(' ')}`)
    .join('\n');
}

describe(
  'console pages in chromium: accessibility, keyboard, validation, audit',
  { skip: skip ?? false },
  () => {
    let browser: Browser;
    let api: APIRequestContext;
    let caFingerprint = '';
    const ids = { alice: '', device: '', policy: '', approval: '', sales: '' };

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test asserts the fields it needs (as processes.ts Run.json)
    async function json(method: 'GET' | 'POST' | 'PATCH', p: string, data?: unknown): Promise<any> {
      const res = await api.fetch(p, { method, ...(data === undefined ? {} : { data }) });
      const body = await res.json();
      assert.ok(res.ok(), `${method} ${p}: ${res.status()} ${JSON.stringify(body)}`);
      return body;
    }

    before(async () => {
      inst = new Installation();
      await inst.create();
      const init = inst.init(ADMIN, 'Acme Corp');
      caFingerprint = init.json.caFingerprint;
      const { url } = await inst.startServer();
      browser = await launchBrowser();
      // Seed through the API as the Security Administrator (bearer token: no CSRF needed).
      const anon = await request.newContext({ baseURL: url, ignoreHTTPSErrors: true });
      const login = await anon.post('/api/v1/auth/login', { data: { email: ADMIN, password: PASSWORD } });
      assert.equal(login.status(), 200);
      const { token } = (await login.json()) as { token: string };
      await anon.dispose();
      api = await request.newContext({
        baseURL: url,
        ignoreHTTPSErrors: true,
        extraHTTPHeaders: { authorization: `Bearer ${token}` },
      });
      const sales = await json('POST', '/api/v1/groups', { name: 'Sales', description: 'Field sales' });
      ids.sales = sales.id;
      ids.alice = (
        await json('POST', '/api/v1/users', {
          email: 'alice@example.com',
          name: 'Alice Example',
          groups: ['Sales'],
        })
      ).id;
      const activation = await json('POST', '/api/v1/activations', { email: 'alice@example.com' });
      const device = ok(
        inst.enclave([
          'device',
          'activate',
          '--server',
          url,
          '--email',
          'alice@example.com',
          '--activation-password',
          activation.password,
          '--dir',
          path.join(inst.work, 'alice-phone'),
          '--ca-fingerprint',
          caFingerprint,
          '--json',
        ]),
      );
      ids.device = device.json.deviceId;
      const policy = await json('POST', '/api/v1/policies', {
        name: 'Sales devices',
        description: 'Phones of the field sales team',
      });
      ids.policy = policy.id;
      await json('POST', `/api/v1/policies/${ids.policy}/assignments`, { groupId: sales.id, rank: 10 });
      // A full wipe always waits for a second administrator: the approvals queue has one request.
      ids.approval = (
        await json('POST', '/api/v1/commands', { type: 'wipe', deviceIds: [ids.device], reason: 'lost' })
      ).id;
      const invitation = await json('POST', `/api/v1/users/${ids.alice}/invitations`);
      await json('POST', '/api/v1/self/accept-invitation', {
        email: 'alice@example.com',
        code: invitation.code,
        password: EMPLOYEE_PASSWORD,
      });
    });

    after(async () => {
      await api?.dispose();
      await browser?.close();
      await inst.destroy();
    });

    it('every console page has no serious or critical axe violation at 1280 and 390 px', async () => {
      const { context, page, errors } = await newPage(browser);
      const found: { where: string; v: AxeViolation }[] = [];
      const check = async (where: string) => {
        await settled(page);
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
          for (const v of await axeViolations(page)) found.push({ where: `${where} @${width}`, v });
        }
        await page.setViewportSize({ width: 1280, height: 900 });
      };
      await page.goto(`${inst.url}/sign-in`);
      await check('/sign-in');
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      const pages = [
        '/',
        '/users',
        `/users/${ids.alice}`,
        '/devices',
        `/devices/${ids.device}`,
        '/policies',
        `/policies/${ids.policy}`,
        '/policies/new',
        '/approvals',
        '/webhooks',
        '/admins',
        '/audit',
        '/settings',
        '/account',
      ];
      for (const p of pages) {
        await page.goto(inst.url + p);
        await check(p);
      }
      assert.equal(found.length, 0, `axe violations:\n${describeViolations(found)}`);
      assert.deepEqual(cspViolations(errors), [], 'nothing the server’s CSP refuses');
      await context.close();
    });

    it('the policy editor shows the server’s validation message next to the wrong setting', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/policies/${ids.policy}`);
      await settled(page);
      await page.getByLabel('Minimum Enclave client version').fill('not-a-version');
      await page.getByLabel('Minimum passcode length').fill('2');
      await page.getByRole('button', { name: 'Save policy' }).click();
      await page.getByText('Some settings are not valid').waitFor();
      // Each message sits in its field (aria-describedby), so it is read with the field.
      const version = page.getByLabel('Minimum Enclave client version');
      assert.equal(await version.getAttribute('aria-invalid'), 'true');
      assert.match(await describedBy(page, 'Minimum Enclave client version'), /a version such as 1\.2\.3/);
      assert.match(await describedBy(page, 'Minimum passcode length'), />=\s*4|at least 4|too small/i);
      const shown = await axeViolations(page);
      assert.equal(
        shown.length,
        0,
        describeViolations(shown.map((v) => ({ where: 'editor with errors', v }))),
      );
      const stored = await json('GET', `/api/v1/policies/${ids.policy}`);
      assert.equal(stored.version, 1, 'nothing was saved');
      await context.close();
    });

    it('a policy is opened, changed and saved with the keyboard only', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/policies`);
      await settled(page);
      await tabTo(page, (el) => el.tagName === 'A' && el.textContent === 'Sales devices');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Sales devices' }).waitFor();
      await settled(page);
      await tabTo(page, (el) => el.getAttribute('name') === 'minPasscodeLength');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('8');
      await tabTo(page, (el) => el.getAttribute('name') === 'screenshotsAllowed');
      await page.keyboard.press('Space'); // untick "Screenshots of the work space"
      await tabTo(page, (el) => el.tagName === 'BUTTON' && el.textContent === 'Save policy');
      await page.keyboard.press('Enter');
      await page.getByTestId('toast').filter({ hasText: 'Saved Sales devices (version 2)' }).waitFor();
      const stored = await json('GET', `/api/v1/policies/${ids.policy}`);
      assert.equal(stored.version, 2);
      assert.equal(stored.document.minPasscodeLength, 8);
      assert.equal(stored.document.screenshotsAllowed, false);
      // The preview names who the change reaches: Alice, through the Sales group.
      const affected = page.getByTestId('policy-affected');
      await affected.getByText('Alice Example').waitFor();
      await affected.getByText('through group Sales (rank 10)').waitFor();
      const file = await shot(page, 'policy-editor');
      assert.ok(fs.statSync(file).size > 10_000);
      await context.close();
    });

    it('assigning a policy to a group previews whose policy changes, then the policy applies to them', async () => {
      const strict = await json('POST', '/api/v1/policies', {
        name: 'Strict',
        document: { minPasscodeLength: 10 },
      });
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/policies/${strict.id}`);
      await settled(page);
      const form = page.getByRole('form', { name: 'Assign to a group' });
      await form.getByLabel('Group').selectOption({ label: 'Sales (1)' });
      await form.getByLabel('Rank').fill('5');
      const preview = page.getByTestId('assignment-preview');
      await preview.getByText('This replaces the group’s current policy, Sales devices.').waitFor();
      await preview
        .getByText('1 member would switch to this policy: Alice Example (now Sales devices).')
        .waitFor();
      await shot(page, 'policy-assignment-preview');
      await form.getByRole('button', { name: 'Assign to group' }).click();
      const affected = page.getByTestId('policy-affected');
      await affected.getByText('through group Sales (rank 5)').waitFor();
      const effective = await json('GET', `/api/v1/policies/effective?userId=${ids.alice}`);
      assert.equal(effective.policy.name, 'Strict');
      // Put Sales back on its policy for the tests that follow.
      await json('POST', `/api/v1/policies/${ids.policy}/assignments`, { groupId: ids.sales, rank: 10 });
      await context.close();
    });

    it('a webhook’s secret is shown once; a plain-http URL to another host is refused', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/webhooks`);
      await settled(page);
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      const dialog = page.getByRole('dialog');
      const inForm = await axeViolations(page);
      assert.equal(inForm.length, 0, describeViolations(inForm.map((v) => ({ where: 'webhook form', v }))));
      await dialog.getByLabel('Endpoint URL').fill('http://hooks.example.com/enclave');
      await dialog.getByLabel('A device is activated').check();
      await dialog.getByRole('button', { name: 'Add endpoint' }).click();
      await dialog.getByText('an https:// URL').first().waitFor();
      await dialog.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/enclave');
      await dialog.getByRole('button', { name: 'Add endpoint' }).click();
      const secret = page.getByTestId('webhook-secret');
      await secret.waitFor();
      assert.ok(((await secret.locator('code').textContent()) ?? '').length >= 20);
      await page.getByRole('button', { name: 'I have stored it' }).click();
      await page.reload();
      await settled(page);
      assert.equal(await page.getByTestId('webhook-secret').count(), 0, 'the secret is not shown again');
      await page.getByTestId('webhooks-table').getByText('http://127.0.0.1:9/enclave').waitFor();
      // A test event to a port nobody listens on: the delivery log shows it and its failed attempt.
      await page.getByRole('button', { name: 'Send test to http://127.0.0.1:9/enclave' }).click();
      const log = page.getByRole('dialog', { name: 'Deliveries to http://127.0.0.1:9/enclave' });
      await log.getByText('webhook.test').waitFor();
      await log.getByText(/1 attempt/).waitFor({ timeout: 20_000 });
      const inDialog = await axeViolations(page);
      assert.equal(inDialog.length, 0, describeViolations(inDialog.map((v) => ({ where: 'deliveries', v }))));
      await log.getByRole('button', { name: 'Close' }).click();
      await context.close();
    });

    it('the approvals queue shows the wipe waiting for a second administrator, and its requester may cancel', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/approvals`);
      await settled(page);
      const open = page.getByTestId('approvals-open-table');
      await open.getByText('Waiting for a second administrator.').waitFor();
      await open.getByText(/expires in \d+ h/).waitFor();
      assert.equal(
        await open.getByRole('button', { name: /^Approve/ }).count(),
        0,
        'no approving one’s own request',
      );
      await open.getByRole('button', { name: /^Cancel the wipe request/ }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel request' }).click();
      await page.getByTestId('approvals-decided-table').getByText('Cancelled').waitFor();
      assert.equal((await json('GET', `/api/v1/approvals/${ids.approval}`)).state, 'cancelled');
      await context.close();
    });

    it('a second administrator approves a wipe; during the delay it can still be cancelled', async () => {
      await json('POST', '/api/v1/admins', {
        email: 'ops@example.com',
        role: 'enterprise-admin',
        password: PASSWORD,
      });
      const request = await json('POST', '/api/v1/commands', { type: 'wipe', deviceIds: [ids.device] });
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, 'ops@example.com', PASSWORD);
      await page.goto(`${inst.url}/approvals`);
      await settled(page);
      const open = page.getByTestId('approvals-open-table');
      await open.getByRole('button', { name: `Approve the wipe request by ${ADMIN}` }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel(/^Reason/).fill('confirmed with Alice by phone');
      await dialog.getByRole('button', { name: 'Approve' }).click();
      await open.getByText(/runs in \d+ min \d+ s/).waitFor();
      const approved = await json('GET', `/api/v1/approvals/${request.id}`);
      assert.equal(approved.state, 'approved');
      assert.equal(approved.decidedBy.email, 'ops@example.com');
      assert.equal(approved.decisionReason, 'confirmed with Alice by phone');
      await open.getByRole('button', { name: `Cancel the wipe request by ${ADMIN}` }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel request' }).click();
      await page.getByTestId('approvals-decided-table').getByText('confirmed with Alice by phone').waitFor();
      assert.equal((await json('GET', `/api/v1/approvals/${request.id}`)).state, 'cancelled');
      await context.close();
    });

    it('an Auditor reads policies, webhooks, administrators and settings but is offered no change, and the server refuses a crafted one', async () => {
      await json('POST', '/api/v1/admins', {
        email: 'audit@example.com',
        role: 'auditor',
        password: PASSWORD,
      });
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, 'audit@example.com', PASSWORD);
      const none = async (name: string | RegExp) =>
        assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${String(name)} button`);
      await page.goto(`${inst.url}/policies`);
      await settled(page);
      await page.getByRole('link', { name: 'Sales devices' }).waitFor();
      await none('New policy');
      await none(/^Delete/);
      await page.goto(`${inst.url}/policies/${ids.policy}`);
      await settled(page);
      await none('Save policy');
      await none(/^Remove/);
      assert.equal(await page.getByLabel('Minimum passcode length').isDisabled(), true);
      await page.goto(`${inst.url}/webhooks`);
      await settled(page);
      await page
        .getByRole('button', { name: /^Deliveries/ })
        .first()
        .waitFor();
      for (const name of ['Add endpoint', /^Edit/, /^Send test/, /^Rotate secret/, /^Delete/])
        await none(name);
      await page.goto(`${inst.url}/admins`);
      await settled(page);
      await page.getByTestId('role-matrix').waitFor();
      for (const name of ['Add administrator', /^Change role/, /^Remove/]) await none(name);
      await page.goto(`${inst.url}/settings`);
      await settled(page);
      await none('Save settings');
      assert.equal(await page.getByLabel('Organisation name').isDisabled(), true);
      // The same change, crafted in the page with the auditor's own session and CSRF token.
      const status = await page.evaluate(async (id) => {
        const res = await fetch(`/api/v1/policies/${id}`, {
          method: 'PATCH',
          headers: {
            'content-type': 'application/json',
            'x-csrf-token': sessionStorage.getItem('enclave.csrf') ?? '',
          },
          body: JSON.stringify({ document: { minPasscodeLength: 4 } }),
        });
        return res.status;
      }, ids.policy);
      assert.equal(status, 403);
      await context.close();
    });

    it('the last Security Administrator cannot be demoted: the server’s reason is shown', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/admins`);
      await settled(page);
      await page.getByRole('button', { name: `Change role of ${ADMIN}` }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('New role').selectOption('enterprise-admin');
      await dialog.getByRole('button', { name: 'Change role' }).click();
      await dialog.getByText('at least one Security Administrator must remain').waitFor();
      await dialog.getByText('last_security_admin').waitFor();
      assert.equal((await json('GET', '/api/v1/auth/me')).role, 'security-admin');
      await context.close();
    });

    it('settings rename the organisation and show the CA fingerprint devices pin', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/settings`);
      await settled(page);
      assert.equal(await page.getByTestId('cert-ca').locator('code').textContent(), caFingerprint);
      await page.getByLabel('Organisation name').fill('Acme Europe');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.getByTestId('org-name').filter({ hasText: 'Acme Europe' }).waitFor();
      assert.equal((await json('GET', '/api/v1/settings')).organization, 'Acme Europe');
      await context.close();
    });

    it('the audit page lists this test’s actions, filters them, verifies the chain and exports CSV', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      await page.goto(`${inst.url}/audit`);
      await settled(page);
      const table = page.getByTestId('audit-table');
      for (const action of [
        'policy.updated',
        'webhook.created',
        'approval.requested',
        'approval.approved',
        'approval.cancelled',
        'admin.created',
      ])
        await table.getByText(action, { exact: true }).first().waitFor();
      await page.getByRole('button', { name: 'Verify chain' }).click();
      await page.getByTestId('audit-verify-result').getByText('Chain intact.').waitFor();
      await page.getByLabel('Action').fill('policy.updated');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/action=policy\.updated/);
      await settled(page);
      const actions = await table.locator('tbody code').allTextContents();
      assert.ok(actions.length >= 1 && actions.every((a) => a === 'policy.updated'), actions.join(','));
      const href = await page.getByRole('link', { name: /Export CSV/ }).getAttribute('href');
      const csv = await context.request.get(inst.url + (href ?? ''));
      assert.equal(csv.status(), 200);
      const text = await csv.text();
      assert.match(text, /policy\.updated/);
      assert.doesNotMatch(text, /webhook\.created/, 'the export keeps the filter');
      await context.close();
    });

    it('screenshots of the policy, approval, webhook, administrator, audit and settings pages at 1280 and 390 px', async () => {
      const { context, page } = await newPage(browser);
      await signInAdmin(page, inst.url, ADMIN, PASSWORD);
      const pages: [string, string][] = [
        ['policies', '/policies'],
        ['approvals', '/approvals'],
        ['webhooks', '/webhooks'],
        ['admins', '/admins'],
        ['audit', '/audit'],
        ['settings', '/settings'],
        ['policy-new', '/policies/new'],
      ];
      for (const [name, p] of pages) {
        await page.goto(inst.url + p);
        await settled(page);
        await shot(page, `${name}-1280`);
      }
      await page.setViewportSize({ width: 390, height: 844 });
      for (const [name, p] of [
        ['policy-editor', `/policies/${ids.policy}`],
        ['audit', '/audit'],
        ['approvals', '/approvals'],
        ['admins', '/admins'],
      ]) {
        await page.goto(inst.url + p);
        await settled(page);
        await shot(page, `${name}-390`);
      }
      await context.close();
    });

    it('the portal’s sign-in and device pages have no serious or critical axe violation at 1280 and 390 px', async () => {
      const { context, page, errors } = await newPage(browser);
      const found: { where: string; v: AxeViolation }[] = [];
      const check = async (where: string) => {
        await settled(page);
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
          for (const v of await axeViolations(page)) found.push({ where: `${where} @${width}`, v });
        }
        await page.setViewportSize({ width: 1280, height: 900 });
      };
      await page.goto(`${inst.url}/portal/sign-in`);
      await check('/portal/sign-in');
      await page.getByLabel('Email').fill('alice@example.com');
      await page.getByLabel('Password').fill(EMPLOYEE_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page
        .getByRole('button', { name: /^Lock / })
        .first()
        .waitFor();
      await check('/portal');
      assert.equal(found.length, 0, `axe violations:\n${describeViolations(found)}`);
      assert.deepEqual(cspViolations(errors), [], 'nothing the server’s CSP refuses');
      await context.close();
    });
  },
);

/** The console errors that are CSP violations (a 401 before sign-in is logged too, and expected). */
function cspViolations(errors: string[]): string[] {
  return errors.filter((e) => /Content Security Policy|Refused to/i.test(e));
}

/** The accessible description of the field labelled `label` (its hint and validation message). */
async function describedBy(page: Page, label: string): Promise<string> {
  const ids = (await page.getByLabel(label).getAttribute('aria-describedby')) ?? '';
  const parts = await Promise.all(
    ids
      .split(' ')
      .filter(Boolean)
      .map((id) => page.locator(`[id="${id}"]`).textContent()),
  );
  return parts.join(' ');
}

/** Presses Tab until `match(document.activeElement)`; fails after 80 presses. */
async function tabTo(page: Page, match: (el: Element) => boolean): Promise<void> {
  const source = `(${match.toString()})(document.activeElement)`;
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(source)) return;
  }
  assert.fail(`Tab never reached the element: ${match.toString()}`);
}

/** A full-page screenshot from the top, without notifications over the content. */
async function shot(page: Page, name: string): Promise<string> {
  await page.evaluate(() => {
    document.querySelectorAll('.toasts > *').forEach((t) => t.remove());
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
  // A viewport as tall as the page: sticky bars (the policy editor's save bar) sit where they belong.
  const viewport = page.viewportSize() ?? { width: 1280, height: 900 };
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: viewport.width, height: Math.max(height, viewport.height) });
  try {
    return await screenshot(page, name);
  } finally {
    await page.setViewportSize(viewport);
  }
}
