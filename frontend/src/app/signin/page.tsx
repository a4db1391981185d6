"use client";
import { useApolloClient, useMutation, useQuery } from "@apollo/client/react";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { MeQuery, SetupRequiredQuery } from "@/components/Gate";
import { graphql } from "@/gql";
import { reconnectSubscriptions } from "@/lib/apollo";
import { humanError } from "@/lib/format";
import { saveTokens } from "@/lib/tokens";

const SignIn = graphql(`
  mutation SignIn($name: String!, $password: String!, $secondFactor: String, $device: String, $client: String) {
    signIn(name: $name, password: $password, secondFactor: $secondFactor, device: $device, client: $client) {
      __typename
      ... on SignInPayload {
        accessToken
        refreshToken
      }
      ... on AuthError {
        code
        message
        field
      }
    }
  }
`);

export default function SignInPage() {
  const router = useRouter();
  const client = useApolloClient();
  const setup = useQuery(SetupRequiredQuery, { fetchPolicy: "network-only" });
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [needsCode, setNeedsCode] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [signIn, { loading }] = useMutation(SignIn);

  useEffect(() => {
    if (setup.data?.setupRequired) router.replace("/setup");
  }, [setup.data, router]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      const { data } = await signIn({
        variables: {
          name: name.trim(),
          password,
          secondFactor: needsCode ? code.replace(/\s+/g, "") : null,
          device: navigator.platform || "Browser",
          client: "Revenge Web",
        },
      });
      const result = data?.signIn;
      if (result?.__typename === "AuthError") {
        if (result.code === "SECOND_FACTOR_REQUIRED") {
          setNeedsCode(true);
          if (needsCode) setError(result.message);
          return;
        }
        // With a code entered the password was already accepted, so a refusal means the code.
        if (result.code === "INVALID_CREDENTIALS")
          return setError(needsCode ? "That code isn't right. Enter the current code from your authenticator app, or a recovery code." : "That name and password don't match.");
        return setError(result.message);
      }
      if (result?.__typename === "SignInPayload") {
        saveTokens(result.accessToken, result.refreshToken);
        reconnectSubscriptions();
        await client.clearStore();
        const me = await client.query({ query: MeQuery, fetchPolicy: "network-only" });
        router.replace((me.data?.me?.profiles.length ?? 0) > 1 ? "/profiles" : "/");
      }
    } catch (e) {
      setError(humanError(e));
    }
  }

  return (
    <main id="main" className="center-page">
      <div className="panel">
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">R</span>
          <span className="brand-name">Revenge</span>
        </div>
        <h1>{needsCode ? "Two-step verification" : "Sign in"}</h1>
        <form className="form" onSubmit={submit}>
          {!needsCode ? (
            <>
              <label className="field">
                <span>Name</span>
                <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="username" autoFocus />
              </label>
              <label className="field">
                <span>Password</span>
                <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="current-password" />
              </label>
            </>
          ) : (
            <label className="field">
              <span>Code from your authenticator app (or a recovery code)</span>
              <input
                value={code}
                onChange={(e) => setCode(e.target.value)}
                required
                autoComplete="one-time-code"
                inputMode="numeric"
                autoFocus
                className="input-code"
              />
            </label>
          )}
          {error && <p className="form-error" role="alert">{error}</p>}
          <button className="button button-primary" type="submit" disabled={loading}>
            {loading ? "Signing in…" : needsCode ? "Verify" : "Sign in"}
          </button>
          {needsCode && (
            <button type="button" className="button button-ghost" onClick={() => { setNeedsCode(false); setCode(""); setError(null); }}>
              Back
            </button>
          )}
        </form>
      </div>
    </main>
  );
}
