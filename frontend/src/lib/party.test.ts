import { describe, expect, it } from "vitest";
import { applyHint, changesState, clockOffsetMs, expectedPositionMs, mayControl, newerParty, reportDue, ServerClock, startsInMs, type PartyTiming } from "./party";

const at = (iso: string) => Date.parse(iso);

describe("clock offset", () => {
  it("puts the server's reading at the middle of the round trip", () => {
    // Sent at 10.000, answered at 10.200 local; the server said 15.100.
    expect(clockOffsetMs("2026-01-01T00:00:15.100Z", at("2026-01-01T00:00:10.000Z"), at("2026-01-01T00:00:10.200Z"))).toBe(5000);
  });

  it("keeps the sample with the shortest round trip", () => {
    const clock = new ServerClock();
    clock.sample("2026-01-01T00:00:15.100Z", at("2026-01-01T00:00:10.000Z"), at("2026-01-01T00:00:10.200Z"));
    clock.sample("2026-01-01T00:00:20.900Z", at("2026-01-01T00:00:11.000Z"), at("2026-01-01T00:00:13.000Z"));
    expect(clock.offsetMs).toBe(5000);
    expect(clock.roundTripMs).toBe(200);
    clock.sample("2026-01-01T00:00:17.010Z", at("2026-01-01T00:00:12.000Z"), at("2026-01-01T00:00:12.020Z"));
    expect(clock.offsetMs).toBe(5000);
    expect(clock.roundTripMs).toBe(20);
    expect(clock.now(1000)).toBe(6000);
  });
});

const party = (state: PartyTiming["state"], positionMs: number, stateChangedAt: string, version = 1): PartyTiming => ({ state, positionMs, stateChangedAt, version });

describe("expected position", () => {
  it("runs on from stateChangedAt while playing", () => {
    expect(expectedPositionMs(party("PLAYING", 4000, "2026-01-01T00:00:10.000Z"), at("2026-01-01T00:00:12.500Z"))).toBe(6500);
  });

  it("holds before a scheduled start and while paused or waiting", () => {
    const scheduled = party("PLAYING", 4000, "2026-01-01T00:00:10.000Z");
    expect(expectedPositionMs(scheduled, at("2026-01-01T00:00:09.300Z"))).toBe(4000);
    expect(startsInMs(scheduled, at("2026-01-01T00:00:09.300Z"))).toBe(700);
    expect(startsInMs(scheduled, at("2026-01-01T00:00:10.300Z"))).toBe(0);
    expect(expectedPositionMs(party("PAUSED", 4000, "2026-01-01T00:00:10.000Z"), at("2026-01-01T00:01:00.000Z"))).toBe(4000);
    expect(expectedPositionMs(party("WAITING", 4000, "2026-01-01T00:00:10.000Z"), at("2026-01-01T00:01:00.000Z"))).toBe(4000);
  });
});

describe("versions", () => {
  it("keeps only the highest version", () => {
    const v2 = party("PLAYING", 0, "2026-01-01T00:00:10.000Z", 2);
    const v3 = party("PAUSED", 900, "2026-01-01T00:00:11.000Z", 3);
    expect(newerParty(null, v2)).toBe(v2);
    expect(newerParty(v2, v3)).toBe(v3);
    expect(newerParty(v3, v2)).toBe(v3);
    const sameWithFreshMembers = { ...v3 };
    expect(newerParty(v3, sameWithFreshMembers)).toBe(sameWithFreshMembers);
    expect(changesState(v3, sameWithFreshMembers)).toBe(false);
    expect(changesState(v2, v3)).toBe(true);
    expect(changesState(null, v2)).toBe(true);
  });
});

describe("reports", () => {
  it("go out about once a second and never within 200 ms", () => {
    expect(reportDue(null, 0, false)).toBe(true);
    expect(reportDue(1000, 1500, false)).toBe(false);
    expect(reportDue(1000, 2000, false)).toBe(true);
    expect(reportDue(1000, 1150, true)).toBe(false);
    expect(reportDue(1000, 1200, true)).toBe(true);
  });

  it("apply the server's hint", () => {
    expect(applyHint({ action: "none", rate: 1, seekToMs: null })).toEqual({ kind: "none" });
    expect(applyHint({ action: "rate", rate: 0.98, seekToMs: null })).toEqual({ kind: "rate", rate: 0.98 });
    expect(applyHint({ action: "rate", rate: 3, seekToMs: null })).toEqual({ kind: "rate", rate: 1.05 });
    expect(applyHint({ action: "seek", rate: 1, seekToMs: 12_000 })).toEqual({ kind: "seek", toMs: 12_000, rate: 1 });
  });
});

describe("control", () => {
  it("follows the party's control mode", () => {
    expect(mayControl("HOST", "HOST")).toBe(true);
    expect(mayControl("HOST", "COHOST")).toBe(false);
    expect(mayControl("HOSTS", "COHOST")).toBe(true);
    expect(mayControl("HOSTS", "MEMBER")).toBe(false);
    expect(mayControl("EVERYONE", "MEMBER")).toBe(true);
    expect(mayControl("EVERYONE", undefined)).toBe(false);
  });
});
