"use client";
import { useApolloClient, useMutation, useQuery } from "@apollo/client/react";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState, type ReactNode } from "react";
import { graphql } from "@/gql";
import { clearTokens, profileId } from "@/lib/tokens";
import { Gate, MeQuery } from "./Gate";
import { ErrorMessage } from "./Status";

const SignOut = graphql(`
  mutation SignOut {
    signOut {
      __typename
    }
  }
`);

function SearchBox() {
  const router = useRouter();
  const params = useSearchParams();
  const pathname = usePathname();
  const [text, setText] = useState(pathname === "/search" ? params.get("q") ?? "" : "");
  return (
    <form
      role="search"
      className="topbar-search"
      onSubmit={(event) => {
        event.preventDefault();
        if (text.trim()) router.push(`/search?q=${encodeURIComponent(text.trim())}`);
      }}
    >
      <input
        type="search"
        aria-label="Search everything"
        placeholder="Search"
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          if (event.target.value.trim().length >= 2)
            router.replace(`/search?q=${encodeURIComponent(event.target.value.trim())}`);
        }}
      />
    </form>
  );
}

function TopBar() {
  const { data } = useQuery(MeQuery);
  const pathname = usePathname();
  const params = useSearchParams();
  const client = useApolloClient();
  const router = useRouter();
  const [signOut] = useMutation(SignOut);
  const me = data?.me;
  const currentProfile = me?.profiles.find((p) => p.id === profileId()) ?? me?.profiles[0];
  const isAdmin = me?.roles.includes("ADMIN");
  const current = (href: string) => {
    const [path, query] = href.split("?");
    if (path !== pathname) return undefined;
    if (!query) return "page" as const;
    return params.get("id") === new URLSearchParams(query).get("id") ? ("page" as const) : undefined;
  };
  return (
    <header className="topbar">
      <Link href="/" className="brand" aria-label="Revenge home">
        <span className="brand-mark" aria-hidden="true">R</span>
        <span className="brand-name">Revenge</span>
      </Link>
      <nav aria-label="Main" className="topbar-nav">
        <Link href="/" aria-current={current("/")}>
          Home
        </Link>
        {data?.libraries.map((library) => (
          <Link key={library.id} href={`/library?id=${library.id}`} aria-current={current(`/library?id=${library.id}`)}>
            {library.name}
          </Link>
        ))}
        {isAdmin && (
          <Link href="/admin" aria-current={current("/admin")}>
            Admin
          </Link>
        )}
      </nav>
      <Suspense>
        <SearchBox />
      </Suspense>
      {me && (
        <div className="topbar-user">
          <Link href="/profiles" className="avatar" aria-label={`Profile: ${currentProfile?.name ?? me.name}. Switch profile`}>
            {(currentProfile?.name ?? me.name).slice(0, 1).toUpperCase()}
          </Link>
          <button
            className="button button-ghost button-small"
            onClick={async () => {
              try {
                await signOut();
              } catch {
                /* signing out locally is enough */
              }
              clearTokens();
              await client.clearStore();
              router.replace("/signin");
            }}
          >
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}

/** The signed-in frame: top bar and content, behind the gate. */
export function Shell({ children }: { children: ReactNode }) {
  return (
    <Gate>
      <Suspense>
        <TopBar />
      </Suspense>
      <main id="main" className="page">
        <Suspense>{children}</Suspense>
      </main>
    </Gate>
  );
}

export { ErrorMessage };
