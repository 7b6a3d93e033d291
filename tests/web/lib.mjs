// Shared helpers of the browser tests (Debian's Chromium driven by playwright-core against
// one real running server). tests/web/run.sh runs every `*.e2e.mjs` file beside this one,
// one after another against the same server, passing STARLING_URL, SCREENSHOT_DIR,
// E2E_MODULES (node_modules) and CHROMIUM. Each file picks its own usernames, so the
// files need no order between them.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import path from 'node:path';

const require = createRequire(path.join(process.env.E2E_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');
const { AxeBuilder } = require('@axe-core/playwright');

export const BASE = process.env.STARLING_URL;
export const SHOTS = process.env.SCREENSHOT_DIR;
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 360, height: 740 };
export const PASSWORD = 'correct horse battery';

let passed = 0;
let failed = 0;

/** Runs one named step; a failure is reported and counted, and the next steps still run. */
export async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}\n${e.stack || e}`);
  }
}

/** Starts the browser, runs `body(browser, problems)`, closes the browser and exits with
 *  the tally ("web e2e (<file>): N passed, M failed"). */
export async function run(file, body) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  try {
    await body(browser, problems);
    await step('no script errors, CSP violations or dialogs on any page', async () => {
      assert.deepEqual(problems, []);
    });
  } finally {
    await browser.close();
  }
  console.log(`web e2e (${file}): ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

/** A page that fails the test on script errors, CSP violations and dialogs. */
export async function watchedPage(ctx, problems) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => { problems.push(`dialog opened: ${d.message()}`); await d.dismiss(); });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  return page;
}

export async function signUp(page, name) {
  await page.goto(`${BASE}/sign-up`);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('E-mail').fill(`${name}@example.com`);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('I accept the rules of this network.').check();
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${BASE}/home`);
}

export async function post(page, text) {
  await page.getByLabel('What’s new?').fill(text);
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await page.waitForLoadState('domcontentloaded');
}

export async function noHorizontalScroll(page, what) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= width, `${what}: page is ${scroll}px wide in a ${width}px viewport`);
}

export async function axe(page, what) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `${v.id} [${v.impact}] x${v.nodes.length}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(report, [], `${what}: axe found serious problems`);
  return result.violations.length;
}

/** Writes a full-page screenshot `<name>-<label>.png` for reviewers. */
export async function screenshot(page, name, label) {
  await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
}
