// Drives Apollo Client's persisted-query link (from npm) against a running gateway and prints, as
// JSON, every HTTP exchange it made and the results it got.
// Usage: node persisted-client.mjs http://127.0.0.1:PORT/graphql post|get API_KEY
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const [url, mode, apiKey] = process.argv.slice(2);

const exchanges = [];

async function loggingFetch(input, init = {}) {
  const target = new URL(typeof input === 'string' ? input : input.url);
  const method = (init.method ?? 'GET').toUpperCase();
  let sent;
  if (method === 'GET') {
    sent = Object.fromEntries(
      [...target.searchParams].map(([k, v]) => [k, k === 'query' || k === 'operationName' ? v : JSON.parse(v)]),
    );
  } else {
    sent = JSON.parse(init.body);
  }
  const response = await fetch(input, init);
  const text = await response.clone().text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  exchanges.push({
    method,
    sentQuery: typeof sent.query === 'string',
    sentHash: sent.extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    errorCodes: (body?.errors ?? []).map((e) => e.extensions?.code ?? null),
  });
  return response;
}

const persisted = new PersistedQueryLink({
  sha256: (text) => createHash('sha256').update(text).digest('hex'),
  useGETForHashedQueries: mode === 'get',
});
const http = new HttpLink({ uri: url, fetch: loggingFetch, headers: { 'x-api-key': apiKey } });
const client = new ApolloClient({ link: ApolloLink.from([persisted, http]), cache: new InMemoryCache() });

const QUERY = gql`
  query PersistedProbe($first: Int!) {
    me { id name }
    items(first: $first) { totalCount }
  }
`;

const results = [];
for (let i = 0; i < 2; i += 1) {
  const result = await client.query({ query: QUERY, variables: { first: 1 }, fetchPolicy: 'network-only' });
  results.push({ data: result.data, error: result.error ? String(result.error) : null });
}
const MUTATION = gql`
  mutation PersistedProbeMutation { createApiClient(name: "from-apollo") { __typename } }
`;
const mutation = await client.mutate({ mutation: MUTATION });
results.push({ data: mutation.data, error: mutation.error ? String(mutation.error) : null });
console.log(JSON.stringify({ exchanges, results }));
