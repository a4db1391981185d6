"use client";
import { useMutation, useQuery } from "@apollo/client/react";
import Link from "next/link";
import { useState, type FormEvent } from "react";
import { MeQuery } from "@/components/Gate";
import { Shell } from "@/components/Shell";
import { Empty, ErrorMessage, Loading } from "@/components/Status";
import { graphql } from "@/gql";
import type { WebhookDeliveryFieldsFragment } from "@/gql/graphql";
import { humanError } from "@/lib/format";

const EVENT_TYPES = [
  "playback.started",
  "playback.paused",
  "playback.resumed",
  "playback.stopped",
  "playback.scrobble",
  "library.new_item",
  "transcode.complete",
  "transcode.failed",
  "user.created",
  "auth.signin_failed",
  "webhook.disabled",
];

graphql(`
  fragment WebhookFields on Webhook {
    id
    name
    url
    eventTypes
    isEnabled
    consecutiveFailures
    disabledReason
    previousSecretExpiresAt
  }
`);

graphql(`
  fragment WebhookDeliveryFields on WebhookDelivery {
    id
    eventType
    status
    isTest
    createdAt
    attemptCount
    attempts {
      attempt
      statusCode
      durationMs
      error
      responseSnippet
    }
  }
`);

const Webhooks = graphql(`
  query Webhooks {
    webhooks {
      ...WebhookFields
    }
  }
`);

const Deliveries = graphql(`
  query WebhookDeliveries($webhookId: ID!) {
    webhookDeliveries(webhookId: $webhookId, first: 20) {
      ...WebhookDeliveryFields
    }
  }
`);

const CreateWebhook = graphql(`
  mutation CreateWebhook($input: CreateWebhookInput!) {
    createWebhook(input: $input) {
      __typename
      ... on WebhookSecretPayload {
        secret
        webhook {
          ...WebhookFields
        }
      }
      ... on WebhookError {
        code
        field
        message
      }
    }
  }
`);

const UpdateWebhook = graphql(`
  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) {
      __typename
      ... on WebhookPayload {
        webhook {
          ...WebhookFields
        }
      }
      ... on WebhookError {
        message
      }
    }
  }
`);

const DeleteWebhook = graphql(`
  mutation DeleteWebhook($id: ID!) {
    deleteWebhook(id: $id) {
      __typename
      ... on WebhookError {
        message
      }
    }
  }
`);

const RotateSecret = graphql(`
  mutation RotateWebhookSecret($id: ID!) {
    rotateWebhookSecret(id: $id) {
      __typename
      ... on WebhookSecretPayload {
        secret
        webhook {
          ...WebhookFields
        }
      }
      ... on WebhookError {
        message
      }
    }
  }
`);

const TestWebhook = graphql(`
  mutation TestWebhook($id: ID!) {
    testWebhook(id: $id) {
      __typename
      ... on WebhookDeliveryPayload {
        delivery {
          ...WebhookDeliveryFields
        }
      }
      ... on WebhookError {
        message
      }
    }
  }
`);

function deliveryOutcome(delivery: WebhookDeliveryFieldsFragment): string {
  const last = delivery.attempts[delivery.attempts.length - 1];
  if (!last) return delivery.status.toLowerCase();
  const answer = last.statusCode ? `HTTP ${last.statusCode}` : last.error ?? "no answer";
  return `${delivery.status.toLowerCase()} · ${answer} · ${last.durationMs} ms`;
}

function DeliveryLog({ webhookId }: { webhookId: string }) {
  const { data, error, loading, refetch } = useQuery(Deliveries, { variables: { webhookId }, fetchPolicy: "network-only" });
  if (error) return <ErrorMessage error={error} onRetry={() => void refetch()} />;
  if (loading && !data) return <Loading label="Loading deliveries" />;
  const deliveries = data?.webhookDeliveries ?? [];
  if (deliveries.length === 0) return <p className="muted small">Nothing delivered yet.</p>;
  return (
    <ul className="list delivery-log" aria-label="Deliveries">
      {deliveries.map((delivery) => {
        const last = delivery.attempts[delivery.attempts.length - 1];
        return (
          <li key={delivery.id} style={{ flexWrap: "wrap" }}>
            <div className="library-entry">
              <strong>
                {delivery.eventType}
                {delivery.isTest ? " (test)" : ""}
              </strong>
              <span className="small">
                <span className={`status-${delivery.status}`}>{deliveryOutcome(delivery)}</span>
                <span className="muted">
                  {" "}
                  · {new Date(delivery.createdAt).toLocaleString()} · {delivery.attemptCount} attempt{delivery.attemptCount === 1 ? "" : "s"}
                </span>
              </span>
              {last?.responseSnippet && <pre>{last.responseSnippet}</pre>}
            </div>
          </li>
        );
      })}
    </ul>
  );
}

function WebhooksScreen() {
  const me = useQuery(MeQuery);
  const { data, error, loading, refetch } = useQuery(Webhooks, { fetchPolicy: "cache-and-network" });
  const [create, creating] = useMutation(CreateWebhook);
  const [update] = useMutation(UpdateWebhook);
  const [remove] = useMutation(DeleteWebhook);
  const [rotate] = useMutation(RotateSecret);
  const [test] = useMutation(TestWebhook);
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<Set<string>>(new Set(["playback.started", "playback.stopped", "library.new_item"]));
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [results, setResults] = useState<Record<string, WebhookDeliveryFieldsFragment>>({});
  const [testing, setTesting] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [logVersion, setLogVersion] = useState(0);

  if (me.data && !me.data.me?.roles.includes("ADMIN")) return <Empty title="Administrators only" />;
  if (error && !data) return <ErrorMessage error={error} onRetry={() => void refetch()} />;
  if (loading && !data) return <Loading />;
  if (!data) return null;

  async function run(action: () => Promise<string | null | undefined>) {
    setProblem(null);
    try {
      const message = await action();
      if (message) setProblem(message);
    } catch (e) {
      setProblem(humanError(e));
    }
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const result = await create({ variables: { input: { name: name.trim(), url: url.trim(), eventTypes: [...events] } } });
      const outcome = result.data?.createWebhook;
      if (outcome?.__typename === "WebhookError") return outcome.message;
      if (outcome?.__typename === "WebhookSecretPayload") {
        setSecret({ name: outcome.webhook.name, value: outcome.secret });
        setName("");
        setUrl("");
        await refetch();
      }
    });
  };

  return (
    <div>
      <p className="small">
        <Link href="/admin" className="muted">
          ← Administration
        </Link>
      </p>
      <h1 className="page-title">Webhooks</h1>
      <p className="muted">Revenge posts signed JSON to these addresses when something happens. Receivers check the signature with the webhook&apos;s secret.</p>
      {problem && <ErrorMessage error={problem} />}
      {secret && (
        <div className="notice" role="status">
          <strong>Copy the signing secret for {secret.name} now — it won&apos;t be shown again.</strong>
          <p className="secret" aria-label="Signing secret">{secret.value}</p>
          <button className="button button-small" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      )}
      <div className="admin-grid">
        <section className="card-panel" aria-labelledby="new-webhook">
          <h2 id="new-webhook">New webhook</h2>
          <form className="form" onSubmit={submit}>
            <label className="field">
              <span>Name</span>
              <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="e.g. Home Assistant" />
            </label>
            <label className="field">
              <span>URL</span>
              <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://example.com/hooks/revenge" />
            </label>
            <fieldset className="webhook-events">
              <legend className="muted small">Events</legend>
              {EVENT_TYPES.map((type) => (
                <label key={type}>
                  <input
                    type="checkbox"
                    checked={events.has(type)}
                    onChange={(e) => {
                      const next = new Set(events);
                      if (e.target.checked) next.add(type);
                      else next.delete(type);
                      setEvents(next);
                    }}
                  />
                  {type}
                </label>
              ))}
            </fieldset>
            <button className="button button-primary" type="submit" disabled={creating.loading || events.size === 0}>
              Create webhook
            </button>
          </form>
        </section>
        <section className="card-panel" aria-labelledby="webhook-list">
          <h2 id="webhook-list">Webhooks</h2>
          {data.webhooks.length === 0 && <p className="muted">No webhooks yet.</p>}
          <ul className="list" aria-label="Webhooks">
            {data.webhooks.map((hook) => {
              const result = results[hook.id];
              return (
                <li key={hook.id} style={{ flexWrap: "wrap" }}>
                  <div className="library-entry">
                    <strong>{hook.name}</strong>
                    <span className="muted small">
                      {hook.url} · {hook.eventTypes.length} event{hook.eventTypes.length === 1 ? "" : "s"} · {hook.isEnabled ? "on" : `off${hook.disabledReason ? ` (${hook.disabledReason})` : ""}`}
                      {hook.consecutiveFailures > 0 ? ` · ${hook.consecutiveFailures} failed in a row` : ""}
                    </span>
                    {result && (
                      <span className="small" role="status" aria-label={`Test result for ${hook.name}`}>
                        Test: <span className={`status-${result.status}`}>{deliveryOutcome(result)}</span>
                      </span>
                    )}
                  </div>
                  <div className="toolbar">
                    <button
                      className="button button-small"
                      disabled={testing === hook.id}
                      onClick={() =>
                        void run(async () => {
                          setTesting(hook.id);
                          try {
                            const outcome = (await test({ variables: { id: hook.id } })).data?.testWebhook;
                            if (outcome?.__typename === "WebhookError") return outcome.message;
                            if (outcome?.__typename === "WebhookDeliveryPayload") setResults((r) => ({ ...r, [hook.id]: outcome.delivery }));
                            setLogVersion((v) => v + 1);
                          } finally {
                            setTesting(null);
                          }
                        })
                      }
                    >
                      {testing === hook.id ? "Testing…" : "Send test"}
                    </button>
                    <button className="button button-small" onClick={() => setOpen(open === hook.id ? null : hook.id)} aria-expanded={open === hook.id}>
                      Deliveries
                    </button>
                    <button
                      className="button button-small button-ghost"
                      onClick={() =>
                        void run(async () => {
                          const outcome = (await update({ variables: { id: hook.id, input: { isEnabled: !hook.isEnabled } } })).data?.updateWebhook;
                          return outcome?.__typename === "WebhookError" ? outcome.message : null;
                        })
                      }
                    >
                      {hook.isEnabled ? "Turn off" : "Turn on"}
                    </button>
                    <button
                      className="button button-small button-ghost"
                      onClick={() =>
                        void run(async () => {
                          const outcome = (await rotate({ variables: { id: hook.id } })).data?.rotateWebhookSecret;
                          if (outcome?.__typename === "WebhookError") return outcome.message;
                          if (outcome?.__typename === "WebhookSecretPayload") setSecret({ name: hook.name, value: outcome.secret });
                        })
                      }
                    >
                      New secret
                    </button>
                    <button
                      className="button button-small button-ghost"
                      onClick={() =>
                        window.confirm(`Delete the webhook ${hook.name}?`) &&
                        void run(async () => {
                          const outcome = (await remove({ variables: { id: hook.id } })).data?.deleteWebhook;
                          if (outcome?.__typename === "WebhookError") return outcome.message;
                          await refetch();
                        })
                      }
                    >
                      Delete
                    </button>
                  </div>
                  {open === hook.id && (
                    <div style={{ flexBasis: "100%" }}>
                      <DeliveryLog key={logVersion} webhookId={hook.id} />
                    </div>
                  )}
                </li>
              );
            })}
          </ul>
        </section>
      </div>
    </div>
  );
}

export default function WebhooksPage() {
  return (
    <Shell>
      <WebhooksScreen />
    </Shell>
  );
}
