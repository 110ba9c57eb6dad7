// Browser test of the web UI against a running control plane with idle local workers (started by
// cli's AdminUiBrowserTest). Debian's Chromium through playwright-core: no browser download.
//
//   PIPEFILL_URL          the control plane, e.g. http://127.0.0.1:8080
//   PIPEFILL_ADMIN_TOKEN  its admin token
//   PIPEFILL_MODEL_DIR    a generated model directory to register (under the models root)
//   SCREENSHOT_DIR        where every page's screenshot goes (test artifacts)
//   CHROMIUM              the browser (default /usr/bin/chromium)
//
// Exits 0 when every step passed; otherwise prints the failed step and exits 1.
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = need('PIPEFILL_URL');
const token = need('PIPEFILL_ADMIN_TOKEN');
const modelDir = need('PIPEFILL_MODEL_DIR');
const shots = need('SCREENSHOT_DIR');
const timeout = 60_000;
mkdirSync(shots, { recursive: true });

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
}

function check(cond, what) {
  if (!cond) {
    throw new Error(`check failed: ${what}`);
  }
  console.log(`ok - ${what}`);
}

async function api(path, init = {}) {
  const res = await fetch(base + path, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  if (!res.ok) {
    throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  }
  return res.json();
}

const profile = mkdtempSync(join(tmpdir(), 'pipefill-chromium-'));
// a fresh profile each time (playwright-core's way of passing --user-data-dir)
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] ?? await context.newPage();
page.setDefaultTimeout(timeout);
const consoleErrors = [];
let expectRefusal = false;
page.on('console', (m) => {
  // the refusals the test provokes (401, 400) are logged by Chromium as a failed resource: expected there, nowhere else
  if (m.type() === 'error' && !(expectRefusal && /40[01]/.test(m.text()))) {
    consoleErrors.push(m.text());
  }
});
page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

let failed = false;
try {
  // a wrong token is refused, in words
  await page.goto(base + '/');
  await page.getByLabel('Admin token').waitFor();
  expectRefusal = true;
  await page.getByLabel('Admin token').fill('not-the-admin-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const refusal = await page.getByRole('alert').textContent();
  check(/not known/.test(refusal), `a wrong token is refused with the problem's detail ("${refusal}")`);
  check(await page.evaluate(() => sessionStorage.length) === 0, 'a refused token is not kept');
  await shot('01-sign-in-refused');
  expectRefusal = false;

  // sign in with the keyboard only: the token field has the focus, Enter submits
  await page.getByLabel('Admin token').fill('');
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('pipefill.adminToken')) === token, 'the token is kept in sessionStorage');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement?.textContent) === 'Overview', 'Tab reaches the navigation');
  await page.getByTestId('worker-counts').getByText('IDLE').waitFor();
  check(/IDLE\s*2/.test(await page.getByTestId('worker-counts').textContent()), 'the overview shows the two idle workers');
  await shot('02-overview');

  // register the model
  await page.getByRole('link', { name: 'Models' }).click();
  await page.getByLabel('Name').fill('ui-tiny');
  await page.getByLabel('Directory (under the models root)').fill(modelDir);
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('cell', { name: 'ui-tiny', exact: true }).waitFor();
  check(true, 'a model directory is registered from the Models page');
  await page.getByLabel('Name').fill('Not A Valid Name');
  await page.getByLabel('Directory (under the models root)').fill(modelDir);
  expectRefusal = true; // the 400 is logged as a failed resource too
  await page.getByRole('button', { name: 'Register' }).click();
  const bad = await page.getByRole('alert').textContent();
  check(/name/.test(bad) && /lower-case/.test(bad), `a bad registration shows the field's error ("${bad}")`);
  await shot('03-models');

  // plan: ranked plans, rejected layouts, the predicted Gantt, then deploy PP 2
  await page.getByRole('link', { name: 'Planner' }).click();
  await page.getByLabel('Model').fill('ui-tiny');
  await page.getByLabel('GPUs per node').fill('2');
  await page.getByLabel('Prompt tokens').fill('1024');
  await page.getByLabel('Chunk size').fill('128');
  await page.getByRole('button', { name: 'Plan', exact: true }).click();
  expectRefusal = false;
  const plans = page.getByTestId('plans');
  await plans.waitFor();
  const pp2 = plans.getByRole('row').filter({ has: page.getByRole('cell', { name: '2 × 1', exact: true }) });
  check(await pp2.count() === 1, 'the ranked plans include PP 2 × TP 1');
  await pp2.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('heading', { name: /PP 2 × TP 1/ }).waitFor();
  const predicted = page.getByRole('img', { name: /Predicted Gantt/ });
  check(Number(await predicted.getAttribute('data-bars')) === 8 * 2, 'the predicted Gantt has 8 chunks × 2 stages bars');
  await shot('04-planner');
  // the same layout's optimised chunk schedule: shown, explained, drawn; then back to the swept plan to deploy it
  await page.getByRole('button', { name: 'Optimise the chunk schedule' }).click();
  const plannedText = await page.getByTestId('planned-schedule').textContent();
  const sizes = plannedText.match(/: ([0-9,]+)/)[1].split(',').map(Number);
  check(sizes.reduce((a, b) => a + b, 0) === 1024 && /predicted TTFT .* against .* with fixed chunks of 128/.test(plannedText),
    `the planned schedule covers the 1024-token prompt and is compared with the swept plan ("${plannedText}")`);
  check(/Why planned/.test(await page.getByTestId('planned-reason').textContent()), 'the planner says why the schedule wins');
  await page.getByRole('img', { name: /Predicted Gantt/ }).and(page.locator(`[data-bars="${sizes.length * 2}"]`)).waitFor();
  check(true, `the predicted Gantt redrawn for the planned schedule (${sizes.length} chunks × 2 stages)`);
  await shot('04b-planner-planned');
  await pp2.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('button', { name: 'Optimise the chunk schedule' }).waitFor();
  await page.getByLabel('Deployment name').fill('ui-pp2');
  await page.getByLabel('Max tokens').fill('8192');
  await page.getByRole('button', { name: 'Deploy this plan' }).click();
  await page.getByRole('heading', { name: /Deployment ui-pp2/ }).waitFor();
  await page.getByRole('heading', { name: /Deployment ui-pp2/ }).getByText('READY').waitFor();
  check(await page.getByTestId('placement').count() === 2, 'the placement map shows 2 stages × 1 TP rank');
  await shot('05-deployment');
  await page.getByRole('link', { name: 'Deployments' }).click();
  await page.getByRole('link', { name: 'ui-pp2' }).waitFor();
  await shot('06-deployments');

  // submit a run, watch it finish, count its bars
  await page.getByRole('link', { name: 'Runs' }).click();
  await page.getByLabel('Tokens', { exact: true }).fill('1024');
  await page.getByLabel('Seed').fill('7');
  await page.getByLabel('Max new tokens').fill('4');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.getByRole('heading', { name: /^Run / }).getByText('SUCCEEDED').waitFor();
  const runId = page.url().split('/runs/')[1];
  await page.getByTestId('events').getByText(/through the last stage/).first().waitFor();
  check(true, 'the run page followed the event stream (progress events listed)');
  const run = await api(`/api/v1/runs/${runId}`);
  const measured = page.getByRole('img', { name: /Measured Gantt/ });
  await measured.waitFor();
  check(Number(await measured.getAttribute('data-bars')) === run.timeline.length,
    `the measured Gantt has one bar per timeline event (${run.timeline.length})`);
  check(Number(await measured.getAttribute('data-chunk-bars')) === run.chunkSchedule.length * 2 && run.chunkSchedule.length === 8,
    'one prefill bar per chunk per stage (8 × 2)');
  check(Number(await measured.getAttribute('data-lanes')) === 2, 'one lane per stage');
  check((await page.getByTestId('generated').textContent()).trim() === run.generated.join(' '), 'the generated tokens are shown');
  check((await page.getByTestId('bubble').textContent()) === `${(run.bubbleRatio * 100).toFixed(1)} %`, 'the bubble ratio is shown');
  check(/^8: 128 ×8$/.test(await page.getByTestId('chunk-sizes').textContent()), 'the chunk-size sequence is shown');
  await page.getByTestId('no-prediction').waitFor();
  await shot('07-run');

  // a long run: watch its progress, then cancel it
  await page.getByRole('link', { name: 'Runs' }).click();
  await page.getByLabel('Tokens', { exact: true }).fill('4096');
  await page.getByLabel('Max new tokens').fill('4000');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.getByTestId('progress-text').getByText(/chunk \d+ of 32/).waitFor();
  check(true, `live progress: "${await page.getByTestId('progress-text').textContent()}"`);
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await page.getByRole('heading', { name: /^Run / }).getByText('CANCELLED').waitFor();
  check(true, 'the run is cancelled from its page');
  await shot('08-run-cancelled');

  // the list with a filter
  await page.getByRole('link', { name: 'Runs' }).click();
  await page.getByLabel('State').selectOption('CANCELLED');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid=runs] tbody tr')];
    return rows.length === 1 && rows[0].textContent.includes('CANCELLED');
  });
  check(true, 'the run list filters by state');
  await shot('09-runs');

  // delete the deployment (after the confirmation dialog)
  await page.getByRole('link', { name: 'Deployments' }).click();
  await page.getByRole('link', { name: 'ui-pp2' }).click();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('heading', { name: 'Deployments', level: 1 }).waitFor();
  await page.getByText('No deployments').waitFor();
  check((await api('/api/v1/deployments')).length === 0, 'the deployment is deleted from its page');

  // sign-out forgets the token
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('pipefill.adminToken')) === null, 'sign-out clears the token');

  check(consoleErrors.length === 0, `no console errors${consoleErrors.length ? ': ' + consoleErrors.join(' | ') : ''}`);
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.stack ?? e}`);
  console.error(`console errors so far: ${JSON.stringify(consoleErrors)}`);
  await shot('failure').catch(() => {});
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
