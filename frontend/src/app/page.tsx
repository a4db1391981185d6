"use client";
import { useQuery } from "@apollo/client/react";
import Link from "next/link";
import { MeQuery } from "@/components/Gate";
import { Row } from "@/components/Row";
import { Shell } from "@/components/Shell";
import { Empty, ErrorMessage, Loading } from "@/components/Status";
import { graphql } from "@/gql";
import type { LibraryKind, MediaKind } from "@/gql/graphql";

const Home = graphql(`
  query Home {
    continueWatching(first: 20) {
      ...CardFields
    }
    nextUp(first: 20) {
      ...CardFields
    }
  }
`);

const Recent = graphql(`
  query RecentlyAdded($libraryId: ID!, $kinds: [MediaKind!]) {
    items(libraryId: $libraryId, kinds: $kinds, sort: DATE_ADDED, direction: DESC, first: 16) {
      nodes {
        ...CardFields
      }
    }
  }
`);

const TOP_KINDS: Record<LibraryKind, MediaKind[]> = {
  MOVIES: ["MOVIE"],
  TV: ["SERIES"],
  MUSIC: ["ALBUM"],
};

function RecentRow({ library }: { library: { id: string; name: string; kind: LibraryKind } }) {
  const { data, error } = useQuery(Recent, { variables: { libraryId: library.id, kinds: TOP_KINDS[library.kind] } });
  if (error) return <ErrorMessage error={error} title={`Couldn't load ${library.name}`} />;
  return (
    <Row
      title={`Recently added in ${library.name}`}
      items={data?.items.nodes ?? []}
      shape={library.kind === "MUSIC" ? "square" : "poster"}
      more={{ href: `/library?id=${library.id}`, label: "See all" }}
    />
  );
}

function HomeScreen() {
  const me = useQuery(MeQuery);
  const home = useQuery(Home, { fetchPolicy: "cache-and-network" });
  if (me.error) return <ErrorMessage error={me.error} onRetry={() => void me.refetch()} />;
  if (!me.data) return <Loading />;
  const libraries = me.data.libraries;
  if (libraries.length === 0) {
    return (
      <Empty title="No libraries yet">
        <p className="muted">Add a folder of movies, shows or music to get started.</p>
        {me.data.me?.roles.includes("ADMIN") && (
          <Link className="button button-primary" href="/admin">
            Add a library
          </Link>
        )}
      </Empty>
    );
  }
  return (
    <div className="home">
      {home.error && <ErrorMessage error={home.error} title="Couldn't load what you were watching" />}
      <Row title="Continue watching" items={home.data?.continueWatching ?? []} shape="wide" />
      <Row title="Next up" items={home.data?.nextUp ?? []} shape="wide" />
      {libraries.map((library) => (
        <RecentRow key={library.id} library={library} />
      ))}
    </div>
  );
}

export default function HomePage() {
  return (
    <Shell>
      <HomeScreen />
    </Shell>
  );
}
