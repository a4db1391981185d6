"use client";
/**
 * A <video> that follows a watch party: the server's clock (offset from `serverTime`), the party
 * state with the highest version applied at its `stateChangedAt`, a report about once a second
 * (position, readiness, round trip) whose answer nudges the playback rate or seeks, and the
 * playback session that feeds the video.
 */
import { useApolloClient, useMutation } from "@apollo/client/react";
import { useCallback, useEffect, useRef, useState } from "react";
import type { PartyFieldsFragment, PartyMessageFieldsFragment } from "@/gql/graphql";
import { deviceProfileName } from "@/lib/device";
import { humanError } from "@/lib/format";
import { applyHint, changesState, expectedPositionMs, newerParty, reportDue, ServerClock, startsInMs } from "@/lib/party";
import { attachStream, type Attached, type Engine } from "@/lib/stream";
import { deviceId } from "@/lib/tokens";
import { StopPlayback } from "@/components/player/operations";
import { PartyEvents, PartyHeartbeat, PartyPlayback, ReportPartyPosition, ServerTimeQuery } from "./operations";

const SEEK_ABOVE_MS = 400;
const HOLD_TOLERANCE_MS = 250;

type Stream = { sessionId: string; method: string; offsetMs: number; heartbeatMs: number; attached: Attached };

export type PartyPlayer = {
  /** The callback ref for the party's <video>. */
  attachVideo(element: HTMLVideoElement | null): void;
  party: PartyFieldsFragment;
  positionMs: number;
  isReady: boolean;
  needsGesture: boolean;
  engine: Engine | null;
  error: string | null;
  startsIn: number;
  resume(): void;
  take(party: PartyFieldsFragment): void;
};

export function usePartyPlayer(
  initial: PartyFieldsFragment,
  onMessage: (message: PartyMessageFieldsFragment) => void,
): PartyPlayer {
  const client = useApolloClient();
  const [startPlayback] = useMutation(PartyPlayback);
  const [heartbeat] = useMutation(PartyHeartbeat);
  const [stopPlayback] = useMutation(StopPlayback);
  const [report] = useMutation(ReportPartyPosition);
  const video = useRef<HTMLVideoElement>(null);
  const clock = useRef(new ServerClock());
  const partyRef = useRef<PartyFieldsFragment>(initial);
  const [party, setParty] = useState(initial);
  const stream = useRef<Stream | null>(null);
  const ready = useRef(false);
  const [isReady, setReady] = useState(false);
  const [positionMs, setPosition] = useState(0);
  const [needsGesture, setNeedsGesture] = useState(false);
  const [engine, setEngine] = useState<Engine | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [startsIn, setStartsIn] = useState(0);
  const startTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onMessageRef = useRef(onMessage);
  useEffect(() => {
    onMessageRef.current = onMessage;
  }, [onMessage]);

  const localMs = useCallback(() => (stream.current?.offsetMs ?? 0) + Math.round((video.current?.currentTime ?? 0) * 1000), [video]);

  const play = useCallback(() => {
    void video.current?.play().then(
      () => setNeedsGesture(false),
      (e: unknown) => {
        if (e instanceof DOMException && e.name === "NotAllowedError") setNeedsGesture(true);
      },
    );
  }, [video]);

  const open = useCallback(
    async (fromMs: number) => {
      const element = video.current;
      if (!element) return;
      const previous = stream.current;
      stream.current = null;
      previous?.attached.destroy();
      if (previous) void stopPlayback({ variables: { sessionId: previous.sessionId } }).catch(() => undefined);
      ready.current = false;
      setReady(false);
      try {
        const { data } = await startPlayback({
          variables: { itemId: partyRef.current.item.id, deviceProfileName: deviceProfileName(), deviceId: deviceId(), startPositionMs: fromMs > 0 ? fromMs : null },
        });
        const outcome = data?.startPlayback;
        if (outcome?.__typename !== "PlaybackSession") {
          setError(outcome?.__typename === "PlaybackError" ? outcome.message : "Playback could not start.");
          return;
        }
        const method = outcome.decision.method;
        const remux = method === "REMUX";
        const attached = await attachStream(element, outcome.streamUrl, method === "TRANSCODE", remux ? 0 : fromMs / 1000, setError);
        stream.current = { sessionId: outcome.id, method, offsetMs: remux ? fromMs : 0, heartbeatMs: outcome.heartbeatIntervalMs, attached };
        setEngine(attached.engine);
      } catch (e) {
        setError(humanError(e));
      }
    },
    [video, startPlayback, stopPlayback],
  );

  const seek = useCallback(
    (toMs: number) => {
      const element = video.current;
      const active = stream.current;
      if (!element || !active) return;
      // A remuxed stream cannot seek outside what was sent; it restarts at the new position.
      if (active.method === "REMUX") void open(toMs);
      else element.currentTime = toMs / 1000;
    },
    [video, open],
  );

  /** Make the video do what the party says, at the server instant it says. */
  const apply = useCallback(
    (current: PartyFieldsFragment) => {
      const element = video.current;
      if (!element || !stream.current) return;
      if (startTimer.current) clearTimeout(startTimer.current);
      startTimer.current = null;
      const now = clock.current.now();
      const wait = startsInMs(current, now);
      setStartsIn(wait);
      if (current.state === "PLAYING" && wait === 0) {
        const expected = expectedPositionMs(current, now);
        if (Math.abs(localMs() - expected) > SEEK_ABOVE_MS) seek(expected);
        play();
        return;
      }
      element.pause();
      element.playbackRate = 1;
      if (Math.abs(localMs() - current.positionMs) > HOLD_TOLERANCE_MS) seek(current.positionMs);
      if (current.state === "PLAYING") {
        startTimer.current = setTimeout(() => {
          setStartsIn(0);
          play();
        }, wait);
      }
    },
    [video, localMs, seek, play],
  );

  const take = useCallback(
    (incoming: PartyFieldsFragment) => {
      const before = partyRef.current;
      const kept = newerParty(before, incoming);
      if (kept === before) return;
      partyRef.current = kept;
      setParty(kept);
      if (changesState(before, kept)) apply(kept);
    },
    [apply],
  );

  // The clock: a few round trips to `serverTime`, keeping the tightest.
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      for (let i = 0; i < 3 && !cancelled; i++) {
        const sent = Date.now();
        try {
          const { data } = await client.query({ query: ServerTimeQuery, fetchPolicy: "no-cache" });
          if (data) clock.current.sample(data.serverTime, sent, Date.now());
        } catch {
          /* the reports sample the clock too */
        }
      }
      if (!cancelled) apply(partyRef.current);
    })();
    return () => {
      cancelled = true;
    };
  }, [client, apply]);

  // The stream: open once, at where the party is now; stop the session on the way out.
  useEffect(() => {
    void open(expectedPositionMs(partyRef.current, clock.current.now())).then(() => apply(partyRef.current));
    const element = video.current;
    return () => {
      if (startTimer.current) clearTimeout(startTimer.current);
      const active = stream.current;
      stream.current = null;
      active?.attached.destroy();
      element?.pause();
      if (active) void stopPlayback({ variables: { sessionId: active.sessionId } }).catch(() => undefined);
    };
  }, [open, apply, stopPlayback, video]);

  // Readiness: a player that can play is ready; one that runs dry (`waiting`) holds the party.
  useEffect(() => {
    const element = video.current;
    if (!element) return;
    const set = (value: boolean) => () => {
      ready.current = value;
      setReady(value);
    };
    const onReady = set(true);
    const onWaiting = set(false);
    const onTime = () => setPosition(localMs());
    element.addEventListener("canplay", onReady);
    element.addEventListener("playing", onReady);
    element.addEventListener("waiting", onWaiting);
    element.addEventListener("timeupdate", onTime);
    return () => {
      element.removeEventListener("canplay", onReady);
      element.removeEventListener("playing", onReady);
      element.removeEventListener("waiting", onWaiting);
      element.removeEventListener("timeupdate", onTime);
    };
  }, [video, localMs]);

  // Reports: about once a second, at once when readiness changes, never within 200 ms.
  useEffect(() => {
    let last: number | null = null;
    let lastReady: boolean | null = null;
    let inFlight = false;
    const partyId = initial.id;
    const tick = async () => {
      const now = Date.now();
      if (inFlight || !stream.current || !reportDue(last, now, ready.current !== lastReady)) return;
      inFlight = true;
      last = now;
      lastReady = ready.current;
      try {
        const { data } = await report({
          variables: { partyId, positionMs: localMs(), isReady: ready.current, latencyMs: clock.current.roundTripMs },
        });
        const answer = data?.reportWatchPartyPosition;
        if (!answer) return;
        clock.current.sample(answer.serverTime, now, Date.now());
        take(answer.party);
        const current = partyRef.current;
        const element = video.current;
        if (!element || current.state !== "PLAYING" || startsInMs(current, clock.current.now()) > 0 || element.paused) return;
        const move = applyHint(answer);
        if (move.kind === "seek") {
          element.playbackRate = 1;
          seek(move.toMs);
        } else element.playbackRate = move.kind === "rate" ? move.rate : 1;
      } catch {
        /* the next tick reports again */
      } finally {
        inFlight = false;
      }
    };
    const timer = setInterval(() => void tick(), 250);
    return () => clearInterval(timer);
  }, [initial.id, report, localMs, take, seek, video]);

  // The session's own heartbeat keeps its lease (and the transcode) alive.
  useEffect(() => {
    const timer = setInterval(() => {
      const active = stream.current;
      if (active) void heartbeat({ variables: { sessionId: active.sessionId, positionMs: localMs(), isPaused: video.current?.paused ?? true } }).catch(() => undefined);
    }, 10_000);
    return () => clearInterval(timer);
  }, [heartbeat, localMs, video]);

  // Events: every change of the party, and chat.
  useEffect(() => {
    const subscription = client.subscribe({ query: PartyEvents, variables: { partyId: initial.id } }).subscribe({
      next: ({ data }) => {
        const event = data?.watchPartyEvents;
        if (!event) return;
        take(event.party);
        if (event.message) onMessageRef.current(event.message);
      },
    });
    return () => subscription.unsubscribe();
  }, [client, initial.id, take]);

  const resume = useCallback(() => {
    setNeedsGesture(false);
    apply(partyRef.current);
  }, [apply]);

  const attachVideo = useCallback((element: HTMLVideoElement | null) => {
    video.current = element;
  }, []);

  return { attachVideo, party, positionMs, isReady, needsGesture, engine, error, startsIn, resume, take };
}
