import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

// Shared by the browser suites (console.e2e.test.ts and the other console pages' tests): Debian's
// chromium through playwright-core, the axe-core sweep, and screenshots under test-artifacts/console/.

export const CHROMIUM = process.env.ENCLAVE_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'console');
export const CONSOLE_BUILT = fs.existsSync(path.join(ROOT, 'packages/console/dist/web/index.html'));

/** Why the browser suite cannot run here, or null when it can. The suites skip with this reason. */
export function browserSkipReason(): string | null {
  if ((process.env.ENCLAVE_TEST_DB ?? 'sqlite') !== 'sqlite')
    return 'browser tests run once, on SQLite (the console does not depend on the database)';
  return null;
}

/**
 * Launches Debian's chromium. A missing browser or console build fails the suite (it does not skip):
 * `.ci/run` installs chromium and `npm ci` builds the console, so either missing is a real defect.
 */
export function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no chromium at ${CHROMIUM}: install it with apt-get install -y chromium`);
  if (!CONSOLE_BUILT) throw new Error('the console is not built: run npm run build -w @enclave/console');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A fresh browser profile (own cookies and sessionStorage) at a given width. `ignoreHTTPSErrors`:
 * the server's TLS chain is Ed25519-signed, which Chromium cannot verify — a test-only shortcut; the
 * CLI and SDK pin the CA fingerprint instead.
 */
export async function newPage(
  browser: Browser,
  opts: { width?: number; height?: number } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const width = opts.width ?? 1280;
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width, height: opts.height ?? (width < 600 ? 844 : 900) },
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  // Console errors include CSP violations: a page that trips the server's CSP fails its test.
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return { context, page, errors };
}

/** Signs in through the console's sign-in form; `totp` is asked for when the account has TOTP. */
export async function signInAdmin(
  page: Page,
  url: string,
  email: string,
  password: string,
  totp?: () => string | Promise<string>,
): Promise<void> {
  await page.goto(`${url}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Continue' }).click();
  if (totp) {
    await page.getByLabel('Authentication code').fill(await totp());
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core on the current page and returns the serious and critical violations (the bar).
 * axe is evaluated through the DevTools protocol, so the page's strict CSP needs no relaxing.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(`${axeSource}\n;void 0`);
  const result = await page.evaluate(async () => {
    const w = window as unknown as {
      axe: {
        run(
          ctx: Document,
          opts: unknown,
        ): Promise<{
          violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
        }>;
      };
    };
    const r = await w.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)),
    }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves a full-page PNG as test-artifacts/console/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
