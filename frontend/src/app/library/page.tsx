"use client";
import { useQuery } from "@apollo/client/react";
import { useSearchParams } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { PosterCard } from "@/components/Poster";
import { Shell } from "@/components/Shell";
import { Empty, ErrorMessage, Loading } from "@/components/Status";
import { graphql } from "@/gql";
import type { ItemSort, LibraryKind, MediaKind, SortDirection } from "@/gql/graphql";
import { plural } from "@/lib/format";

const LibraryHead = graphql(`
  query LibraryHead($id: ID!) {
    library(id: $id) {
      id
      name
      kind
      itemCount
    }
    genres(libraryId: $id) {
      id
      name
    }
  }
`);

const LibraryItems = graphql(`
  query LibraryItems(
    $libraryId: ID!
    $kinds: [MediaKind!]
    $sort: ItemSort!
    $direction: SortDirection!
    $genre: String
    $text: String
    $yearFrom: Int
    $yearTo: Int
    $after: String
  ) {
    items(
      libraryId: $libraryId
      kinds: $kinds
      sort: $sort
      direction: $direction
      genre: $genre
      text: $text
      yearFrom: $yearFrom
      yearTo: $yearTo
      after: $after
      first: 40
    ) {
      totalCount
      nodes {
        ...CardFields
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const KINDS: Record<LibraryKind, MediaKind[]> = { MOVIES: ["MOVIE"], TV: ["SERIES"], MUSIC: ["ALBUM"] };
const SORTS: { value: ItemSort; label: string; direction: SortDirection }[] = [
  { value: "TITLE", label: "Title", direction: "ASC" },
  { value: "DATE_ADDED", label: "Date added", direction: "DESC" },
  { value: "YEAR", label: "Year", direction: "DESC" },
  { value: "PREMIERE_DATE", label: "Release date", direction: "DESC" },
  { value: "RANDOM", label: "Shuffle", direction: "ASC" },
];

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

function Library({ id }: { id: string }) {
  const head = useQuery(LibraryHead, { variables: { id } });
  const [text, setText] = useState("");
  const [sort, setSort] = useState<ItemSort>("TITLE");
  const [direction, setDirection] = useState<SortDirection>("ASC");
  const [genre, setGenre] = useState("");
  const [decade, setDecade] = useState("");
  const search = useDebounced(text.trim(), 250);
  const library = head.data?.library;
  const yearFrom = decade ? Number(decade) : null;
  const items = useQuery(LibraryItems, {
    skip: !library,
    variables: {
      libraryId: id,
      kinds: library ? KINDS[library.kind] : null,
      sort,
      direction,
      genre: genre || null,
      text: search || null,
      yearFrom,
      yearTo: yearFrom ? yearFrom + 9 : null,
    },
    notifyOnNetworkStatusChange: true,
  });
  const sentinel = useRef<HTMLDivElement>(null);
  const page = items.data?.items;
  const { fetchMore } = items;
  const loadingMore = useRef(false);

  useEffect(() => {
    const node = sentinel.current;
    if (!node || !page?.pageInfo.hasNextPage) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (!entries.some((entry) => entry.isIntersecting) || loadingMore.current) return;
        loadingMore.current = true;
        void fetchMore({ variables: { after: page.pageInfo.endCursor } }).finally(() => {
          loadingMore.current = false;
        });
      },
      { rootMargin: "800px" },
    );
    observer.observe(node);
    return () => observer.disconnect();
  }, [page?.pageInfo.hasNextPage, page?.pageInfo.endCursor, fetchMore]);

  if (head.error) return <ErrorMessage error={head.error} onRetry={() => void head.refetch()} />;
  if (head.loading) return <Loading />;
  if (!library) return <Empty title="Library not found"><p className="muted">It may have been removed, or you may not have access.</p></Empty>;

  const decades = ["2020", "2010", "2000", "1990", "1980", "1970", "1960", "1950"];
  return (
    <div className="library">
      <div className="page-head">
        <div>
          <h1>{library.name}</h1>
          <p className="muted">{page ? plural(page.totalCount, library.kind === "MUSIC" ? "album" : library.kind === "TV" ? "show" : "movie") : " "}</p>
        </div>
        <div className="toolbar" role="group" aria-label="Sort and filter">
          <input
            type="search"
            className="toolbar-search"
            aria-label={`Search ${library.name}`}
            placeholder={`Search ${library.name}`}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          <select
            aria-label="Sort by"
            value={sort}
            onChange={(e) => {
              const choice = SORTS.find((s) => s.value === e.target.value)!;
              setSort(choice.value);
              setDirection(choice.direction);
            }}
          >
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
          <button
            className="button button-small"
            onClick={() => setDirection(direction === "ASC" ? "DESC" : "ASC")}
            aria-label={direction === "ASC" ? "Ascending, switch to descending" : "Descending, switch to ascending"}
            disabled={sort === "RANDOM"}
          >
            {direction === "ASC" ? "↑" : "↓"}
          </button>
          {(head.data?.genres.length ?? 0) > 0 && (
            <select aria-label="Genre" value={genre} onChange={(e) => setGenre(e.target.value)}>
              <option value="">All genres</option>
              {head.data!.genres.map((g) => (
                <option key={g.id} value={g.name}>
                  {g.name}
                </option>
              ))}
            </select>
          )}
          <select aria-label="Decade" value={decade} onChange={(e) => setDecade(e.target.value)}>
            <option value="">Any year</option>
            {decades.map((d) => (
              <option key={d} value={d}>
                {d}s
              </option>
            ))}
          </select>
        </div>
      </div>
      {items.error && <ErrorMessage error={items.error} onRetry={() => void items.refetch()} />}
      {page && page.nodes.length === 0 && (
        <Empty title={search || genre || decade ? "Nothing matches" : "This library is empty"}>
          <p className="muted">{search || genre || decade ? "Try another search or fewer filters." : "Add files to its folder and scan it from Admin."}</p>
        </Empty>
      )}
      <ul className={`grid ${library.kind === "MUSIC" ? "grid-square" : ""}`} aria-busy={items.loading}>
        {page?.nodes.map((item) => (
          <li key={item.id}>
            <PosterCard item={item} shape={library.kind === "MUSIC" ? "square" : "poster"} />
          </li>
        ))}
      </ul>
      {!page && items.loading && <Loading />}
      <div ref={sentinel} className="sentinel" aria-hidden="true" />
      {page?.pageInfo.hasNextPage && <Loading label="Loading more" />}
    </div>
  );
}

function LibraryRoute() {
  const id = useSearchParams().get("id");
  if (!id) return <Empty title="No library chosen" />;
  return <Library key={id} id={id} />;
}

export default function LibraryPage() {
  return (
    <Shell>
      <LibraryRoute />
    </Shell>
  );
}
