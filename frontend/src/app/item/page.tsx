"use client";
import { useMutation, useQuery } from "@apollo/client/react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useState } from "react";
import { BlurhashCanvas } from "@/components/Blurhash";
import { Artwork, pickImage, PosterCard } from "@/components/Poster";
import { Shell } from "@/components/Shell";
import { Empty, ErrorMessage, Loading } from "@/components/Status";
import { WatchTogether } from "@/components/WatchTogether";
import { graphql } from "@/gql";
import { formatClock, formatRuntime } from "@/lib/format";
import { episodeLabel, playableTracks } from "@/lib/upNext";

const Item = graphql(`
  query Item($id: ID!) {
    item(id: $id) {
      id
      kind
      title
      originalTitle
      year
      overview
      runtimeMs
      officialRating
      seasonNumber
      episodeNumber
      trackNumber
      albumArtist
      genres {
        id
        name
      }
      images {
        id
        type
        url
        blurhash
      }
      userData {
        isPlayed
        isFavorite
        positionMs
        playCount
      }
      series {
        id
        title
      }
      season {
        id
        title
        seasonNumber
      }
      people {
        role
        character
        person {
          id
          name
        }
      }
      files {
        id
        durationMs
        container
        isMissing
      }
      children(first: 200) {
        totalCount
        nodes {
          ...CardFields
          overview
          trackNumber
          discNumber
          isMissing
        }
      }
    }
  }
`);

const SeriesResume = graphql(`
  query SeriesResume($id: ID!) {
    resume(seriesId: $id) {
      fileId
      positionMs
      item {
        id
        title
        seasonNumber
        episodeNumber
        episodeNumberEnd
      }
    }
  }
`);

const Children = graphql(`
  query Episodes($id: ID!) {
    item(id: $id) {
      id
      children(first: 200) {
        nodes {
          ...CardFields
          overview
        }
      }
    }
  }
`);

const MarkPlayed = graphql(`
  mutation MarkPlayed($id: ID!) {
    markPlayed(itemId: $id) {
      id
      userData {
        isPlayed
        positionMs
        playCount
      }
    }
  }
`);

const MarkUnplayed = graphql(`
  mutation MarkUnplayed($id: ID!) {
    markUnplayed(itemId: $id) {
      id
      userData {
        isPlayed
        positionMs
        playCount
      }
    }
  }
`);

const Favorite = graphql(`
  mutation SetFavorite($id: ID!, $favorite: Boolean!) {
    setFavorite(itemId: $id, favorite: $favorite) {
      id
      userData {
        isFavorite
      }
    }
  }
`);

const PLAYABLE = new Set(["MOVIE", "EPISODE", "VIDEO", "TRACK", "PODCAST_EPISODE", "AUDIOBOOK"]);

type Episode = {
  id: string;
  title: string;
  episodeNumber: number | null;
  runtimeMs: number | null;
  overview: string | null;
  images: readonly { type: string; url: string; blurhash: string | null }[];
  userData: { isPlayed: boolean; positionMs: number } | null;
};

function EpisodeList({ episodes }: { episodes: readonly Episode[] }) {
  return (
    <ol className="episodes">
      {episodes.map((episode) => {
        const progress = episode.userData && episode.runtimeMs ? (episode.userData.positionMs / episode.runtimeMs) * 100 : 0;
        return (
          <li key={episode.id}>
            <Link href={`/item?id=${episode.id}`} className="episode" aria-label={`Episode ${episode.episodeNumber ?? ""}: ${episode.title}${episode.userData?.isPlayed ? ", played" : ""}`}>
              <div className="episode-art">
                <Artwork image={pickImage(episode.images, "THUMB", "BACKDROP", "POSTER")} title={episode.title} shape="wide" />
                {progress > 0 && <span className="card-progress"><span style={{ width: `${progress}%` }} /></span>}
              </div>
              <div className="episode-text">
                <strong>
                  {episode.episodeNumber != null && <span className="muted">{episode.episodeNumber}. </span>}
                  {episode.title}
                </strong>
                <span className="muted small">{formatRuntime(episode.runtimeMs)}</span>
                {episode.overview && <p className="clamp-2 muted">{episode.overview}</p>}
              </div>
              {episode.userData?.isPlayed && <span className="badge-played static" aria-hidden="true">✓</span>}
            </Link>
          </li>
        );
      })}
    </ol>
  );
}

function Season({ id }: { id: string }) {
  const { data, error, loading } = useQuery(Children, { variables: { id } });
  if (error) return <ErrorMessage error={error} />;
  if (loading || !data?.item) return <Loading />;
  return <EpisodeList episodes={data.item.children.nodes} />;
}

/** "▶ Play S01E01 · Arrival" or "▶ Resume S01E02 · The Storm": where the series goes on (``resume``), once it is known. */
function PlaySeries({ seriesId }: { seriesId: string }) {
  const { data } = useQuery(SeriesResume, { variables: { id: seriesId }, fetchPolicy: "cache-and-network" });
  const point = data?.resume;
  if (!point?.fileId) return null;
  const label = episodeLabel(point.item);
  return (
    <Link className="button button-primary button-large" href={`/play?id=${point.item.id}`} autoFocus aria-label={`${point.positionMs > 0 ? "Resume" : "Play"} ${label}`}>
      ▶ {point.positionMs > 0 ? "Resume" : "Play"} {label}
    </Link>
  );
}

function Details({ id }: { id: string }) {
  const { data, error, loading, refetch } = useQuery(Item, { variables: { id }, fetchPolicy: "cache-and-network" });
  const [markPlayed] = useMutation(MarkPlayed);
  const [markUnplayed] = useMutation(MarkUnplayed);
  const [setFavorite] = useMutation(Favorite);
  const [seasonId, setSeasonId] = useState<string | null>(null);
  if (error && !data) return <ErrorMessage error={error} onRetry={() => void refetch()} />;
  if (loading && !data) return <Loading />;
  const item = data?.item;
  if (!item) return <Empty title="Not found"><p className="muted">This title doesn&apos;t exist or isn&apos;t available to this profile.</p></Empty>;

  const backdrop = pickImage(item.images, "BACKDROP", "THUMB");
  const poster = pickImage(item.images, "POSTER", "THUMB");
  const runtime = item.runtimeMs ?? item.files[0]?.durationMs ?? null;
  const position = item.userData?.positionMs ?? 0;
  const playable = PLAYABLE.has(item.kind) && item.files.some((f) => !f.isMissing);
  const seasons = item.kind === "SERIES" ? item.children.nodes : [];
  const firstTrack = item.kind === "ALBUM" ? (playableTracks(item.children.nodes)[0] ?? null) : null;
  const activeSeason = seasonId ?? seasons.find((s) => !s.userData?.isPlayed)?.id ?? seasons[0]?.id ?? null;
  const meta = [
    item.year,
    formatRuntime(runtime),
    item.officialRating,
    item.kind === "EPISODE" && item.seasonNumber != null ? `Season ${item.seasonNumber}, episode ${item.episodeNumber ?? "?"}` : null,
  ].filter(Boolean);
  const cast = item.people.filter((p) => p.role.toLowerCase() === "actor").slice(0, 12);
  return (
    <article className="details">
      <div className="hero" aria-hidden="true">
        {backdrop?.blurhash && <BlurhashCanvas hash={backdrop.blurhash} className="hero-blur" />}
        {/* eslint-disable-next-line @next/next/no-img-element */}
        {backdrop && <img src={backdrop.url} alt="" className="hero-img" />}
        <div className="hero-shade" />
      </div>
      <div className="details-body">
        <div className={`details-poster ${item.kind === "ALBUM" || item.kind === "TRACK" ? "is-square" : ""}`}>
          <Artwork image={poster} title={item.title} shape={item.kind === "ALBUM" || item.kind === "TRACK" ? "square" : item.kind === "EPISODE" ? "wide" : "poster"} />
        </div>
        <div className="details-text">
          {item.series && (
            <Link className="eyebrow" href={`/item?id=${item.series.id}`}>
              {item.series.title}
            </Link>
          )}
          {item.albumArtist && <p className="eyebrow">{item.albumArtist}</p>}
          <h1>{item.title}</h1>
          {meta.length > 0 && <p className="meta">{meta.join(" · ")}</p>}
          {item.genres.length > 0 && (
            <ul className="chips" aria-label="Genres">
              {item.genres.map((g) => (
                <li key={g.id} className="chip">{g.name}</li>
              ))}
            </ul>
          )}
          {position > 0 && runtime ? (
            <div className="resume-info">
              <span className="progress progress-thin" aria-hidden="true"><span style={{ width: `${Math.min(100, (position / runtime) * 100)}%` }} /></span>
              <span className="muted small">{formatClock(position)} of {formatClock(runtime)} watched</span>
            </div>
          ) : null}
          <div className="actions">
            {playable && (
              <Link className="button button-primary button-large" href={`/play?id=${item.id}`} autoFocus>
                ▶ Play
              </Link>
            )}
            {item.kind === "SERIES" && <PlaySeries seriesId={item.id} />}
            {firstTrack && (
              <Link className="button button-primary button-large" href={`/play?id=${firstTrack.id}`} autoFocus>
                ▶ Play album
              </Link>
            )}
            {playable && item.kind !== "ALBUM" && <WatchTogether itemId={item.id} />}
            {item.kind !== "ALBUM" && (
              <button
                className="button"
                aria-pressed={item.userData?.isPlayed ?? false}
                onClick={() => void (item.userData?.isPlayed ? markUnplayed : markPlayed)({ variables: { id: item.id } })}
              >
                {item.userData?.isPlayed ? "✓ Played" : "Mark played"}
              </button>
            )}
            <button
              className="button"
              aria-pressed={item.userData?.isFavorite ?? false}
              onClick={() => void setFavorite({ variables: { id: item.id, favorite: !item.userData?.isFavorite } })}
            >
              {item.userData?.isFavorite ? "♥ Favorite" : "♡ Favorite"}
            </button>
          </div>
          {item.overview && <p className="overview">{item.overview}</p>}
          {cast.length > 0 && (
            <p className="muted small">
              <strong>Starring</strong> {cast.map((p) => p.person.name).join(", ")}
            </p>
          )}
        </div>
      </div>

      {item.kind === "SERIES" && seasons.length > 0 && (
        <section className="section" aria-label="Seasons">
          <div className="tabs" role="tablist" aria-label="Seasons">
            {seasons.map((season) => (
              <button
                key={season.id}
                role="tab"
                aria-selected={season.id === activeSeason}
                className={`tab ${season.id === activeSeason ? "is-active" : ""}`}
                onClick={() => setSeasonId(season.id)}
              >
                {season.title}
                {season.userData?.isPlayed && " ✓"}
              </button>
            ))}
          </div>
          {activeSeason && <Season key={activeSeason} id={activeSeason} />}
        </section>
      )}
      {item.kind === "SEASON" && (
        <section className="section" aria-label="Episodes">
          <h2>Episodes</h2>
          <EpisodeList episodes={item.children.nodes} />
        </section>
      )}
      {item.kind === "ALBUM" && (
        <section className="section" aria-label="Tracks">
          <h2>Tracks</h2>
          <ol className="tracks">
            {item.children.nodes.map((track) => (
              <li key={track.id}>
                <Link href={`/play?id=${track.id}`} className="track" aria-label={`Play ${track.title}`}>
                  <span className="track-number muted">{track.trackNumber ?? "·"}</span>
                  <span className="track-title">{track.title}</span>
                  {track.userData?.isPlayed && <span className="muted" aria-label="played">✓</span>}
                  <span className="muted">{track.runtimeMs ? formatClock(track.runtimeMs) : ""}</span>
                </Link>
              </li>
            ))}
          </ol>
        </section>
      )}
      {item.kind === "ARTIST" && (
        <ul className="grid grid-square">
          {item.children.nodes.map((album) => (
            <li key={album.id}>
              <PosterCard item={album} shape="square" />
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}

function ItemRoute() {
  const id = useSearchParams().get("id");
  if (!id) return <Empty title="Nothing chosen" />;
  return <Details key={id} id={id} />;
}

export default function ItemPage() {
  return (
    <Shell>
      <ItemRoute />
    </Shell>
  );
}
