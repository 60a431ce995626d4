'use strict';

// `npm start`: the demo chat room serves the seeds' page over HTTP and
// broadcasts over WebSocket on the same port.

const test = require('ava');
const path = require('path');
const { spawn } = require('child_process');
const { connect, messages, once } = require('./helpers');

test('the demo serves the page and broadcasts between clients', async (t) => {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'demo', 'server.js')], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  t.teardown(() => child.kill('SIGKILL'));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /chat demo: http:\/\/localhost:(\d+)\//.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}`)));
  });

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
