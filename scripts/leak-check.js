'use strict';

// Opens and closes 10 000 connections (wsrs server and client in this
// process, 500 at a time, each exchanging a compressed and a plain message),
// then closes the server and lets the process exit on its own. Run under
// LeakSanitizer by `npm run test:asan`, which counts the leaks whose stack
// passes through wsrs.
//   LEAK_CONNS (10000)

const WebSocket = require('..');

const CONNS = Number(process.env.LEAK_CONNS) || 10000;
const BATCH = 500;

const wss = new WebSocket.WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } }, async () => {
  const url = `ws://127.0.0.1:${wss.address().port}`;
  for (let done = 0; done < CONNS; done += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, CONNS - done) }, (_, i) =>
        new Promise((resolve, reject) => {
          const c = new WebSocket(url, { perMessageDeflate: i % 2 === 0 });
          c.on('open', () => {
            c.send(JSON.stringify({ i, text: 'hello '.repeat(50) }));
            c.send(Buffer.alloc(100, i), { compress: false });
          });
          let got = 0;
          c.on('message', () => ++got === 2 && c.close(1000));
          c.on('close', resolve);
          c.on('error', reject);
        })
      )
    );
  }
  wss.close(() => console.log(`leak-check: ${CONNS} connections opened and closed`));
});
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
