// Watch-party subscribers on the real graphql-ws client, one socket each, for the Python tests.
//
// Usage: node party-client.mjs CONFIG_JSON   (or the JSON on stdin's first line when omitted)
//   { "subscribers": [{ "name": "host", "url": "ws://…/graphql", "apiKey": "…", "partyId": "…" }],
//     "count": 6,              // stop a subscriber after this many events beyond `current`
//     "untilMessage": "done",  // … or once it sees a chat message with this body
//     "timeoutMs": 20000 }
// Prints `ready` once every subscriber has its `current` event, then reads control lines on
// stdin (`kill NAME`: drop that subscriber's socket at once, no close frame) answering
// `killed NAME` back; each chat message a subscriber receives is told as `message NAME BODY`
// (bodies without newlines), so the caller knows what has arrived; finally it prints one JSON line:
//   { "subscribers": { NAME: { "events": [...], "done"?, "error"?, "closed"?, "killed"?,
//                              "timedOut"? } } }
// where each event is a watchPartyEvents payload plus `receivedAt` (Date.now() on arrival).
import { createInterface } from 'node:readline';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const EVENTS = `subscription ($id: ID!) {
  watchPartyEvents(partyId: $id) {
    kind serverTime
    message { body userId }
    party { id state positionMs stateChangedAt endedAt itemId: item { id }
            members { userId profileId role isReady positionMs } }
  }
}`;

const lines = createInterface({ input: process.stdin });
const pendingLines = [];
let lineWaiter = null;
lines.on('line', (line) => {
  if (lineWaiter) {
    const resolve = lineWaiter;
    lineWaiter = null;
    resolve(line);
  } else pendingLines.push(line);
});
lines.on('close', () => lineWaiter?.(null));
const nextLine = () =>
  pendingLines.length ? Promise.resolve(pendingLines.shift()) : new Promise((r) => (lineWaiter = r));

const config = JSON.parse(process.argv[2] ?? (await nextLine()));
const timeoutMs = config.timeoutMs ?? 20000;

function describe(error) {
  if (Array.isArray(error)) return { graphqlErrors: error };
  if (error && typeof error.code === 'number') return { closeCode: error.code, closeReason: error.reason };
  return { message: String(error?.message ?? error) };
}

function follow(spec) {
  const result = { events: [] };
  let socket = null;
  let gotCurrent;
  const current = new Promise((resolve) => (gotCurrent = resolve));
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const client = createClient({
    url: spec.url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { apiKey: spec.apiKey },
    on: {
      connected: (opened) => (socket = opened),
      // The socket's end is this subscriber's end: graphql-ws would reconnect after a 1000.
      closed: (event) => {
        if (result.killed || result.done) return;
        result.closed = { code: event?.code, reason: event?.reason };
        done();
      },
    },
  });
  const done = () => {
    finish();
    gotCurrent();
  };
  const isLast = (event) =>
    (config.count !== undefined && result.events.length > config.count) ||
    (config.untilMessage !== undefined && event.kind === 'message' && event.message?.body === config.untilMessage);
  client.subscribe(
    { query: EVENTS, variables: { id: spec.partyId } },
    {
      next: ({ data, errors }) => {
        if (errors) result.errors = errors;
        if (!data) return;
        const event = { ...data.watchPartyEvents, receivedAt: Date.now() };
        result.events.push(event);
        if (result.events.length === 1) gotCurrent();
        if (event.kind === 'message' && readyPrinted) console.log(`message ${spec.name} ${event.message.body}`);
        if (isLast(event)) {
          result.done = true;
          done();
        }
      },
      error: (error) => {
        if (!result.killed) result.error = describe(error);
        done();
      },
      complete: () => {
        result.completed = true;
        done();
      },
    },
  );
  return {
    result,
    current,
    finished,
    kill() {
      result.killed = true;
      socket?.terminate();
      done();
    },
    dispose: () => client.dispose(),
  };
}

let readyPrinted = false;
const followers = Object.fromEntries(config.subscribers.map((spec) => [spec.name, follow(spec)]));
const all = Object.values(followers);
const deadline = new Promise((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));

if ((await Promise.race([Promise.all(all.map((f) => f.current)), deadline])) !== 'timeout') {
  console.log('ready');
  readyPrinted = true;
  const control = (async () => {
    for (let line = await nextLine(); line !== null; line = await nextLine()) {
      const [verb, name] = line.trim().split(/\s+/);
      if (verb === 'kill' && followers[name]) {
        followers[name].kill();
        console.log(`killed ${name}`);
      }
    }
  })();
  void control;
  await Promise.race([Promise.all(all.map((f) => f.finished)), deadline]);
}

const subscribers = {};
for (const [name, f] of Object.entries(followers)) {
  subscribers[name] = f.result;
  if (!f.result.done && !f.result.killed && !f.result.error && !f.result.completed && !f.result.closed)
    f.result.timedOut = true;
}
console.log(JSON.stringify({ subscribers }));
await Promise.race([Promise.all(all.map((f) => f.dispose())), new Promise((r) => setTimeout(r, 1000))]);
process.exit(0);
