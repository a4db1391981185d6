// Drives the real graphql-ws client against a running server; prints what happened as JSON.
// Usage: node ws-client.mjs ws://127.0.0.1:PORT/graphql SCENARIO
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, scenario, operationJson, connectionParamsJson] = process.argv.slice(2);

function client(options = {}) {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, ...options });
}

function collect(c, payload) {
  return new Promise((resolve) => {
    const events = [];
    c.subscribe(payload, {
      next: (value) => events.push(value),
      error: (error) => resolve({ events, error: describe(error) }),
      complete: () => resolve({ events, completed: true }),
    });
  });
}

function describe(error) {
  if (Array.isArray(error)) return { graphqlErrors: error };
  if (error && typeof error.code === 'number') return { closeCode: error.code, closeReason: error.reason };
  return { message: String(error?.message ?? error) };
}

const scenarios = {
  async subscription() {
    const c = client({ connectionParams: { token: 'good' } });
    const result = await collect(c, { query: 'subscription ($n: Int!) { ticks(n: $n) }', variables: { n: 5 } });
    await c.dispose();
    return result;
  },
  async crossSubgraphSubscription() {
    const c = client();
    const result = await collect(c, { query: 'subscription { reviewPosted(n: 3) { body book { title reviewCount } } }' });
    await c.dispose();
    return result;
  },
  async query() {
    const c = client();
    const result = await collect(c, { query: '{ books(first: 2) { id title reviewCount } }' });
    await c.dispose();
    return result;
  },
  async mutation() {
    const c = client();
    const result = await collect(c, { query: 'mutation { addBook(book: {title: "WS"}) { id title genre } }' });
    await c.dispose();
    return result;
  },
  async validationError() {
    const c = client();
    const result = await collect(c, { query: '{ doesNotExist }' });
    await c.dispose();
    return result;
  },
  async forbidden() {
    const c = client({ connectionParams: { token: 'bad' } });
    const result = await collect(c, { query: '{ greeting }' });
    await c.dispose();
    return result;
  },
  async operation() {
    // any operation given as JSON on the command line, collected until it completes
    const c = client({ connectionParams: connectionParamsJson ? JSON.parse(connectionParamsJson) : {} });
    const result = await collect(c, JSON.parse(operationJson));
    await c.dispose();
    return result;
  },
  async unsubscribe() {
    // take two events of an endless-ish subscription, then complete it from the client
    const c = client();
    const events = [];
    await new Promise((resolve) => {
      const stop = c.subscribe(
        { query: 'subscription { ticks(n: 1000, delay: 0.01) }' },
        {
          next: (value) => {
            events.push(value);
            if (events.length === 2) {
              stop();
              resolve();
            }
          },
          error: resolve,
          complete: resolve,
        },
      );
    });
    const after = await collect(c, { query: '{ greeting(name: "again") }' });
    await c.dispose();
    return { events, after };
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
console.log(JSON.stringify(await run()));
