'use strict';

// What a client received from sequence-numbered publishes, for the pub/sub
// tests (fixtures/redis-peer.js, fixtures/pubsub-thread.js and the tests'
// own clients). A sequence message is `${stream}:${seq}:${kind}`: the
// stream names the publisher (one stream per publisher and topic), seq
// counts up from 0 within it, kind is 't' if it was published as text and
// 'b' as binary. Per client and stream the tracker counts receptions,
// duplicates (a seq seen before), reorderings (a new seq lower than the
// highest seen) and kind mismatches; anything else is logged as `other`.
// No dependencies (loaded in worker threads and children).

const SEQ = /^([^:]+):(\d+):([tb])$/;

/** The message of `seq` in `stream`, and its publish options. */
function seqMessage(stream, seq, binary) {
  const s = `${stream}:${seq}:${binary ? 'b' : 't'}`;
  return binary ? Buffer.from(s) : s;
}

class Tracker {
  constructor({ log = false } = {}) {
    this.keepLog = log;
    this.reset();
  }

  reset() {
    /** stream -> { seen: number[] (1 per seq), last, count, dups, ooo } */
    this.streams = new Map();
    this.total = 0;
    this.other = 0;
    this.wrongKind = 0;
    this.log = [];
  }

  /** Feeds one message as a ws 'message' listener gets it. */
  add(data, isBinary) {
    this.total++;
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (this.keepLog) this.log.push([isBinary ? buf.toString('hex') : buf.toString(), isBinary]);
    const m = SEQ.exec(buf.length < 64 ? buf.toString() : '');
    if (!m) {
      this.other++;
      return;
    }
    const [, stream, seqText, kind] = m;
    const seq = Number(seqText);
    if ((kind === 'b') !== isBinary) this.wrongKind++;
    let s = this.streams.get(stream);
    if (!s) {
      s = { seen: [], last: -1, count: 0, dups: 0, ooo: 0 };
      this.streams.set(stream, s);
    }
    s.count++;
    if (s.seen[seq]) s.dups++;
    else if (seq < s.last) s.ooo++;
    s.seen[seq] = 1;
    if (seq > s.last) s.last = seq;
  }

  /** How many seqs of [from, to) of `stream` were never received. */
  missing(stream, from, to) {
    const s = this.streams.get(stream);
    if (!s) return to - from;
    let n = 0;
    for (let i = from; i < to; i++) if (!s.seen[i]) n++;
    return n;
  }

  /** True once every seq of every range { stream: [from, to) } was received. */
  has(ranges) {
    for (const [stream, [from, to]] of Object.entries(ranges)) {
      const s = this.streams.get(stream);
      if (!s || s.count < to - from || this.missing(stream, from, to) > 0) return false;
    }
    return true;
  }
}

/**
 * Sums up many clients' trackers against `ranges` ({ stream: [from, to) },
 * the seqs each client should have): per stream the receptions, duplicates,
 * reorderings and missing seqs over all clients, how many clients miss
 * any, and the worst client's count; plus totals, and the first few
 * clients with a problem, for the log.
 */
function summarize(trackers, ranges = {}) {
  const streams = {};
  const names = new Set(Object.keys(ranges));
  for (const tr of trackers) for (const k of tr.streams.keys()) names.add(k);
  for (const name of names) {
    const agg = { received: 0, dups: 0, ooo: 0, missing: 0, clientsMissing: 0, worstMissing: 0 };
    for (const tr of trackers) {
      const s = tr.streams.get(name);
      if (s) {
        agg.received += s.count;
        agg.dups += s.dups;
        agg.ooo += s.ooo;
      }
      if (ranges[name]) {
        const miss = tr.missing(name, ranges[name][0], ranges[name][1]);
        agg.missing += miss;
        if (miss > 0) agg.clientsMissing++;
        if (miss > agg.worstMissing) agg.worstMissing = miss;
      }
    }
    streams[name] = agg;
  }
  const problems = [];
  trackers.forEach((tr, i) => {
    if (problems.length >= 5) return;
    const bad = {};
    for (const [name, s] of tr.streams) if (s.dups || s.ooo) bad[name] = { dups: s.dups, ooo: s.ooo };
    for (const [name, [from, to]] of Object.entries(ranges)) {
      const miss = tr.missing(name, from, to);
      if (miss) bad[name] = { ...bad[name], missing: miss };
    }
    if (Object.keys(bad).length || tr.wrongKind) problems.push({ client: i, wrongKind: tr.wrongKind, ...bad });
  });
  return {
    clients: trackers.length,
    total: trackers.reduce((n, tr) => n + tr.total, 0),
    other: trackers.reduce((n, tr) => n + tr.other, 0),
    wrongKind: trackers.reduce((n, tr) => n + tr.wrongKind, 0),
    dups: Object.values(streams).reduce((n, s) => n + s.dups, 0),
    ooo: Object.values(streams).reduce((n, s) => n + s.ooo, 0),
    streams,
    problems
  };
}

/**
 * Publishes seqs [from, from + count) of `stream` on `topic` with
 * `publish(topic, data, options)`, `perTurn` per event-loop turn
 * (setImmediate between), alternating text and binary if `binary` is
 * 'alternate' (odd seqs binary). At each seq in `gates` it first awaits
 * `gate(seq)` (the test's go-ahead). Resolves with the sum of what publish
 * returned (local recipients).
 */
async function publishSequence({ publish, topic, stream, from = 0, count, perTurn = 4, binary = false, gates = [], gate }) {
  let local = 0;
  for (let seq = from; seq < from + count; seq++) {
    if (gates.includes(seq)) await gate(seq);
    const bin = binary === 'alternate' ? seq % 2 === 1 : !!binary;
    local += publish(topic, seqMessage(stream, seq, bin), { binary: bin });
    if ((seq - from + 1) % perTurn === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return local;
}

module.exports = { SEQ, Tracker, publishSequence, seqMessage, summarize };
