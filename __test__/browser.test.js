'use strict';

// The demo (`npm start`) in headless Chromium, as a user sees it: Debian's chromium package driven by
// playwright-core (no browser download; `.ci/run` installs chromium when it is missing; CHROMIUM_PATH
// picks another). One demo server on a free port and one browser for the file; pages chat in rooms,
// the tutorial's page at /seed still works, the panel's numbers move under simulated load, and a
// screenshot of the main page goes to test-output/demo.png.

const test = require('ava');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { launchChromium } = require('./helpers/browser');
const { startDemo, startLoad, stop } = require('./helpers/demo');

const OUT = path.join(__dirname, '..', 'test-output');
let demo;
let browser;
let context;
const problems = []; // console errors and page errors of the chat pages (a CSP violation would be one)

test.before(async () => {
  // A short heartbeat, so that the load's zombies are reaped within seconds; the button simulates 50.
  demo = await startDemo({ HEARTBEAT_MS: '3000', LOAD_CLIENTS: '50' });
  // The tutorial's page connects to ws://localhost:8080: there, this browser reaches our server.
  browser = await launchChromium([`--host-resolver-rules=MAP localhost:8080 127.0.0.1:${demo.port}`]);
  context = await browser.newContext({ viewport: { width: 1000, height: 650 } });
});

test.after.always(async () => {
  if (browser) await browser.close();
  if (demo) await stop(demo.child);
});

/** A chat page in `room`, renamed to `nick`, once it is connected. */
async function chatPage(room, nick) {
  const page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && problems.push(`${room}/${nick}: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`${room}/${nick}: ${e.message}`));
  page.response = await page.goto(`${demo.http}/#${room}`);
  await page.waitForSelector('#text:enabled');
  await page.fill('#nick', nick);
  await page.press('#nick', 'Enter');
  await page.waitForFunction((n) => document.querySelector('#log').textContent.includes(`is now ${n}`), nick);
  return page;
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Waits until the page's log has a message `text`; resolves with its [time, nick, text] as shown. */
async function shown(page, text) {
  const li = await page.waitForFunction(
    (t) => [...document.querySelectorAll('#log li')].find((li) => li.querySelector('.text')?.textContent === t),
    text
  );
  return li.evaluate((el) => [...el.children].map((c) => c.textContent));
}

function logText(page) {
  return page.$eval('#log', (el) => el.textContent);
}

function panelNumber(page, id) {
  return page.$eval(`#${id}`, (el) => Number(el.textContent.replace(/,/g, '')));
}

let ann;
let bob;
let cy;

test.serial('two pages chat in a room; a page in another room does not see it', async (t) => {
  ann = await chatPage('garden', 'ann');
  bob = await chatPage('garden', 'bob');
  cy = await chatPage('attic', 'cy');

  const csp = ann.response.headers()['content-security-policy'];
  t.regex(csp, /script-src 'sha256-[^']+'(;|$)/);
  t.false(csp.includes('unsafe-inline'));
  // The WebSocket URL comes from the page's location: this port, not 8080.
  t.is(await ann.evaluate(() => socket.url), `${demo.ws}/chat`);

  await say(ann, 'Hi! Is this the wsrs demo?');
  const [time, nick] = await shown(bob, 'Hi! Is this the wsrs demo?');
  t.is(nick, 'ann');
  t.regex(time, /\d{1,2}:\d{2}/);
  await say(bob, 'It is: two tabs, one room.');
  await shown(ann, 'It is: two tabs, one room.');

  // cy's own message comes after anything the server sent cy before: none of the garden's.
  await say(cy, 'Anyone in the attic?');
  await shown(cy, 'Anyone in the attic?');
  const attic = await logText(cy);
  t.false(attic.includes('wsrs demo'), attic);
  t.false(attic.includes('two tabs'), attic);
  t.false((await logText(bob)).includes('attic'));

  // The online counts: the room's two, and everyone.
  await bob.waitForFunction(() => document.querySelector('#room-online').textContent === '· 2 here');
  await bob.waitForFunction(() => Number(document.querySelector('#online').textContent) >= 3);
  t.is(await cy.$eval('#room', (el) => el.textContent), 'attic');
});

/** A reverse proxy that serves the demo under `prefix` (HTTP and WebSocket upgrades), as a deployment might. */
function prefixProxy(port, prefix) {
  const strip = (url) => (url.startsWith(prefix) ? url.slice(prefix.length - 1) : url);
  const sockets = new Set();
  const proxy = http.createServer((req, res) => {
    const options = { host: '127.0.0.1', port, path: strip(req.url), method: req.method, headers: req.headers };
    req.pipe(
      http.request(options, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      })
    );
  });
  proxy.on('upgrade', (req, socket, head) => {
    const upstream = net.connect(port, '127.0.0.1', () => {
      const headers = req.rawHeaders.map((v, i) => (i % 2 ? `${v}\r\n` : `${v}: `)).join('');
      upstream.write(`${req.method} ${strip(req.url)} HTTP/1.1\r\n${headers}\r\n`);
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => (upstream.destroy(), socket.destroy()));
    }
  });
  proxy.stop = () => {
    for (const s of sockets) s.destroy();
    proxy.closeAllConnections();
    return new Promise((resolve) => proxy.close(resolve));
  };
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(proxy)));
}

test.serial('behind a proxy, under a path prefix, the page finds its WebSocket next to itself', async (t) => {
  const proxy = await prefixProxy(demo.port, '/wsrs-demo/');
  t.teardown(() => proxy.stop());
  const page = await context.newPage();
  t.teardown(() => page.close());
  const base = `http://127.0.0.1:${proxy.address().port}/wsrs-demo/`;
  await page.goto(`${base}#cellar`);
  await page.waitForSelector('#text:enabled');
  t.is(await page.evaluate(() => socket.url), `ws://127.0.0.1:${proxy.address().port}/wsrs-demo/chat`);
  await say(page, 'Hello through the proxy');
  await shown(page, 'Hello through the proxy');
  t.is(await page.$eval('a[href="seed"]', (a) => a.href), `${base}seed`);
});

test.serial('an HTML payload is shown as text, in every page', async (t) => {
  const payload = '<img src=x onerror="document.title=\'pwned\'"><b>bold?</b> Try HTML: it stays text.';
  await say(bob, payload);
  for (const page of [ann, bob]) {
    const [, , text] = await shown(page, payload);
    t.is(text, payload);
    t.is(await page.$$eval('#log img, #log b', (els) => els.length), 0);
    t.is(await page.title(), 'wsrs chat');
  }
});

test.serial("the tutorial's page still works against the server", async (t) => {
  const pages = [];
  for (let i = 0; i < 2; i++) {
    const page = await context.newPage();
    await page.goto(`${demo.http}/seed`);
    // The tutorial writes this once its socket is open.
    await page.waitForFunction(() => document.querySelector('.results').textContent === '连接服务成功');
    pages.push(page);
  }
  await pages[0].fill('input', '你好, from the tutorial');
  await pages[0].click('button');
  for (const page of pages) {
    await page.waitForFunction(() => document.querySelector('.results').textContent === '你好, from the tutorial');
  }
  // The tutorial inserts messages as HTML; served with its CSP, injected markup cannot run script.
  const blocked = pages[1].evaluate(
    () =>
      new Promise((resolve) => {
        const refused = (e) => e.blockedURI === 'inline' && resolve(e.effectiveDirective);
        document.addEventListener('securitypolicyviolation', refused);
      })
  );
  await pages[0].fill('input', '<img src=x onerror="document.title=\'pwned\'">');
  await pages[0].click('button');
  t.is(await blocked, 'script-src-attr'); // the onerror handler, refused
  await pages[1].waitForSelector('.results img', { state: 'attached' });
  t.is(await pages[1].title(), 'Document');
  for (const page of pages) await page.close();
});

test.serial("the panel's numbers change under load (200 simulated clients), and a screenshot is saved", async (t) => {
  await ann.bringToFront();
  const before = await panelNumber(ann, 'connections');
  const load = startLoad(`${demo.ws}/chat`, 200);
  t.teardown(() => stop(load));
  // 200 connections, messages flowing, and the zombies (one in 20) reaped by the native heartbeat.
  await ann.waitForFunction(
    (n) => {
      const num = (id) => Number(document.getElementById(id).textContent.replace(/,/g, ''));
      return num('connections') >= n + 180 && num('rate') > 0 && num('delivered') > 0 && num('reaped') >= 5;
    },
    before,
    { timeout: 20000 }
  );
  t.regex(await ann.$eval('#per-conn', (el) => el.textContent), /^\d+(\.\d)? KB per connection$/);
  t.regex(await ann.$eval('#rss', (el) => el.textContent), /^\d+(\.\d)? MB$/);
  t.true((await ann.$eval('#spark', (el) => el.getAttribute('points'))).split(' ').length >= 2);
  await say(ann, 'The panel shows the numbers under load: 200 simulated clients.');
  await shown(ann, 'The panel shows the numbers under load: 200 simulated clients.');
  fs.mkdirSync(OUT, { recursive: true });
  await ann.screenshot({ path: path.join(OUT, 'demo.png') });
  t.true(fs.statSync(path.join(OUT, 'demo.png')).size > 10000);

  t.is(await stop(load), 0);
  t.regex(load.output, /load: 0 open of 200/);
  await ann.waitForFunction((n) => Number(document.getElementById('connections').textContent) <= n, before);
});

test.serial("the page's button starts and stops simulated clients (LOAD_CLIENTS of them)", async (t) => {
  const before = await panelNumber(ann, 'connections');
  await ann.waitForSelector('#load:enabled');
  t.is(await ann.textContent('#load'), 'Simulate 50 clients');
  await ann.click('#load');
  await ann.waitForFunction((n) => Number(document.getElementById('connections').textContent) >= n + 45, before);
  t.is(await ann.textContent('#load'), 'Stop the 50 simulated clients');
  await ann.click('#load');
  await ann.waitForFunction((n) => Number(document.getElementById('connections').textContent) <= n, before);
  await ann.waitForFunction(() => document.getElementById('load').textContent === 'Simulate 50 clients');
  t.deepEqual(problems, []);
});
