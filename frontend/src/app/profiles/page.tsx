"use client";
import { useApolloClient, useMutation, useQuery } from "@apollo/client/react";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Gate, MeQuery } from "@/components/Gate";
import { ErrorMessage, Loading } from "@/components/Status";
import { graphql } from "@/gql";
import { reconnectSubscriptions } from "@/lib/apollo";
import { humanError } from "@/lib/format";
import { profileId, saveProfile, saveTokens } from "@/lib/tokens";

const SwitchProfile = graphql(`
  mutation SwitchProfile($profileId: ID!, $pin: String) {
    switchProfile(profileId: $profileId, pin: $pin) {
      __typename
      ... on SwitchProfilePayload {
        accessToken
        profile {
          id
          name
        }
      }
      ... on AuthError {
        code
        message
      }
    }
  }
`);

function Picker() {
  const router = useRouter();
  const client = useApolloClient();
  const { data, error, loading, refetch } = useQuery(MeQuery);
  const [switchProfile, { loading: switching }] = useMutation(SwitchProfile);
  const [pinFor, setPinFor] = useState<string | null>(null);
  const [pin, setPin] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  async function choose(id: string, withPin?: string) {
    setProblem(null);
    try {
      const { data: result } = await switchProfile({ variables: { profileId: id, pin: withPin ?? null } });
      const outcome = result?.switchProfile;
      if (outcome?.__typename === "AuthError") {
        if (outcome.code === "WRONG_PIN" && !withPin) return setPinFor(id);
        return setProblem(outcome.code === "WRONG_PIN" ? "That PIN isn't right." : outcome.message);
      }
      if (outcome?.__typename === "SwitchProfilePayload") {
        saveTokens(outcome.accessToken);
        saveProfile(outcome.profile.id);
        reconnectSubscriptions();
        // Not resetStore: it refetches this page's active queries, the refetch is aborted and
        // resetStore rejects (AbortError), so the navigation below never ran and the picker
        // stayed up. Clearing is enough: the next page fetches afresh with the new token.
        await client.clearStore();
        router.replace("/");
      }
    } catch (e) {
      setProblem(humanError(e));
    }
  }

  if (error) return <ErrorMessage error={error} onRetry={() => void refetch()} />;
  if (loading || !data?.me) return <Loading />;
  const current = profileId() ?? data.me.profiles[0]?.id;
  return (
    <div className="profiles">
      <h1>Who&apos;s watching?</h1>
      <ul className="profile-grid">
        {data.me.profiles.map((profile) => (
          <li key={profile.id}>
            <button
              className={`profile ${profile.id === current ? "is-current" : ""}`}
              onClick={() => (profile.hasPin ? setPinFor(profile.id) : void choose(profile.id))}
              disabled={switching}
              aria-label={`${profile.name}${profile.isKids ? ", kids" : ""}${profile.hasPin ? ", PIN protected" : ""}`}
            >
              <span className="profile-avatar" aria-hidden="true">{profile.name.slice(0, 1).toUpperCase()}</span>
              <span>{profile.name}</span>
              {profile.isKids && <span className="chip">Kids</span>}
            </button>
          </li>
        ))}
      </ul>
      {pinFor && (
        <form
          className="form pin-form"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            void choose(pinFor, pin);
          }}
        >
          <label className="field">
            <span>PIN</span>
            <input value={pin} onChange={(e) => setPin(e.target.value)} inputMode="numeric" autoComplete="off" type="password" autoFocus />
          </label>
          <button className="button button-primary" type="submit">
            Continue
          </button>
        </form>
      )}
      {problem && <p className="form-error" role="alert">{problem}</p>}
    </div>
  );
}

export default function ProfilesPage() {
  return (
    <main id="main" className="center-page">
      <Gate>
        <Picker />
      </Gate>
    </main>
  );
}
