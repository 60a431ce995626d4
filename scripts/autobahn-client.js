'use strict';

// The client side of the Autobahn|Testsuite's fuzzingserver mode: for each
// case, connect to ws://127.0.0.1:PORT/runCase?case=N&agent=AGENT and echo
// every message with its type until the suite closes; then ask the suite to
// write its reports. IMPL is wsrs (this checkout) or ws (the reference).
//   node scripts/autobahn-client.js PORT AGENT [wsrs|ws] [--max-fragments=N] [--max-buffered-chunks=N]

const port = Number(process.argv[2]);
const agent = process.argv[3] || 'wsrs';
const impl = process.argv[4] || 'wsrs';
const options = {};
for (const arg of process.argv.slice(5)) {
  const [name, value] = arg.split('=');
  if (name === '--max-fragments') options.maxFragments = Number(value);
  else if (name === '--max-buffered-chunks') options.maxBufferedChunks = Number(value);
  else throw new Error(`unknown option ${arg}`);
}
const WebSocket = impl === 'ws' ? require('ws') : require('..');
const base = `ws://127.0.0.1:${port}`;

function run(path, onMessage) {
  return new Promise((resolve) => {
    // The suite's cases are written for ws's client defaults (compression
    // offered, no maxPayload beyond the 100 MiB default).
    const ws = new WebSocket(base + path, options);
    ws.on('message', (data, isBinary) => (onMessage ? onMessage(ws, data, isBinary) : undefined));
    ws.on('error', () => {});
    ws.on('close', resolve);
  });
}

async function main() {
  let count = 0;
  await run('/getCaseCount', (_ws, data) => (count = Number(data.toString())));
  for (let i = 1; i <= count; i++) {
    await run(`/runCase?case=${i}&agent=${encodeURIComponent(agent)}`, (ws, data, isBinary) => ws.send(data, { binary: isBinary }));
    if (i % 50 === 0) console.log(`autobahn-client: ${i} of ${count}`);
  }
  await run(`/updateReports?agent=${encodeURIComponent(agent)}`);
  console.log(`autobahn-client: ${count} cases run with ${impl}'s client as ${agent}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
