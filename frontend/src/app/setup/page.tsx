"use client";
import { useMutation, useQuery } from "@apollo/client/react";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { SetupRequiredQuery } from "@/components/Gate";
import { LibraryForm } from "@/components/LibraryForm";
import { ScanProgress } from "@/components/ScanProgress";
import { ErrorMessage, Loading } from "@/components/Status";
import { graphql } from "@/gql";
import { reconnectSubscriptions } from "@/lib/apollo";
import { humanError } from "@/lib/format";
import { saveTokens } from "@/lib/tokens";

const Setup = graphql(`
  mutation Setup($name: String!, $password: String!) {
    setup(name: $name, password: $password) {
      __typename
      ... on SignInPayload {
        accessToken
        refreshToken
        user {
          id
          name
        }
      }
      ... on AuthError {
        code
        message
        field
      }
    }
  }
`);

type Step = "account" | "library" | "scan";
const STEPS: { key: Step; label: string }[] = [
  { key: "account", label: "Your account" },
  { key: "library", label: "Your first library" },
  { key: "scan", label: "Scanning" },
];

export default function SetupPage() {
  const router = useRouter();
  const required = useQuery(SetupRequiredQuery, { fetchPolicy: "network-only" });
  const [chosenStep, setStep] = useState<Step | null>(null);
  const step: Step | null = chosenStep ?? (required.data?.setupRequired ? "account" : null);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [library, setLibrary] = useState<{ id: string; name: string } | null>(null);
  const [scanDone, setScanDone] = useState(false);
  const [setup, { loading }] = useMutation(Setup);

  useEffect(() => {
    if (chosenStep === null && required.data?.setupRequired === false) router.replace("/signin");
  }, [required.data, chosenStep, router]);

  if (required.error) return <main id="main" className="center-page"><ErrorMessage error={required.error} title="Can't reach the server" onRetry={() => void required.refetch()} /></main>;
  if (step === null) return <main id="main" className="center-page"><Loading /></main>;

  async function createAdmin(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (password !== confirm) return setError("The passwords don't match.");
    try {
      const { data } = await setup({ variables: { name: name.trim(), password } });
      const result = data?.setup;
      if (result?.__typename === "AuthError") return setError(result.message);
      if (result?.__typename === "SignInPayload") {
        saveTokens(result.accessToken, result.refreshToken);
        reconnectSubscriptions();
        setStep("library");
      }
    } catch (e) {
      setError(humanError(e));
    }
  }

  const index = STEPS.findIndex((s) => s.key === step);
  return (
    <main id="main" className="center-page">
      <div className="panel panel-wide">
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">R</span>
          <span className="brand-name">Revenge</span>
        </div>
        <ol className="steps" aria-label="Setup steps">
          {STEPS.map((s, i) => (
            <li key={s.key} className={i < index ? "is-done" : i === index ? "is-current" : ""} aria-current={i === index ? "step" : undefined}>
              <span className="step-number">{i < index ? "✓" : i + 1}</span>
              {s.label}
            </li>
          ))}
        </ol>
        {step === "account" && (
          <>
            <h1>Welcome to Revenge</h1>
            <p className="muted">Create the administrator account. You can add family and friends later.</p>
            <form className="form" onSubmit={createAdmin}>
              <label className="field">
                <span>Name</span>
                <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="username" autoFocus />
              </label>
              <label className="field">
                <span>Password</span>
                <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" />
              </label>
              <label className="field">
                <span>Confirm password</span>
                <input type="password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required autoComplete="new-password" />
              </label>
              {error && <p className="form-error" role="alert">{error}</p>}
              <button className="button button-primary" type="submit" disabled={loading}>
                {loading ? "Creating…" : "Create account"}
              </button>
            </form>
          </>
        )}
        {step === "library" && (
          <>
            <h1>Add your first library</h1>
            <p className="muted">Point Revenge at a folder of movies, TV shows or music.</p>
            <LibraryForm
              onCreated={(id, libraryName) => {
                setLibrary({ id, name: libraryName });
                setStep("scan");
              }}
            />
            <button className="button button-ghost" onClick={() => router.replace("/")}>
              Skip for now
            </button>
          </>
        )}
        {step === "scan" && library && (
          <>
            <h1>Scanning {library.name}</h1>
            <p className="muted">Revenge is reading your files. This page updates live.</p>
            <ScanProgress libraryId={library.id} onDone={() => setScanDone(true)} />
            <button className="button button-primary" onClick={() => router.replace("/")} disabled={!scanDone} autoFocus={scanDone}>
              {scanDone ? "Start watching" : "Scanning…"}
            </button>
          </>
        )}
      </div>
    </main>
  );
}
