'use strict';

// What the runner fixtures (./<runner>/) share: a server that echoes,
// broadcasts ('all:<text>', through wss.clients.forEach) and publishes to a
// topic ('sub', then 'pub:<text>'), clients that wait for events, and a close
// that ends everything. The fixtures pass in the implementation (wsrs, or ws
// with WS_IMPL=ws): this file must not require('wsrs') itself, as it sits in
// the wsrs repository, where the name resolves to the checkout, not to the
// copy installed in ./node_modules.

const { once } = require('events');

const reference = process.env.WS_IMPL === 'ws';

// Topics: native in wsrs; the reference run (ws has none) keeps them in a Set.
function subscribe(sock, topic) {
  if (reference) (sock.topics ||= new Set()).add(topic);
  else sock.subscribe(topic);
}

function publish(wss, topic, data) {
  if (!reference) return wss.publish(topic, data);
  let n = 0;
  wss.clients.forEach((c) => {
    if (c.topics && c.topics.has(topic)) {
      c.send(data);
      n++;
    }
  });
  return n;
}

/** Starts a `WebSocketServer` on 127.0.0.1:0; resolves once it listens. */
async function start(WebSocketServer) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (sock) => {
    sock.on('message', (data, isBinary) => {
      const text = data.toString();
      if (text.startsWith('all:')) {
        wss.clients.forEach((c) => {
          if (c.readyState === c.OPEN) c.send(text.slice(4));
        });
      } else if (text === 'sub') {
        subscribe(sock, 'news');
        sock.send('subscribed');
      } else if (text.startsWith('pub:')) {
        sock.send(`sent:${publish(wss, 'news', text.slice(4))}`);
      } else {
        sock.send(data, { binary: isBinary });
      }
    });
  });
  const url = `ws://127.0.0.1:${wss.address().port}`;
  const clients = [];
  return {
    wss,
    url,
    /** A client of class `Client`, resolved once both ends have opened. */
    async connect(Client) {
      const accepted = once(wss, 'connection');
      const client = new Client(url);
      clients.push(client);
      await Promise.all([once(client, 'open'), accepted]);
      return client;
    },
    /** Closes the clients (closing handshake), then the server, and waits for both. */
    async close() {
      await Promise.all(
        clients.map((c) => {
          if (c.readyState === c.CLOSED) return undefined;
          const closed = new Promise((resolve) => c.once('close', resolve));
          // After a failed test a client may still be connecting: aborting
          // it emits an error that is of no interest here.
          c.on('error', () => {});
          if (c.readyState === c.CONNECTING) c.terminate();
          else c.close();
          return closed;
        })
      );
      await new Promise((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    }
  };
}

/** The next `n` messages of `client`, as strings; rejects if it closes first. */
function messages(client, n) {
  return new Promise((resolve, reject) => {
    const got = [];
    const onMessage = (data) => {
      got.push(data.toString());
      if (got.length === n) {
        done();
        resolve(got);
      }
    };
    const onClose = (code) => {
      done();
      reject(new Error(`closed (${code}) after ${got.length} of ${n} messages`));
    };
    const done = () => {
      client.off('message', onMessage);
      client.off('close', onClose);
    };
    client.on('message', onMessage);
    client.on('close', onClose);
  });
}

module.exports = { messages, start };
