"use client";
import { useApolloClient, useMutation, useQuery } from "@apollo/client/react";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useCallback, useEffect, useRef, useState } from "react";
import { Gate } from "@/components/Gate";
import { Icon } from "@/components/Icon";
import { ErrorMessage, Loading } from "@/components/Status";
import { NextTrack } from "@/components/NextTrack";
import { languageName, PLAYBACK_ERRORS, PlayerItem, ReportProgress, StartPlayback, StopPlayback, type HlsLike, type Session } from "@/components/player/operations";
import { PlayerControls } from "@/components/player/PlayerControls";
import { PlayerError } from "@/components/player/PlayerError";
import { ResumeDialog } from "@/components/player/ResumeDialog";
import { UpNext } from "@/components/UpNext";
import { deviceProfileName } from "@/lib/device";
import { hlsEngine, type Engine } from "@/lib/stream";
import { humanError } from "@/lib/format";
import { accessToken, deviceId } from "@/lib/tokens";

function Player({ id, startParam }: { id: string; startParam: number | null }) {
  const router = useRouter();
  const client = useApolloClient();
  const item = useQuery(PlayerItem, { variables: { id }, fetchPolicy: "network-only" });
  const [startPlayback] = useMutation(StartPlayback);
  const [reportProgress] = useMutation(ReportProgress);
  const [stopPlayback] = useMutation(StopPlayback);
  const video = useRef<HTMLVideoElement>(null);
  const hls = useRef<HlsLike | null>(null);
  const session = useRef<Session | null>(null);
  const offsetMs = useRef(0);
  const [current, setCurrent] = useState<Session | null>(null);
  const [engine, setEngine] = useState<Engine>("file");
  const [chosen, setChoice] = useState<"ask" | "ready" | null>(null);
  const started = useRef(false);
  const [error, setError] = useState<string | null>(null);
  const [paused, setPaused] = useState(true);
  const [position, setPosition] = useState(0);
  const [ended, setEnded] = useState(false);
  const [muted, setMuted] = useState(false);
  const [subtitle, setSubtitle] = useState<number | null>(null);
  const [controlsVisible, setControlsVisible] = useState(true);
  const hideTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const data = item.data?.item;
  const file = data?.files.find((f) => !f.isMissing);
  const duration = data?.runtimeMs ?? file?.durationMs ?? 0;
  const audioStreams = file?.streams.filter((s) => s.type === "AUDIO") ?? [];
  const resumeAt = data?.userData?.positionMs ?? 0;

  const positionMs = useCallback(() => offsetMs.current + Math.round((video.current?.currentTime ?? 0) * 1000), []);

  const report = useCallback(async () => {
    const active = session.current;
    const element = video.current;
    if (!active || !element) return;
    const buffered = element.buffered.length ? element.buffered.end(element.buffered.length - 1) - element.currentTime : 0;
    try {
      await reportProgress({
        variables: { sessionId: active.id, positionMs: positionMs(), isPaused: element.paused, bufferedMs: Math.max(0, Math.round(buffered * 1000)) },
      });
    } catch {
      /* the next heartbeat tries again */
    }
  }, [reportProgress, positionMs]);

  const stop = useCallback(async () => {
    const active = session.current;
    session.current = null;
    hls.current?.destroy();
    hls.current = null;
    if (!active) return;
    const element = video.current;
    const at = offsetMs.current + Math.round((element?.currentTime ?? 0) * 1000);
    element?.pause();
    try {
      await reportProgress({ variables: { sessionId: active.id, positionMs: at, isPaused: true } });
      await stopPlayback({ variables: { sessionId: active.id } });
    } catch {
      /* the lease lapses on its own */
    }
  }, [reportProgress, stopPlayback]);

  const start = useCallback(
    async (fromMs: number, audioStream: number | null = null, subtitleStream: number | null = null) => {
      setError(null);
      await stop();
      try {
        const { data: result } = await startPlayback({
          variables: {
            itemId: id,
            deviceProfileName: deviceProfileName(),
            deviceId: deviceId(),
            startPositionMs: fromMs > 0 ? fromMs : null,
            audioStream,
            subtitleStream,
          },
        });
        const outcome = result?.startPlayback;
        if (outcome?.__typename === "PlaybackError") {
          return setError(PLAYBACK_ERRORS[outcome.code] ?? outcome.message);
        }
        if (outcome?.__typename !== "PlaybackSession") return setError("Playback could not start.");
        session.current = outcome;
        setCurrent(outcome);
        const element = video.current!;
        const method = outcome.decision.method;
        offsetMs.current = method === "REMUX" ? fromMs : 0;
        const seekTo = method === "REMUX" ? 0 : fromMs / 1000;
        const begin = () => {
          if (seekTo > 0) element.currentTime = seekTo;
          void element.play().catch(() => setPaused(true));
        };
        const playedBy = method === "TRANSCODE" ? await hlsEngine(element) : "file";
        setEngine(playedBy);
        if (playedBy === "none") return setError("This browser can't play this stream.");
        if (playedBy === "hls.js") {
          const { default: Hls } = await import("hls.js");
          const player = new Hls({ startPosition: seekTo });
          hls.current = player;
          player.loadSource(outcome.streamUrl);
          player.attachMedia(element);
          player.on(Hls.Events.MANIFEST_PARSED, () => void element.play().catch(() => setPaused(true)));
          player.on(Hls.Events.ERROR, (_event, details) => {
            if (!details.fatal) return;
            console.error(`hls.js: ${details.type} ${details.details}${details.error ? ` (${details.error.message})` : ""}`);
            setError("The stream stopped unexpectedly. Try again.");
          });
        } else {
          element.src = outcome.streamUrl;
          element.addEventListener("loadedmetadata", begin, { once: true });
        }
      } catch (e) {
        setError(humanError(e));
      }
    },
    [id, startPlayback, stop],
  );

  // Where to start: an explicit ?t=, the resume prompt, or the beginning.
  const choice = chosen ?? (data ? (startParam === null && resumeAt > 0 ? "ask" : "ready") : null);
  useEffect(() => {
    if (chosen !== null || choice !== "ready" || started.current) return;
    started.current = true;
    void start(startParam ?? 0);
  }, [chosen, choice, startParam, start]);

  // Heartbeats at the interval the server asks for.
  useEffect(() => {
    if (!current) return;
    const timer = setInterval(() => void report(), Math.max(1000, current.heartbeatIntervalMs));
    return () => clearInterval(timer);
  }, [current, report]);

  // Stop the session when leaving the player, and best-effort when the tab closes.
  useEffect(() => {
    const onHide = () => {
      const active = session.current;
      if (!active) return;
      const token = accessToken();
      void fetch("/graphql", {
        method: "POST",
        keepalive: true,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({
          query: "mutation ($id: ID!, $p: Int!) { reportProgress(sessionId: $id, positionMs: $p, isPaused: true) { sessionId } stopPlayback(sessionId: $id) { sessionId } }",
          variables: { id: active.id, p: positionMs() },
        }),
      });
    };
    window.addEventListener("pagehide", onHide);
    return () => {
      window.removeEventListener("pagehide", onHide);
      void stop();
    };
  }, [stop, positionMs]);

  const seekBy = useCallback(
    (deltaMs: number) => {
      const element = video.current;
      if (!element || !session.current) return;
      const target = Math.max(0, Math.min(duration || Infinity, positionMs() + deltaMs));
      if (session.current.decision.method === "REMUX") void start(target, session.current.decision.audioStream, session.current.decision.subtitleStream);
      else element.currentTime = target / 1000;
    },
    [duration, positionMs, start],
  );

  const seekTo = useCallback((targetMs: number) => seekBy(targetMs - positionMs()), [seekBy, positionMs]);

  const toggle = useCallback(() => {
    const element = video.current;
    if (!element) return;
    if (element.paused) void element.play();
    else element.pause();
  }, []);

  const leave = useCallback(async () => {
    await stop();
    await client.refetchQueries({ include: "active" }).catch(() => undefined);
    if (window.history.length > 1) router.back();
    else router.replace(`/item?id=${id}`);
  }, [stop, client, router, id]);

  // The next episode's countdown ran out (or "Play now"), or a track ended: end this session, then open the next one's player.
  const playNext = useCallback(
    async (nextId: string) => {
      await stop();
      router.replace(`/play?id=${encodeURIComponent(nextId)}`);
    },
    [stop, router],
  );

  const wake = useCallback(() => {
    setControlsVisible(true);
    if (hideTimer.current) clearTimeout(hideTimer.current);
    hideTimer.current = setTimeout(() => {
      if (!video.current?.paused) setControlsVisible(false);
    }, 3000);
  }, []);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (target.tagName === "SELECT" || target.tagName === "INPUT" && (target as HTMLInputElement).type !== "range") return;
      if (choice === "ask") return;
      const element = video.current;
      wake();
      switch (event.key) {
        case " ":
        case "k":
          if (target.tagName === "BUTTON" && event.key === " ") return;
          event.preventDefault();
          toggle();
          break;
        case "ArrowLeft":
          event.preventDefault();
          seekBy(-10_000);
          break;
        case "ArrowRight":
          event.preventDefault();
          seekBy(10_000);
          break;
        case "ArrowUp":
          if (element) element.volume = Math.min(1, element.volume + 0.1);
          event.preventDefault();
          break;
        case "ArrowDown":
          if (element) element.volume = Math.max(0, element.volume - 0.1);
          event.preventDefault();
          break;
        case "f":
          if (document.fullscreenElement) void document.exitFullscreen();
          else void document.querySelector(".player")?.requestFullscreen?.();
          break;
        case "m":
          if (element) element.muted = !element.muted;
          break;
        case "Escape":
          if (!document.fullscreenElement) void leave();
          break;
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [choice, toggle, seekBy, leave, wake]);

  // Text subtitles show through <track>; image ones need the server to burn them in.
  useEffect(() => {
    const element = video.current;
    if (!element || !current) return;
    for (const track of Array.from(element.textTracks)) {
      track.mode = track.id === `sub-${subtitle}` ? "showing" : "disabled";
    }
  }, [subtitle, current]);

  if (item.error) return <ErrorMessage error={item.error} onRetry={() => void item.refetch()} />;
  if (!item.data) return <Loading />;
  if (!data) return <ErrorMessage error="This title doesn't exist or isn't available to this profile." title="Can't play" />;

  const title = data.series ? `${data.series.title} · S${data.seasonNumber}E${data.episodeNumber} · ${data.title}` : data.title;
  return (
    <div className={`player ${controlsVisible || paused ? "" : "is-idle"}`} onMouseMove={wake} data-own-keys>
      <video
        ref={video}
        className="player-video"
        playsInline
        preload="auto"
        aria-label={`Video: ${data.title}`}
        onPlay={() => {
          setPaused(false);
          setEnded(false);
          wake();
          void report();
        }}
        onPause={() => {
          setPaused(true);
          void report();
        }}
        onTimeUpdate={() => setPosition(positionMs())}
        onEnded={() => setEnded(true)}
        onVolumeChange={() => setMuted(video.current?.muted ?? false)}
        onClick={toggle}
        onError={() => {
          if (session.current) setError("The video could not be played in this browser.");
        }}
      >
        {current?.subtitles
          .filter((s) => s.isText && s.webvttUrl)
          .map((s) => (
            <track key={s.index} id={`sub-${s.index}`} kind="subtitles" src={s.webvttUrl!} srcLang={s.language ?? undefined} label={s.title ?? languageName(s.language) ?? `Track ${s.index}`} />
          ))}
      </video>

      <div className="player-top">
        <button className="button button-ghost" onClick={() => void leave()} aria-label="Stop and go back">
          <Icon name="arrowLeft" size={18} /> Back
        </button>
        <h1 className="player-title">{title}</h1>
      </div>

      <NextTrack itemId={data.id} isTrack={data.kind === "TRACK"} ended={ended} onPlayNext={(nextId) => void playNext(nextId)} />
      <UpNext
        itemId={data.id}
        isEpisode={data.kind === "EPISODE"}
        active={choice === "ready" && !error}
        positionMs={position}
        durationMs={duration}
        ended={ended}
        onPlayNext={(nextId) => void playNext(nextId)}
      />

      {choice === "ask" && (
        <ResumeDialog
          title={data.title}
          resumeAtMs={resumeAt}
          durationMs={duration}
          onChoose={(fromMs) => {
            setChoice("ready");
            void start(fromMs);
          }}
        />
      )}

      {error && <PlayerError message={error} onRetry={() => void start(positionMs())} onLeave={() => void leave()} />}

      {choice === "ready" && !error && (
        <PlayerControls
          positionMs={position}
          durationMs={duration}
          paused={paused}
          muted={muted}
          audioStreams={audioStreams}
          session={current}
          subtitle={subtitle}
          engine={engine}
          onToggle={toggle}
          onSeekBy={seekBy}
          onSeekTo={seekTo}
          onToggleMute={() => video.current && (video.current.muted = !video.current.muted)}
          onAudio={(index) => void start(positionMs(), index, current?.decision.subtitleStream ?? null)}
          onSubtitle={(index) => {
            const track = current?.subtitles.find((s) => s.index === index);
            setSubtitle(index);
            if (track && !track.isText) void start(positionMs(), current?.decision.audioStream ?? null, index);
          }}
        />
      )}
    </div>
  );
}

function PlayRoute() {
  const params = useSearchParams();
  const id = params.get("id");
  const t = params.get("t");
  if (!id) return <ErrorMessage error="Nothing was chosen to play." />;
  return <Player key={id} id={id} startParam={t === null ? null : Number(t) || 0} />;
}

export default function PlayPage() {
  return (
    <main id="main" className="player-page">
      <Gate>
        <Suspense>
          <PlayRoute />
        </Suspense>
      </Gate>
    </main>
  );
}
