"use client";
import { useQuery } from "@apollo/client/react";
import { useSearchParams } from "next/navigation";
import { PosterCard } from "@/components/Poster";
import { Shell } from "@/components/Shell";
import { Empty, ErrorMessage, Loading } from "@/components/Status";
import { graphql } from "@/gql";

const Search = graphql(`
  query Search($query: String!) {
    search(query: $query, first: 40) {
      ...CardFields
    }
  }
`);

function Results() {
  const query = (useSearchParams().get("q") ?? "").trim();
  const { data, error, loading, previousData } = useQuery(Search, { variables: { query }, skip: query.length < 2 });
  const results = (data ?? previousData)?.search;
  if (query.length < 2) return <Empty title="Search your libraries"><p className="muted">Type at least two letters.</p></Empty>;
  if (error) return <ErrorMessage error={error} />;
  return (
    <div>
      <h1 className="page-title">Results for “{query}”</h1>
      {!results && loading && <Loading />}
      {results && results.length === 0 && <Empty title="Nothing found"><p className="muted">Try a different spelling or fewer words.</p></Empty>}
      <ul className="grid">
        {results?.map((item) => (
          <li key={item.id}>
            <PosterCard item={item} shape={item.kind === "EPISODE" ? "wide" : item.kind === "ALBUM" || item.kind === "TRACK" ? "square" : "poster"} />
          </li>
        ))}
      </ul>
    </div>
  );
}

export default function SearchPage() {
  return (
    <Shell>
      <Results />
    </Shell>
  );
}
