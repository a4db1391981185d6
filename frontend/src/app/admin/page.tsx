"use client";
import { useMutation, useQuery } from "@apollo/client/react";
import Link from "next/link";
import { useState, type FormEvent } from "react";
import { MeQuery } from "@/components/Gate";
import { LibraryForm, ScanLibrary } from "@/components/LibraryForm";
import { ScanProgress } from "@/components/ScanProgress";
import { Shell } from "@/components/Shell";
import { Empty, ErrorMessage, Loading } from "@/components/Status";
import { graphql } from "@/gql";
import { humanError, plural } from "@/lib/format";

const Admin = graphql(`
  query Admin {
    libraries {
      id
      name
      kind
      rootPaths
      itemCount
      lastScanAt
      latestScan {
        id
        status
        done
      }
    }
    users {
      id
      name
      roles
      isDisabled
      hasSecondFactor
    }
    apiKeys {
      id
      name
      prefix
      scopes
      createdAt
      lastUsedAt
      revokedAt
    }
  }
`);

const CreateKey = graphql(`
  mutation CreateApiKey($name: String!, $scopes: [String!]!) {
    createApiKey(name: $name, scopes: $scopes) {
      __typename
      ... on CreateApiKeyPayload {
        key
        apiKey {
          id
          name
          prefix
        }
      }
      ... on AuthError {
        code
        message
      }
    }
  }
`);

const RevokeKey = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      __typename
      ... on AuthError {
        message
      }
    }
  }
`);

function AdminScreen() {
  const me = useQuery(MeQuery);
  const { data, error, loading, refetch } = useQuery(Admin, { fetchPolicy: "cache-and-network" });
  const [scan] = useMutation(ScanLibrary);
  const [createKey] = useMutation(CreateKey);
  const [revokeKey] = useMutation(RevokeKey);
  const [scanning, setScanning] = useState<Set<string>>(new Set());
  const [adding, setAdding] = useState(false);
  const [keyName, setKeyName] = useState("");
  const [newKey, setNewKey] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  if (me.data && !me.data.me?.roles.includes("ADMIN")) return <Empty title="Administrators only" />;
  if (error && !data) return <ErrorMessage error={error} onRetry={() => void refetch()} />;
  if (loading && !data) return <Loading />;
  if (!data) return null;

  async function rescan(id: string, full: boolean) {
    setProblem(null);
    try {
      const result = await scan({ variables: { id, full } });
      if (result.data?.scanLibrary.__typename === "LibraryError") return setProblem(result.data.scanLibrary.message);
      setScanning((s) => new Set(s).add(id));
    } catch (e) {
      setProblem(humanError(e));
    }
  }

  async function addKey(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    try {
      const result = await createKey({ variables: { name: keyName.trim(), scopes: ["*"] } });
      const outcome = result.data?.createApiKey;
      if (outcome?.__typename === "AuthError") return setProblem(outcome.message);
      if (outcome?.__typename === "CreateApiKeyPayload") {
        setNewKey(outcome.key);
        setKeyName("");
        void refetch();
      }
    } catch (e) {
      setProblem(humanError(e));
    }
  }

  return (
    <div>
      <div className="row-head">
        <h1 className="page-title">Administration</h1>
        <Link className="button button-small" href="/admin/webhooks">
          Webhooks
        </Link>
      </div>
      {problem && <ErrorMessage error={problem} />}
      <div className="admin-grid">
        <section className="card-panel" aria-labelledby="admin-libraries">
          <div className="row-head">
            <h2 id="admin-libraries">Libraries</h2>
            <button className="button button-small" onClick={() => setAdding(!adding)} aria-expanded={adding}>
              {adding ? "Close" : "Add library"}
            </button>
          </div>
          {adding && (
            <LibraryForm
              onCreated={(id) => {
                setAdding(false);
                setScanning((s) => new Set(s).add(id));
                void refetch();
                void me.refetch();
              }}
            />
          )}
          <ul className="list">
            {data.libraries.map((library) => {
              const live = scanning.has(library.id) || (library.latestScan && !library.latestScan.done);
              return (
                <li key={library.id} style={{ flexWrap: "wrap" }}>
                  <div className="library-entry">
                    <strong>{library.name}</strong>
                    <span className="muted small">
                      {library.kind.toLowerCase()} · {plural(library.itemCount, "item")} · {(library.rootPaths ?? []).join(", ")}
                    </span>
                  </div>
                  <button className="button button-small" onClick={() => void rescan(library.id, false)} disabled={Boolean(live)}>
                    Scan
                  </button>
                  {live && <ScanProgress libraryId={library.id} onDone={() => void refetch()} />}
                </li>
              );
            })}
          </ul>
        </section>
        <section className="card-panel" aria-labelledby="admin-users">
          <h2 id="admin-users">Users</h2>
          <ul className="list">
            {data.users.map((user) => (
              <li key={user.id}>
                <div className="library-entry">
                  <strong>{user.name}</strong>
                  <span className="muted small">
                    {user.roles.map((r) => r.toLowerCase()).join(", ")}
                    {user.hasSecondFactor ? " · two-step on" : ""}
                    {user.isDisabled ? " · disabled" : ""}
                  </span>
                </div>
              </li>
            ))}
          </ul>
        </section>
        <section className="card-panel" aria-labelledby="admin-keys">
          <h2 id="admin-keys">API keys</h2>
          <form className="toolbar" onSubmit={addKey}>
            <input aria-label="New key name" placeholder="Key name, e.g. Home Assistant" value={keyName} onChange={(e) => setKeyName(e.target.value)} required />
            <button className="button button-small" type="submit">
              Create key
            </button>
          </form>
          {newKey && (
            <div className="notice">
              <strong>Copy this key now — it won&apos;t be shown again.</strong>
              <p className="secret">{newKey}</p>
            </div>
          )}
          <ul className="list">
            {data.apiKeys.map((key) => (
              <li key={key.id}>
                <div className="library-entry">
                  <strong>{key.name}</strong>
                  <span className="muted small">
                    {key.prefix}… · {key.revokedAt ? "revoked" : key.lastUsedAt ? `last used ${new Date(key.lastUsedAt).toLocaleDateString()}` : "never used"}
                  </span>
                </div>
                {!key.revokedAt && (
                  <button className="button button-small button-ghost" onClick={() => void revokeKey({ variables: { id: key.id } }).then(() => refetch())}>
                    Revoke
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>
      </div>
    </div>
  );
}

export default function AdminPage() {
  return (
    <Shell>
      <AdminScreen />
    </Shell>
  );
}
