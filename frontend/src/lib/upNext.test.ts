import { describe, expect, it } from "vitest";
import { chooseNext, episodeLabel, laterSeasons, nextInSeason, nextTrack, playableTracks, upNextWindowMs, type EpisodeRef, type SeasonRef, type TrackRef } from "./upNext";

const ep = (id: string, seasonNumber: number, episodeNumber: number | null, extra: Partial<EpisodeRef> = {}): EpisodeRef => ({
  id,
  kind: "EPISODE",
  title: `Title ${id}`,
  seasonNumber,
  episodeNumber,
  ...extra,
});

// Out of order on purpose: the choice sorts by number.
const season1 = [ep("s1e3", 1, 3), ep("s1e1", 1, 1), ep("s1e2", 1, 2)];
const season2 = [ep("s2e2", 2, 2), ep("s2e1", 2, 1)];
const specials = [ep("s0e1", 0, 1)];
const seasons: SeasonRef[] = [
  { id: "season2", kind: "SEASON", seasonNumber: 2 },
  { id: "season0", kind: "SEASON", seasonNumber: 0 },
  { id: "season1", kind: "SEASON", seasonNumber: 1 },
];
const bySeason: Record<string, EpisodeRef[]> = { season0: specials, season1, season2 };
const episodesOf = async (id: string) => bySeason[id] ?? [];

describe("up next", () => {
  it("picks the next episode in the season", async () => {
    expect((await chooseNext(season1[1], season1, seasons, episodesOf))?.id).toBe("s1e2");
    expect((await chooseNext(season1[2], season1, seasons, episodesOf))?.id).toBe("s1e3");
  });

  it("goes to the first episode of the next season after the season's last", async () => {
    const asked: string[] = [];
    const next = await chooseNext(season1[0], season1, seasons, async (id) => (asked.push(id), episodesOf(id)));
    expect(next?.id).toBe("s2e1");
    expect(asked).toEqual(["season2"]);
  });

  it("has nothing after the last episode, and never rolls on into the specials", async () => {
    expect(await chooseNext(season2[0], season2, seasons, episodesOf)).toBeNull();
    expect(laterSeasons(2, seasons)).toEqual([]);
    // From a special: the next special, then nothing (not the main run).
    const twoSpecials = [...specials, ep("s0e2", 0, 2)];
    expect((await chooseNext(twoSpecials[0], twoSpecials, seasons, episodesOf))?.id).toBe("s0e2");
    expect(await chooseNext(twoSpecials[1], twoSpecials, seasons, episodesOf)).toBeNull();
  });

  it("skips missing, unnumbered and empty", async () => {
    const withGaps = [ep("a1", 1, 1), ep("a2", 1, 2, { isMissing: true }), ep("ax", 1, null), ep("a3", 1, 3)];
    expect(nextInSeason(withGaps[0], withGaps)?.id).toBe("a3");
    // The current one missing from the list: the first numbered after it.
    expect(nextInSeason(ep("gone", 1, 2), withGaps)?.id).toBe("a3");
    const gappy: SeasonRef[] = [{ id: "empty", seasonNumber: 2 }, { id: "season3", seasonNumber: 3 }];
    const next = await chooseNext(ep("last", 1, 9), [ep("last", 1, 9)], gappy, async (id) => (id === "season3" ? [ep("s3e1", 3, 1)] : [ep("m", 2, 1, { isMissing: true })]));
    expect(next?.id).toBe("s3e1");
  });

  it("labels and times the countdown", () => {
    expect(episodeLabel(ep("x", 1, 2, { title: "The Storm" }))).toBe("S01E02 · The Storm");
    expect(episodeLabel(ep("y", 1, 3, { title: "Double", episodeNumberEnd: 4 }))).toBe("S01E03-E04 · Double");
    expect(upNextWindowMs(45 * 60_000)).toBe(15_000);
    expect(upNextWindowMs(20_000)).toBe(5_000);
  });
});

describe("album order", () => {
  const tracks: TrackRef[] = [
    { id: "d2t1", kind: "TRACK", discNumber: 2, trackNumber: 1 },
    { id: "bonus", kind: "TRACK", discNumber: null, trackNumber: null },
    { id: "d1t2", kind: "TRACK", discNumber: 1, trackNumber: 2 },
    { id: "d1t3", kind: "TRACK", discNumber: 1, trackNumber: 3, isMissing: true },
    { id: "d1t1", kind: "TRACK", discNumber: 1, trackNumber: 1 },
    { id: "t4", kind: "TRACK", discNumber: null, trackNumber: 4 },
    { id: "booklet", kind: "VIDEO", trackNumber: 1 },
  ];

  it("plays disc by disc, track by track, unnumbered last, skipping missing files and other kinds", () => {
    expect(playableTracks(tracks).map((t) => t.id)).toEqual(["d1t1", "d1t2", "t4", "bonus", "d2t1"]);
  });

  it("goes on to the next track, across discs, and stops after the last", () => {
    expect(nextTrack("d1t1", tracks)?.id).toBe("d1t2");
    expect(nextTrack("d1t2", tracks)?.id).toBe("t4"); // track 3 is missing: skipped
    expect(nextTrack("bonus", tracks)?.id).toBe("d2t1");
    expect(nextTrack("d2t1", tracks)).toBeNull();
    expect(nextTrack("d1t3", tracks)).toBeNull(); // not playable itself: nothing to follow
  });
});
