/**
 * Watch party timing, kept free of React so it can be tested: the offset between this clock and
 * the server's, where the party should be right now, which party state wins, and when a report
 * is due. The server schedules every start slightly in the future (its `stateChangedAt`), so
 * members that apply a state at that server instant start together.
 */

export type PartyTiming = {
  state: "PLAYING" | "PAUSED" | "WAITING" | "ENDED";
  positionMs: number;
  stateChangedAt: string;
  version: number;
};

/** Milliseconds to add to `Date.now()` to get the server's clock, from one round trip. */
export function clockOffsetMs(serverTime: string, sentAtMs: number, receivedAtMs: number): number {
  const server = Date.parse(serverTime);
  // The server read its clock about halfway through the round trip.
  return Math.round(server - (sentAtMs + receivedAtMs) / 2);
}

/** Keeps the sample with the shortest round trip: its midpoint guess is the tightest. */
export class ServerClock {
  private best: { offsetMs: number; roundTripMs: number } | null = null;

  sample(serverTime: string, sentAtMs: number, receivedAtMs: number): void {
    const roundTripMs = Math.max(0, receivedAtMs - sentAtMs);
    if (this.best && this.best.roundTripMs <= roundTripMs) return;
    this.best = { offsetMs: clockOffsetMs(serverTime, sentAtMs, receivedAtMs), roundTripMs };
  }

  get offsetMs(): number {
    return this.best?.offsetMs ?? 0;
  }

  get roundTripMs(): number | null {
    return this.best?.roundTripMs ?? null;
  }

  now(localMs = Date.now()): number {
    return localMs + this.offsetMs;
  }
}

/** Where a player should be at server time `serverNowMs`. Before a scheduled start it holds. */
export function expectedPositionMs(party: PartyTiming, serverNowMs: number): number {
  if (party.state !== "PLAYING") return party.positionMs;
  const elapsed = serverNowMs - Date.parse(party.stateChangedAt);
  return party.positionMs + Math.max(0, elapsed);
}

/** How long until a playing state's scheduled start (0 when it has begun or does not play). */
export function startsInMs(party: PartyTiming, serverNowMs: number): number {
  if (party.state !== "PLAYING") return 0;
  return Math.max(0, Date.parse(party.stateChangedAt) - serverNowMs);
}

/**
 * The party to keep: events and answers arrive out of order, and an older version never replaces
 * a newer one. An equal version carries the same state but may have fresher members, so it wins.
 */
export function newerParty<T extends PartyTiming>(current: T | null, incoming: T): T {
  if (current && current.version > incoming.version) return current;
  return incoming;
}

/** Whether `incoming` changes what the player should do (a strictly higher version). */
export function changesState(current: PartyTiming | null, incoming: PartyTiming): boolean {
  return !current || incoming.version > current.version;
}

export const REPORT_EVERY_MS = 1000;
export const MIN_REPORT_GAP_MS = 200;

/**
 * Whether to report now: about once a second, never within 200 ms of the last report (the server
 * refuses floods), except that a change of readiness goes out at once after that gap.
 */
export function reportDue(lastReportAtMs: number | null, nowMs: number, readinessChanged: boolean): boolean {
  if (lastReportAtMs === null) return true;
  const gap = nowMs - lastReportAtMs;
  if (gap < MIN_REPORT_GAP_MS) return false;
  return readinessChanged || gap >= REPORT_EVERY_MS;
}

export type SyncHint = { action: string; rate: number; seekToMs: number | null };
export type PlayerMove = { kind: "none" } | { kind: "rate"; rate: number } | { kind: "seek"; toMs: number; rate: 1 };

/** What the player does with the server's answer to a report. */
export function applyHint(hint: SyncHint): PlayerMove {
  if (hint.action === "seek" && hint.seekToMs !== null) return { kind: "seek", toMs: hint.seekToMs, rate: 1 };
  if (hint.action === "rate" && Number.isFinite(hint.rate) && hint.rate > 0) {
    return { kind: "rate", rate: Math.min(1.05, Math.max(0.95, hint.rate)) };
  }
  return { kind: "none" };
}

/** Whether this member may press play, pause or seek under the party's control mode. */
export function mayControl(control: "HOST" | "HOSTS" | "EVERYONE", role: "HOST" | "COHOST" | "MEMBER" | undefined): boolean {
  if (!role) return false;
  if (control === "EVERYONE") return true;
  if (control === "HOSTS") return role === "HOST" || role === "COHOST";
  return role === "HOST";
}
