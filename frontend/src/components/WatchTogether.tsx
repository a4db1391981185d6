"use client";
import { useMutation } from "@apollo/client/react";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { graphql } from "@/gql";
import { humanError } from "@/lib/format";

const CreateParty = graphql(`
  mutation CreateWatchParty($itemId: ID!, $control: PartyControl!) {
    createWatchParty(itemId: $itemId, control: $control) {
      id
      inviteCode
    }
  }
`);

/** Starts a watch party on this title and opens it; the invite code is shared from there. */
export function WatchTogether({ itemId }: { itemId: string }) {
  const router = useRouter();
  const [create, { loading }] = useMutation(CreateParty);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <>
      <button
        className="button"
        disabled={loading}
        onClick={async () => {
          setProblem(null);
          try {
            const { data } = await create({ variables: { itemId, control: "HOST" } });
            if (data) router.push(`/party?code=${encodeURIComponent(data.createWatchParty.inviteCode)}`);
          } catch (e) {
            setProblem(humanError(e));
          }
        }}
      >
        Watch together
      </button>
      {problem && <span className="muted small" role="alert">{problem}</span>}
    </>
  );
}
