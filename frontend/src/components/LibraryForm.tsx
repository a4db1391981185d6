"use client";
import { useMutation } from "@apollo/client/react";
import { useState, type FormEvent } from "react";
import { graphql } from "@/gql";
import type { LibraryKind } from "@/gql/graphql";
import { humanError } from "@/lib/format";

export const CreateLibrary = graphql(`
  mutation CreateLibrary($input: CreateLibraryInput!) {
    createLibrary(input: $input) {
      __typename
      ... on CreateLibraryPayload {
        library {
          id
          name
          kind
          rootPaths
          itemCount
        }
      }
      ... on LibraryError {
        code
        message
        field
      }
    }
  }
`);

export const ScanLibrary = graphql(`
  mutation ScanLibrary($id: ID!, $full: Boolean! = false) {
    scanLibrary(id: $id, full: $full) {
      __typename
      ... on ScanLibraryPayload {
        scan {
          id
          status
          done
        }
      }
      ... on LibraryError {
        code
        message
      }
    }
  }
`);

export function LibraryForm({ onCreated, submitLabel = "Add library" }: { onCreated: (id: string, name: string) => void; submitLabel?: string }) {
  const [name, setName] = useState("Movies");
  const [kind, setKind] = useState<LibraryKind>("MOVIES");
  const [path, setPath] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [createLibrary, { loading }] = useMutation(CreateLibrary);
  const [scanLibrary] = useMutation(ScanLibrary);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      const { data } = await createLibrary({
        variables: { input: { name: name.trim(), kind, rootPaths: [path.trim()] } },
      });
      const result = data?.createLibrary;
      if (result?.__typename === "LibraryError") return setError(result.message);
      if (result?.__typename !== "CreateLibraryPayload") return setError("The library was not created.");
      const library = result.library;
      const scan = await scanLibrary({ variables: { id: library.id } }).catch(() => null);
      if (scan?.data?.scanLibrary.__typename === "LibraryError") setError(scan.data.scanLibrary.message);
      onCreated(library.id, library.name);
    } catch (e) {
      setError(humanError(e));
    }
  }
  return (
    <form className="form" onSubmit={submit}>
      <label className="field">
        <span>Name</span>
        <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
      </label>
      <label className="field">
        <span>Kind</span>
        <select
          value={kind}
          onChange={(e) => {
            const next = e.target.value as LibraryKind;
            setKind(next);
            if (["Movies", "TV Shows", "Music"].includes(name)) setName({ MOVIES: "Movies", TV: "TV Shows", MUSIC: "Music" }[next]);
          }}
        >
          <option value="MOVIES">Movies</option>
          <option value="TV">TV shows</option>
          <option value="MUSIC">Music</option>
        </select>
      </label>
      <label className="field">
        <span>Folder on the server</span>
        <input
          value={path}
          onChange={(e) => setPath(e.target.value)}
          placeholder="/srv/media/movies"
          required
          autoComplete="off"
          spellCheck={false}
        />
        <small className="muted">The full path of a folder the server can read.</small>
      </label>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <button className="button button-primary" type="submit" disabled={loading}>
        {loading ? "Adding…" : submitLabel}
      </button>
    </form>
  );
}

