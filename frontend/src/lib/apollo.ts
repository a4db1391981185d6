/**
 * The one Apollo Client: HTTP with automatic persisted queries (SHA-256), graphql-ws for
 * subscriptions, the bearer token on both, and a single-flight token refresh when a request
 * comes back UNAUTHENTICATED.
 */
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, ServerError } from "@apollo/client";
import { ErrorLink } from "@apollo/client/link/error";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient, type Client } from "graphql-ws";
import { from, switchMap } from "rxjs";
import { sha256 } from "./sha256";
import { accessToken, clearTokens, refreshToken, saveTokens } from "./tokens";

const REFRESH = `mutation Refresh($token: String!) { refreshToken(token: $token) {
  __typename ... on SignInPayload { accessToken refreshToken } ... on AuthError { code message } } }`;

let refreshing: Promise<boolean> | null = null;

/** Trade the refresh token for new tokens once, however many requests failed at the same time. */
export function refreshTokens(): Promise<boolean> {
  if (refreshing) return refreshing;
  const token = refreshToken();
  if (!token) return Promise.resolve(false);
  refreshing = (async () => {
    try {
      const response = await fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query: REFRESH, variables: { token } }),
      });
      const body = await response.json();
      const result = body?.data?.refreshToken;
      if (result?.__typename === "SignInPayload") {
        saveTokens(result.accessToken, result.refreshToken);
        return true;
      }
      clearTokens();
      return false;
    } catch {
      return false;
    } finally {
      setTimeout(() => (refreshing = null), 0);
    }
  })();
  return refreshing;
}

function isUnauthenticated(error: unknown): boolean {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED");
  }
  return ServerError.is(error) && error.statusCode === 401;
}

function authorization(): Record<string, string> {
  const token = accessToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss:" : "ws:"}//${host}/graphql`;
}

let wsClient: Client | null = null;

export function makeClient(): ApolloClient {
  const auth = new ApolloLink((operation, forward) => {
    operation.setContext(({ headers = {} }: { headers?: Record<string, string> }) => ({
      headers: { ...headers, ...authorization() },
    }));
    return forward(operation);
  });

  const retryAfterRefresh = new ErrorLink(({ error, operation, forward }) => {
    if (!isUnauthenticated(error) || operation.getContext().refreshed) return;
    return from(refreshTokens()).pipe(
      switchMap((ok) => {
        operation.setContext({ refreshed: true });
        if (!ok) throw error;
        return forward(operation);
      }),
    );
  });

  const http = ApolloLink.from([
    new PersistedQueryLink({ sha256 }),
    // application/json: an unknown persisted-query hash is then HTTP 200 with the error, not a
    // 400 that every browser console would show in red on each first visit.
    new HttpLink({ uri: "/graphql", headers: { accept: "application/json" } }),
  ]);

  wsClient =
    typeof window === "undefined"
      ? null
      : createClient({
          url: wsUrl,
          lazy: true,
          retryAttempts: 5,
          shouldRetry: () => true,
          connectionParams: async () => {
            const token = accessToken();
            return token ? { authorization: `Bearer ${token}` } : {};
          },
          on: {
            closed: (event) => {
              const code = (event as CloseEvent | undefined)?.code;
              if (code === 4401 || code === 4403) void refreshTokens();
            },
          },
        });

  const transport = wsClient
    ? ApolloLink.split(
        ({ query }) => {
          const definition = getMainDefinition(query);
          return definition.kind === "OperationDefinition" && definition.operation === "subscription";
        },
        new GraphQLWsLink(wsClient),
        http,
      )
    : http;

  return new ApolloClient({
    link: ApolloLink.from([retryAfterRefresh, auth, transport]),
    cache: new InMemoryCache({
      typePolicies: {
        Query: {
          fields: {
            items: {
              keyArgs: [
                "libraryId",
                "parentId",
                "sort",
                "direction",
                "genre",
                "text",
                "yearFrom",
                "yearTo",
                "kinds",
                "includeExtras",
                "includeMissing",
              ],
              merge(existing, incoming, { args }) {
                if (!existing || !args?.after) return incoming;
                return {
                  ...incoming,
                  edges: [...existing.edges, ...incoming.edges],
                  nodes: [...existing.nodes, ...incoming.nodes],
                };
              },
            },
          },
        },
        UserData: { merge: true },
      },
    }),
  });
}

/** After sign-in or a profile switch the socket must reconnect with the new token. */
export function reconnectSubscriptions(): void {
  wsClient?.terminate();
}
