// Scenario `console`: what the administrator's morning page costs. Seeds a fleet straight into a
// fresh SQLite installation (users, devices across platforms and OS versions, compliance states with
// reasons, postures, commands in every state, live activation passwords, audit entries), then times
// GET /api/v1/dashboard over HTTPS — server-side aggregation included — and measures the console's
// production bundle (raw and gzip bytes of its JS and CSS) when it has been built.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Agent, request } from 'undici';
import { buildServices, openEnclave } from '@enclave/server';
import { adminFor } from './admin.mjs';
import { percentile, printTable, ROOT, size, startServer, writeResult } from './lib.mjs';

const BATCH = 500;
const DAY = 86_400_000;
const PLATFORMS = [
  ['ios', ['17.5', '17.6', '18.0', '18.1']],
  ['android', ['13', '14', '15']],
  ['windows', ['10.0.19045', '10.0.22631']],
  ['macos', ['14.6', '15.1']],
  ['linux', ['6.1', '6.8']],
];
const RULES = ['os_version_below_minimum', 'passcode_not_set', 'device_rooted', 'out_of_contact'];
const COMMAND_STATES = ['queued', 'delivered', 'acknowledged', 'done', 'done', 'done', 'failed', 'expired'];

function reason(code, at, enforced) {
  return {
    code,
    message: `${code} (bench)`,
    since: at,
    action: 'block_messaging',
    enforceAt: at,
    enforcedAt: enforced ? at : null,
  };
}

/** Seeds `devices` devices for devices/2 users, with their postures, compliance, commands and audit. */
export async function seedFleet(dataDir, kek, devices) {
  const e = await openEnclave({ dataDir, env: { ENCLAVE_KEK: kek } });
  try {
    const db = e.handle.db;
    const now = Date.now();
    const iso = (ms) => new Date(ms).toISOString();
    const cert = e.pki.issuing.certificate.toString('pem'); // shown, never verified here
    const users = Math.ceil(devices / 2);
    for (let i = 0; i < users; i += BATCH) {
      const rows = [];
      for (let j = i; j < Math.min(users, i + BATCH); j++)
        rows.push({
          id: `u-${j}`,
          email: `fleet-${j}@example.com`,
          name: `Fleet ${j}`,
          created_at: iso(now),
          updated_at: iso(now),
        });
      await db.insertInto('users').values(rows).execute();
    }
    for (let i = 0; i < devices; i += BATCH) {
      const rows = [];
      const postures = [];
      const commands = [];
      for (let j = i; j < Math.min(devices, i + BATCH); j++) {
        const [platform, versions] = PLATFORMS[j % PLATFORMS.length];
        const activated = now - (j % 60) * DAY * 0.5 - 1000;
        const revoked = j % 20 === 0;
        const bucket = j % 10; // 6 compliant, 2 warning, 1 non-compliant, 1 unknown
        const compliance =
          bucket < 6 ? 'compliant' : bucket < 8 ? 'warning' : bucket === 8 ? 'non-compliant' : 'unknown';
        const reasons =
          compliance === 'warning'
            ? [reason(RULES[j % RULES.length], iso(now), false)]
            : compliance === 'non-compliant'
              ? [reason(RULES[j % RULES.length], iso(now), true), reason('passcode_not_set', iso(now), true)]
              : [];
        const id = `d-${j}`;
        rows.push({
          id,
          user_id: `u-${j % users}`,
          name: `bench ${j}`,
          platform,
          client_version: '1.0.0',
          status: revoked ? 'revoked' : 'active',
          certificate: cert,
          certificate_serial: randomBytes(16).toString('hex'),
          certificate_not_after: iso(now + ((j % 400) + 1) * DAY),
          activated_at: iso(activated),
          last_contact_at: iso(now - (j % 45) * DAY),
          revoked_at: revoked ? iso(now) : null,
          compliance,
          compliance_reasons: JSON.stringify(reasons),
          compliance_evaluated_at: compliance === 'unknown' ? null : iso(now),
        });
        if (compliance !== 'unknown')
          postures.push({
            device_id: id,
            platform,
            os_version: versions[j % versions.length],
            client_version: '1.0.0',
            passcode_set: 1,
            storage_encrypted: 1,
            rooted: 0,
            reported_at: iso(now),
          });
        if (j % 2 === 0) {
          const state = COMMAND_STATES[j % COMMAND_STATES.length];
          commands.push({
            id: randomUUID(),
            device_id: id,
            type: 'lock',
            state,
            requested_by: null,
            created_at: iso(now - (j % 72) * 3600_000),
            updated_at: iso(now - (j % 72) * 3600_000),
            params: null,
            nonce: null,
            envelope: null,
            signature: null,
            expires_at: null,
            delivered_at: null,
            acknowledged_at: null,
            completed_at: null,
            failure_reason: state === 'failed' ? 'bench' : null,
          });
        }
      }
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('devices').values(rows).execute();
        if (postures.length) await trx.insertInto('device_postures').values(postures).execute();
        if (commands.length) await trx.insertInto('device_commands').values(commands).execute();
      });
    }
    // Live activation passwords (the record is never opened here).
    const activations = [];
    for (let j = 0; j < Math.min(500, users); j++)
      activations.push({
        id: randomUUID(),
        user_id: `u-${j}`,
        registration_record: 'bench',
        failed_attempts: 0,
        expires_at: iso(now + ((j % 72) + 1) * 3600_000),
        created_at: iso(now),
        created_by: null,
        used_at: null,
        device_id: null,
      });
    await db.insertInto('activations').values(activations).execute();
    // A real, verifiable audit chain, written through the audit service.
    const services = buildServices(e, { publicUrl: 'https://127.0.0.1' });
    const entries = size(2000, 200);
    for (let j = 0; j < entries; j++)
      await services.audit.record({
        actor: { type: 'system', id: null, label: 'bench' },
        action: j % 3 ? 'device.command_sent' : 'user.created',
        target: `d-${j}`,
      });
    return { users, activations: activations.length, audit: entries };
  } finally {
    await e.close();
  }
}

/**
 * What the administrator waits for: a fresh tab in Debian's chromium opens the dashboard, signed in
 * by the session cookie, until the first figure shows a number (HTML, JS, the API call and
 * rendering included). Null without chromium or a console build.
 */
async function timeToFigures(url, sessionToken, runs) {
  const CHROMIUM = '/usr/bin/chromium';
  if (!fs.existsSync(CHROMIUM) || !bundleSize()) return null;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
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
  const out = [];
  try {
    for (let i = 0; i < runs; i++) {
      // A new context each time: nothing cached, as on the first visit of the morning.
      const context = await browser.newContext({
        ignoreHTTPSErrors: true,
        viewport: { width: 1280, height: 900 },
      });
      const { hostname } = new URL(url);
      await context.addCookies([
        {
          name: 'enclave_session',
          value: sessionToken,
          domain: hostname,
          path: '/',
          secure: true,
          httpOnly: true,
          sameSite: 'Strict',
        },
      ]);
      const page = await context.newPage();
      const t = performance.now();
      await page.goto(`${url}/`);
      await page.waitForFunction(
        () =>
          /\d/.test(
            globalThis.document.querySelector('[data-testid="stat-devices-active"]')?.textContent ?? '',
          ),
        undefined,
        { timeout: 30_000 },
      );
      out.push(performance.now() - t);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const sorted = [...out].sort((a, b) => a - b);
  return { runs: out, median: sorted[Math.floor(sorted.length / 2)] };
}

/** Raw and gzip bytes of the built console's JS and CSS, or null when it is not built. */
export function bundleSize(dir = path.join(ROOT, 'packages/console/dist/web/assets')) {
  if (!fs.existsSync(dir)) return null;
  const out = { js: { files: 0, raw: 0, gzip: 0 }, css: { files: 0, raw: 0, gzip: 0 } };
  for (const name of fs.readdirSync(dir)) {
    const kind = name.endsWith('.js') ? 'js' : name.endsWith('.css') ? 'css' : null;
    if (!kind) continue;
    const bytes = fs.readFileSync(path.join(dir, name));
    out[kind].files++;
    out[kind].raw += bytes.length;
    out[kind].gzip += zlib.gzipSync(bytes, { level: 9 }).length;
  }
  // What the first screen downloads: the files index.html names (other pages load on first visit).
  out.firstLoad = { raw: 0, gzip: 0 };
  const html = fs.readFileSync(path.join(dir, '..', 'index.html'), 'utf8');
  for (const [, name] of html.matchAll(/(?:src|href)="\/assets\/([^"]+\.(?:js|css))"/g)) {
    const bytes = fs.readFileSync(path.join(dir, name));
    out.firstLoad.raw += bytes.length;
    out.firstLoad.gzip += zlib.gzipSync(bytes, { level: 9 }).length;
  }
  return out;
}

export async function consoleScenario({
  devices = Number(process.env.BENCH_DEVICES ?? size(10_000, 1000)),
  calls = size(20, 10),
} = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-console-bench-'));
  const kek = randomBytes(32).toString('base64url');
  const s0 = performance.now();
  const seeded = await seedFleet(dataDir, kek, devices);
  const seedSeconds = (performance.now() - s0) / 1000;
  const server = await startServer({ dataDir, kek });
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  let times;
  let sample;
  let browser = null;
  try {
    const { admin } = await adminFor(server);
    const get = async () => {
      const t = performance.now();
      const r = await request(`${server.url}/api/v1/dashboard`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${admin.sessionToken}` },
      });
      const body = await r.body.json();
      if (r.statusCode !== 200)
        throw new Error(`dashboard answered ${r.statusCode}: ${JSON.stringify(body)}`);
      return { ms: performance.now() - t, body };
    };
    await get(); // warm-up: first query plans, JIT
    times = [];
    for (let i = 0; i < calls; i++) {
      const r = await get();
      times.push(r.ms);
      sample = r.body;
    }
    browser = await timeToFigures(server.url, admin.sessionToken, size(5, 3));
  } finally {
    await agent.close();
    await server.stop();
  }
  if (sample.devices.total !== devices)
    throw new Error(`dashboard counted ${sample.devices.total} devices, seeded ${devices}`);
  times.sort((a, b) => a - b);
  const p50 = percentile(times, 50);
  const p95 = percentile(times, 95);
  const bundle = bundleSize();
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  printTable(
    `console: dashboard with ${devices} devices, ${seeded.users} users (SQLite, HTTPS, ${calls} calls)`,
    [
      ['seeding', `${seedSeconds.toFixed(1)} s`],
      ['GET /api/v1/dashboard p50', `${p50.toFixed(1)} ms`],
      ['GET /api/v1/dashboard p95', `${p95.toFixed(1)} ms`],
      [
        'browser: page load → live figures (median)',
        browser
          ? `${browser.median.toFixed(0)} ms over ${browser.runs.length} loads`
          : 'no chromium or no build',
      ],
      [
        'goal: live figures under 1 s',
        `API p95 ${p95 < 1000 ? 'met' : 'NOT met'}; browser ${browser ? (browser.median < 1000 ? 'met' : 'NOT met') : 'not measured'}`,
      ],
      [
        'bundle JS (raw / gzip)',
        bundle ? `${kib(bundle.js.raw)} / ${kib(bundle.js.gzip)} in ${bundle.js.files} file(s)` : 'not built',
      ],
      [
        'first screen JS+CSS (raw / gzip)',
        bundle ? `${kib(bundle.firstLoad.raw)} / ${kib(bundle.firstLoad.gzip)}` : 'not built',
      ],
      [
        'bundle CSS (raw / gzip)',
        bundle
          ? `${kib(bundle.css.raw)} / ${kib(bundle.css.gzip)} in ${bundle.css.files} file(s)`
          : 'not built',
      ],
    ],
  );
  const file = writeResult('console', {
    scenario: 'console',
    devices,
    users: seeded.users,
    auditEntries: seeded.audit,
    calls,
    dashboardMs: { p50, p95, min: times[0], max: times.at(-1) },
    goalMet: p95 < 1000 && (!browser || browser.median < 1000),
    bundle,
    browserMs: browser,
    sample: {
      devices: sample.devices,
      compliance: { ...sample.compliance, topReasons: sample.compliance.topReasons },
    },
  });
  console.log(`  → ${path.relative(ROOT, file)}`);
}
