/** Which episode plays after this one: the pure choice behind the player's "Next episode" countdown. */

export type EpisodeRef = {
  id: string;
  kind?: string | null;
  title: string;
  seasonNumber?: number | null;
  episodeNumber?: number | null;
  episodeNumberEnd?: number | null;
  isMissing?: boolean | null;
};

export type SeasonRef = { id: string; kind?: string | null; seasonNumber?: number | null };

/** The season's episodes that can play, in aired order (no number or not on disk: skipped). */
export function playableEpisodes(episodes: readonly EpisodeRef[]): EpisodeRef[] {
  return episodes
    .filter((e) => (e.kind == null || e.kind === "EPISODE") && !e.isMissing && e.episodeNumber != null)
    .sort((a, b) => a.episodeNumber! - b.episodeNumber! || (a.episodeNumberEnd ?? a.episodeNumber!) - (b.episodeNumberEnd ?? b.episodeNumber!));
}

/** The episode after ``current`` in its own season, or null past the season's last one. */
export function nextInSeason(current: EpisodeRef, episodes: readonly EpisodeRef[]): EpisodeRef | null {
  const ordered = playableEpisodes(episodes);
  const at = ordered.findIndex((e) => e.id === current.id);
  if (at >= 0) return ordered[at + 1] ?? null;
  // Not in the list (say, its file went missing): the first one numbered after it.
  const last = current.episodeNumberEnd ?? current.episodeNumber;
  if (last == null) return null;
  return ordered.find((e) => e.episodeNumber! > last) ?? null;
}

/**
 * The seasons to look in, in order, once the current one is done: the main-run seasons numbered
 * after it. Specials (season 0) never follow the main run, and a special isn't followed by the main run.
 */
export function laterSeasons(currentSeason: number | null | undefined, seasons: readonly SeasonRef[]): SeasonRef[] {
  if (currentSeason == null || currentSeason < 1) return [];
  return seasons
    .filter((s) => (s.kind == null || s.kind === "SEASON") && s.seasonNumber != null && s.seasonNumber > currentSeason)
    .sort((a, b) => a.seasonNumber! - b.seasonNumber!);
}

/** The first playable episode of a season, or null when it has none. */
export function firstEpisode(episodes: readonly EpisodeRef[]): EpisodeRef | null {
  return playableEpisodes(episodes)[0] ?? null;
}

/**
 * The next episode, given the current one, its season's episodes, the series' seasons, and a way to
 * list a season's episodes (only asked for when the current season has run out; empty seasons are skipped).
 */
export async function chooseNext(
  current: EpisodeRef,
  seasonEpisodes: readonly EpisodeRef[],
  seasons: readonly SeasonRef[],
  episodesOf: (seasonId: string) => Promise<readonly EpisodeRef[]>,
): Promise<EpisodeRef | null> {
  const next = nextInSeason(current, seasonEpisodes);
  if (next) return next;
  for (const season of laterSeasons(current.seasonNumber, seasons)) {
    const first = firstEpisode(await episodesOf(season.id));
    if (first) return { ...first, seasonNumber: first.seasonNumber ?? season.seasonNumber };
  }
  return null;
}

/** "S01E02 · The Storm" (numbers padded to two digits). */
export function episodeLabel(episode: EpisodeRef): string {
  const pad = (n: number | null | undefined) => String(n ?? 0).padStart(2, "0");
  const code = `S${pad(episode.seasonNumber)}E${pad(episode.episodeNumber)}${episode.episodeNumberEnd && episode.episodeNumberEnd !== episode.episodeNumber ? `-E${pad(episode.episodeNumberEnd)}` : ""}`;
  return `${code} · ${episode.title}`;
}

/** How close to the end (ms) the countdown shows: 15 s, or a quarter of a short episode. */
export function upNextWindowMs(durationMs: number): number {
  return Math.min(15_000, Math.max(0, durationMs) / 4);
}

export type TrackRef = {
  id: string;
  kind?: string | null;
  title?: string | null;
  discNumber?: number | null;
  trackNumber?: number | null;
  isMissing?: boolean | null;
};

/** An album's tracks that can play, in order: by disc, then track number; unnumbered ones last, as listed. */
export function playableTracks<T extends TrackRef>(tracks: readonly T[]): T[] {
  const key = (t: TrackRef) => [t.discNumber ?? 1, t.trackNumber ?? Number.MAX_SAFE_INTEGER] as const;
  return tracks
    .map((track, at) => ({ track, at }))
    .filter(({ track }) => (track.kind == null || track.kind === "TRACK") && !track.isMissing)
    .sort((a, b) => {
      const [discA, numberA] = key(a.track);
      const [discB, numberB] = key(b.track);
      return discA - discB || numberA - numberB || a.at - b.at;
    })
    .map(({ track }) => track);
}

/** The track after ``currentId`` on its album, or null after the last (or when it is not listed). */
export function nextTrack<T extends TrackRef>(currentId: string, tracks: readonly T[]): T | null {
  const ordered = playableTracks(tracks);
  const at = ordered.findIndex((t) => t.id === currentId);
  return at >= 0 ? (ordered[at + 1] ?? null) : null;
}
