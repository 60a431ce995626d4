'use strict';

// `npm start`: the demo chat room serves the seeds' page over HTTP and
// broadcasts over WebSocket on the same port.

const test = require('ava');
const path = require('path');
const { spawn } = require('child_process');
const { connect, messages, once } = require('./helpers');

test('the demo serves the page and broadcasts between clients', async (t) => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'demo', 'server.js')], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.stdout.on('data', (d) => d.toString().includes('chat demo') && resolve()));

  const page = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  t.regex(page, /new WebSocket\('ws:\/\/localhost:8080'\)/);

  const a = await connect(`ws://127.0.0.1:${port}`);
  const b = await connect(`ws://127.0.0.1:${port}`);
  const gotA = messages(a, 1);
  const gotB = messages(b, 1);
  a.send('你好');
  t.deepEqual(await gotA, [['你好', false]]);
  t.deepEqual(await gotB, [['你好', false]]);
  a.close();
  b.close();
  await once(b, 'close');
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  t.is(code, 0);
});
