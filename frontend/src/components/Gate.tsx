"use client";
import { useQuery } from "@apollo/client/react";
import { useRouter } from "next/navigation";
import { useEffect, useSyncExternalStore, type ReactNode } from "react";
import { graphql } from "@/gql";
import { accessToken, onTokensChange } from "@/lib/tokens";
import { ErrorMessage, Loading } from "./Status";

export const SetupRequiredQuery = graphql(`
  query SetupRequired {
    setupRequired
  }
`);

export const MeQuery = graphql(`
  query Me {
    me {
      id
      name
      roles
      hasSecondFactor
      profiles {
        id
        name
        avatarUrl
        hasPin
        isKids
      }
    }
    libraries {
      id
      name
      kind
      itemCount
    }
  }
`);

/** Whether a token is stored, re-read whenever tokens change. */
export function useSignedIn(): boolean {
  return useSyncExternalStore(
    onTokensChange,
    () => accessToken() !== null,
    () => false,
  );
}

/** Sends the visitor to setup or sign-in when they need it; renders children once signed in. */
export function Gate({ children }: { children: ReactNode }) {
  const router = useRouter();
  const signedIn = useSignedIn();
  const setup = useQuery(SetupRequiredQuery, { fetchPolicy: "network-only" });
  const needsSetup = setup.data?.setupRequired === true;
  useEffect(() => {
    if (needsSetup) router.replace("/setup");
    else if (setup.data && !signedIn) router.replace("/signin");
  }, [needsSetup, setup.data, signedIn, router]);
  if (setup.error) return <ErrorMessage error={setup.error} title="Can't reach the server" onRetry={() => void setup.refetch()} />;
  if (!setup.data || needsSetup || !signedIn) return <Loading />;
  return <>{children}</>;
}
