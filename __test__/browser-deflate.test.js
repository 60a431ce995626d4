'use strict';

// permessage-deflate with a real browser: headless Chromium (Debian's package, through
// playwright-core, as in browser.test.js) offers the extension; a wsrs server with
// `perMessageDeflate: true` accepts it, and text and binary messages cross both ways compressed.

const test = require('ava');
const http = require('http');

const { closeServer, impls } = require('./helpers');
const { launchChromium } = require('./helpers/browser');

test('Chromium negotiates permessage-deflate with a wsrs server; text and binary round trips', async (t) => {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>deflate</title>');
  });
  const wss = new impls.wsrs.WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });
  const offers = [];
  wss.on('connection', (ws, req) => {
    offers.push(req.headers['sec-websocket-extensions']);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    const result = await page.evaluate(
      (wsUrl) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(wsUrl);
          ws.binaryType = 'arraybuffer';
          const text = 'compress me, '.repeat(500);
          const bytes = new Uint8Array(20000).map((_, i) => i % 7);
          const got = [];
          ws.onerror = () => reject(new Error('WebSocket error'));
          ws.onopen = () => {
            ws.send(text);
            ws.send(bytes);
          };
          ws.onmessage = (e) => {
            got.push(e.data);
            if (got.length < 2) return;
            const back = new Uint8Array(got[1]);
            resolve({
              extensions: ws.extensions,
              text: got[0] === text,
              binary: back.length === bytes.length && back.every((b, i) => b === bytes[i])
            });
            ws.close(1000);
          };
        }),
      url.replace('http', 'ws')
    );
    t.deepEqual(result, { extensions: 'permessage-deflate', text: true, binary: true });
    t.regex(offers[0], /permessage-deflate/);
  } finally {
    await browser.close();
    await closeServer(wss);
    server.close();
  }
});
