"use client";
import { useApolloClient } from "@apollo/client/react";
import { useEffect, useRef, useState } from "react";
import { graphql } from "@/gql";
import { chooseNext, episodeLabel, upNextWindowMs, type EpisodeRef } from "@/lib/upNext";

const UpNextCandidates = graphql(`
  query UpNextCandidates($id: ID!) {
    item(id: $id) {
      id
      kind
      title
      seasonNumber
      episodeNumber
      episodeNumberEnd
      isMissing
      season {
        id
        children(first: 500) {
          nodes {
            id
            kind
            title
            seasonNumber
            episodeNumber
            episodeNumberEnd
            isMissing
          }
        }
      }
      series {
        id
        children(first: 200) {
          nodes {
            id
            kind
            seasonNumber
          }
        }
      }
    }
  }
`);

const SeasonEpisodes = graphql(`
  query UpNextSeasonEpisodes($id: ID!) {
    item(id: $id) {
      id
      children(first: 500) {
        nodes {
          id
          kind
          title
          seasonNumber
          episodeNumber
          episodeNumberEnd
          isMissing
        }
      }
    }
  }
`);

const COUNTDOWN_S = 10;

type Props = {
  /** The episode playing now. */
  itemId: string;
  /** Only episodes have a next one; false skips the lookup. */
  isEpisode: boolean;
  /** Whether the player may show it (not while asking where to resume, not over an error). */
  active: boolean;
  positionMs: number;
  durationMs: number;
  ended: boolean;
  /** Stop this episode and open ``nextId``'s player. */
  onPlayNext: (nextId: string) => void;
};

/** The next episode of the series, looked up once per episode (null: none, or not an episode). */
function useNextEpisode(itemId: string, isEpisode: boolean): EpisodeRef | null {
  const client = useApolloClient();
  const [next, setNext] = useState<{ for: string; episode: EpisodeRef | null } | null>(null);
  useEffect(() => {
    if (!isEpisode) return;
    let live = true;
    void (async () => {
      try {
        const { data } = await client.query({ query: UpNextCandidates, variables: { id: itemId }, fetchPolicy: "network-only" });
        const item = data?.item;
        if (!item || !item.season) return;
        const episode = await chooseNext(item, item.season.children.nodes, item.series?.children.nodes ?? [], async (seasonId) => {
          const { data: season } = await client.query({ query: SeasonEpisodes, variables: { id: seasonId } });
          return season?.item?.children.nodes ?? [];
        });
        if (live) setNext({ for: itemId, episode });
      } catch {
        /* no countdown; the episode just ends */
      }
    })();
    return () => {
      live = false;
    };
  }, [client, itemId, isEpisode]);
  return isEpisode && next?.for === itemId ? next.episode : null;
}

/** "Next episode: S01E02 · The Storm — starting in 10 s", shown near (or at) the end of an episode. */
export function UpNext({ itemId, isEpisode, active, positionMs, durationMs, ended, onPlayNext }: Props) {
  const next = useNextEpisode(itemId, isEpisode);
  const [dismissed, setDismissed] = useState(false);
  const nearEnd = ended || (durationMs > 0 && positionMs > 0 && durationMs - positionMs <= upNextWindowMs(durationMs));
  if (!next || !active || dismissed || !nearEnd) return null;
  return <Countdown key={next.id} next={next} onPlay={() => onPlayNext(next.id)} onCancel={() => setDismissed(true)} />;
}

/** The card itself: counts down from 10 s, then plays; "Play now", "Cancel", Esc cancels. */
export function Countdown({ next, onPlay, onCancel }: { next: EpisodeRef; onPlay: () => void; onCancel: () => void }) {
  const [left, setLeft] = useState(COUNTDOWN_S);
  const play = useRef(onPlay);
  const cancel = useRef(onCancel);
  useEffect(() => {
    play.current = onPlay;
    cancel.current = onCancel;
  });

  // Counts down from when it first shows; at 0, plays the next episode (once).
  useEffect(() => {
    const shownAt = Date.now();
    let done = false;
    const timer = setInterval(() => {
      const remaining = Math.max(0, COUNTDOWN_S - Math.floor((Date.now() - shownAt) / 1000));
      setLeft(remaining);
      if (remaining === 0 && !done) {
        done = true;
        clearInterval(timer);
        play.current();
      }
    }, 250);
    return () => clearInterval(timer);
  }, []);

  // Esc cancels the countdown (before the player's own Esc, which leaves); focus comes back afterwards.
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopImmediatePropagation();
      cancel.current();
    };
    window.addEventListener("keydown", onKey, true);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      if (before && before !== document.body && before.isConnected) before.focus();
    };
  }, []);

  const label = episodeLabel(next);
  return (
    <div className="up-next" role="dialog" aria-modal="false" aria-labelledby="up-next-text" data-next-id={next.id}>
      <p id="up-next-text" className="up-next-text">
        Next episode: <strong>{label}</strong> — starting in <span className="up-next-seconds">{left}</span> s
      </p>
      <p className="sr-only" aria-live="polite">
        Next episode, {label}, starts in {COUNTDOWN_S} seconds. Press Escape to cancel.
      </p>
      <div className="up-next-progress" aria-hidden="true">
        <span style={{ width: `${((COUNTDOWN_S - left) / COUNTDOWN_S) * 100}%` }} />
      </div>
      <div className="actions">
        <button className="button button-primary" autoFocus onClick={onPlay}>
          Play now
        </button>
        <button className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
