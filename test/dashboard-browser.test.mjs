// The dashboard in a real headless Chromium (Debian's chromium, driven by puppeteer-core):
// the page lists the services, a stop shows without reload, a new file's service appears and
// a removed one goes, the columns do not move as values change, the page fits 375 px, there
// are no page errors and no request leaves this server; a POST without the token is refused
// and the token typed into the page makes its buttons act. Screenshots are written to
// $DASHBOARD_SCREENSHOT_DIR (default: the OS temp dir) for docs/dashboard.md.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { DEADLINE_MS, signal, waitForStatus } from './cli-helpers.mjs';
import { pidGone, startDashboard } from './fixtures/dashboard-harness.mjs';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-token-0123456789abcdef';
const SCREENSHOT_DIR = process.env.DASHBOARD_SCREENSHOT_DIR || os.tmpdir();

let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch {
  puppeteer = undefined;
}
const skip = !fs.existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (apt-get install -y chromium)`
  : puppeteer === undefined ? 'puppeteer-core is not installed (npm install)' : false;

async function openBrowser(t) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'immortal-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  t.after(async () => {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return browser;
}

/** A page that records its errors and every request it makes. */
async function watchedPage(browser, width = 1480) {
  const page = await browser.newPage();
  await page.setViewport({ width, height: 720 });
  const problems = [];
  const requests = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => {
    // The event stream is cut when the page closes; that is not a failure of the page.
    if (!req.url().endsWith('/events')) problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on('request', (req) => requests.push(req.url()));
  page.setDefaultTimeout(DEADLINE_MS);
  return { page, problems, requests };
}

const stateOf = (page, name) => page.$eval(`tr[data-name="${name}"] .state`, (el) => el.textContent);
const waitState = (page, name, state) =>
  page.waitForFunction((n, s) => document.querySelector(`tr[data-name="${n}"] .state`)?.textContent === s, {}, name, state);
const columnEdges = (page) => page.$$eval('thead th', (ths) => ths.map((th) => Math.round(th.getBoundingClientRect().left)));

test('the page lists services and follows a stop, a new and a removed file without reload', { skip }, async (t) => {
  const run = await startDashboard(t, {
    token: TOKEN,
    files: { api: 'cmd: sleep 3730\n', worker: 'cmd: sleep 3731\n', broken: 'cmd: sleep 3732\nwait: soon\n' },
  });
  const api = await waitForStatus(run.serviceSocket('api'), (s) => s.pid > 0);
  await waitForStatus(run.serviceSocket('worker'), (s) => s.pid > 0);
  const browser = await openBrowser(t);
  const { page, problems, requests } = await watchedPage(browser);
  await page.goto(run.url, { waitUntil: 'domcontentloaded' });
  await waitState(page, 'api', 'up');
  await waitState(page, 'worker', 'up');
  await waitState(page, 'broken', 'error');
  await page.evaluate(() => (window.sameDocument = true));
  assert.deepEqual(await page.$$eval('tbody tr', (trs) => trs.map((tr) => tr.dataset.name)), ['api', 'broken', 'worker']);
  const apiCells = await page.$$eval('tr[data-name="api"] > *', (cells) => cells.map((c) => c.textContent));
  assert.equal(apiCells[4], String(api.pid));
  assert.deepEqual([apiCells[2], apiCells[3]], ['yes', '–'], 'ready when started (no ready: key); health: not probed (no health: key)');
  // The whole service's memory and CPU (docs/reliability.md), as the page formats them.
  assert.match(apiCells[9], /^[\d.]+ (KiB|MiB|GiB)$/, 'memory of the whole service');
  assert.match(apiCells[10], /^[\d.]+s$/, 'CPU seconds of the whole service');
  assert.match(await page.$eval('tr[data-name="broken"] th', (el) => el.title), /wait/);
  const edgesBefore = await columnEdges(page);

  await signal(run.serviceSocket('api'), 'down');
  const stoppedAt = Date.now();
  await waitState(page, 'api', 'down');
  t.diagnostic(`stop shown on the page ${Date.now() - stoppedAt} ms after the socket answered`);
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'no reload');
  assert.deepEqual(await columnEdges(page), edgesBefore, 'no column moved');
  await pidGone(api.pid);

  run.write('added', 'cmd: sleep 3733\n');
  await waitState(page, 'added', 'up');
  run.remove('worker');
  await page.waitForFunction(() => !document.querySelector('tr[data-name="worker"]'));
  assert.match(await page.$eval('#summary', (el) => el.textContent), /^3 services · 1 up · 1 down · 1 other$/);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard.png') });

  // The page at a phone's width: nothing sticks out of the viewport; the table scrolls inside.
  await page.setViewport({ width: 375, height: 700 });
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 375);
  assert.equal(await page.$eval('.table-wrap', (el) => el.scrollWidth > el.clientWidth), true, 'the table scrolls in its box');
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard-375.png') });

  const origin = new URL(run.url).origin;
  assert.deepEqual(requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:')), [], 'no external request');
  assert.deepEqual(problems, []);
});

test('a POST without the token is refused; the token typed in the page makes its buttons act and shows the log', { skip }, async (t) => {
  const run = await startDashboard(t, { token: TOKEN, args: ['--http', '0'] });
  const logFile = run.box.path('web.log');
  run.write('web', `cmd: sleep 3734\nlog:\n  file: ${logFile}\n`);
  const web = await waitForStatus(run.serviceSocket('web'), (s) => s.pid > 0);
  const browser = await openBrowser(t);
  const { page, problems } = await watchedPage(browser);
  await page.goto(run.url, { waitUntil: 'domcontentloaded' });
  await waitState(page, 'web', 'up');

  const refused = await page.evaluate(async () => (await fetch('api/services/web/stop', { method: 'POST' })).status);
  assert.equal(refused, 401);
  await page.click('tr[data-name="web"] button[data-action="stop"]');
  await page.waitForFunction(() => /stop web: token required/.test(document.getElementById('message').textContent));
  assert.equal(await stateOf(page, 'web'), 'up');

  await page.type('#token', TOKEN);
  await page.click('#token-form button');
  fs.appendFileSync(logFile, 'hello from the log\n');
  await page.click('tr[data-name="web"] button[data-log]');
  await page.waitForFunction(() => document.getElementById('log-text').textContent === 'hello from the log\n');
  assert.match(await page.$eval('#log-title', (el) => el.textContent), /web\.log, last 200 lines/);
  await page.click('tr[data-name="web"] button[data-action="stop"]');
  await waitState(page, 'web', 'down');
  await pidGone(web.pid);
  await page.click('tr[data-name="web"] button[data-action="start"]');
  await waitState(page, 'web', 'up');
  const again = await waitForStatus(run.serviceSocket('web'), (s) => s.pid > 0 && s.pid !== web.pid);
  assert.notEqual(again.pid, web.pid);
  // Problems are collected above; a refused fetch logs a console error in Chromium, which is
  // the page doing its job, so only uncaught errors count here.
  assert.deepEqual(problems.filter((p) => !p.includes('401')), []);
});

test('read-only and empty: no action column, a sentence instead of rows', { skip }, async (t) => {
  const run = await startDashboard(t, {});
  const browser = await openBrowser(t);
  const { page, problems } = await watchedPage(browser);
  await page.goto(run.url, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => document.getElementById('connection').textContent === 'live');
  assert.match(await page.$eval('#rows', (el) => el.textContent), /^No services\. Put a \*\.yml file in .*services and it shows here\.$/);
  assert.equal(await page.$eval('th.actions', (el) => getComputedStyle(el).display), 'none');
  assert.equal(await page.$eval('#token-form', (el) => getComputedStyle(el).display), 'none');
  assert.deepEqual(problems, []);
});

test('200 services: every row, uniform rows, and a stop among them still shows live', { skip }, async (t) => {
  const files = {};
  for (let i = 0; i < 200; i++) files[`svc${String(i).padStart(3, '0')}`] = `cmd: sleep ${3800 + i}\n`;
  const run = await startDashboard(t, { files });
  const browser = await openBrowser(t);
  const { page, problems, requests } = await watchedPage(browser);
  // immortaldir is busy starting 200 services: the page may take long to come on a loaded machine.
  await page.goto(run.url, { waitUntil: 'domcontentloaded', timeout: 120000 });
  await page.waitForFunction(() => document.querySelectorAll('tbody tr .s-up').length === 200, { timeout: 120000 });
  // The last row has no bottom border; every other one is the same height.
  const heights = await page.$$eval('tbody tr:not(:last-child)', (trs) => [...new Set(trs.map((tr) => tr.getBoundingClientRect().height))]);
  assert.equal(heights.length, 1, `one row height for all: ${heights}`);
  const target = await waitForStatus(run.serviceSocket('svc137'), (s) => s.pid > 0);
  await signal(run.serviceSocket('svc137'), 'down');
  await waitState(page, 'svc137', 'down');
  assert.equal(await page.$$eval('tbody tr .s-up', (els) => els.length), 199);
  await pidGone(target.pid);
  const origin = new URL(run.url).origin;
  assert.deepEqual(requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:')), []);
  assert.deepEqual(problems, []);
});
