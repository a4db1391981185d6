// Runs graphql-http's serverAudits against a running server and prints the results as JSON.
// Usage: node audit-server.mjs http://127.0.0.1:PORT/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit-server.mjs URL');
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.responseStatus = result.response?.status;
    try {
      entry.body = await result.response.text();
    } catch {
      entry.body = null;
    }
  }
  results.push(entry);
}
console.log(JSON.stringify(results));
