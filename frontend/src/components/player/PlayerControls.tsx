"use client";
import { Icon } from "@/components/Icon";
import type { PlayerItemQuery } from "@/gql/graphql";
import { formatClock } from "@/lib/format";
import type { Engine } from "@/lib/stream";
import { languageName, type Session } from "./operations";

type Stream = NonNullable<PlayerItemQuery["item"]>["files"][number]["streams"][number];

type Props = {
  positionMs: number;
  durationMs: number;
  paused: boolean;
  muted: boolean;
  /** The file's audio tracks; a picker shows when there is more than one. */
  audioStreams: readonly Stream[];
  session: Session | null;
  /** The subtitle track on (null: off). */
  subtitle: number | null;
  engine: Engine;
  onToggle: () => void;
  onSeekBy: (deltaMs: number) => void;
  onSeekTo: (targetMs: number) => void;
  onToggleMute: () => void;
  onAudio: (index: number) => void;
  onSubtitle: (index: number | null) => void;
};

/** The seek bar and the buttons under the picture: play/pause, ±10 s, audio and subtitle tracks, mute, full screen, and how it plays. */
export function PlayerControls(props: Props) {
  const { positionMs, durationMs, paused, muted, audioStreams, session, subtitle, engine } = props;
  return (
    <div className="player-controls">
      <input
        type="range"
        className="seek"
        aria-label="Seek"
        min={0}
        max={Math.max(1, durationMs)}
        step={1000}
        value={Math.min(positionMs, durationMs || positionMs)}
        aria-valuetext={`${formatClock(positionMs)} of ${formatClock(durationMs)}`}
        onChange={(e) => props.onSeekTo(Number(e.target.value))}
      />
      <div className="player-bar">
        <button className="button button-icon" onClick={props.onToggle} aria-label={paused ? "Play" : "Pause"}>
          <Icon name={paused ? "play" : "pause"} />
        </button>
        <button className="button button-icon" onClick={() => props.onSeekBy(-10_000)} aria-label="Back 10 seconds">
          <Icon name="back10" />
        </button>
        <button className="button button-icon" onClick={() => props.onSeekBy(10_000)} aria-label="Forward 10 seconds">
          <Icon name="forward10" />
        </button>
        <span className="time" aria-live="off">
          {formatClock(positionMs)} / {formatClock(durationMs)}
        </span>
        <span className="spacer" />
        {audioStreams.length > 1 && (
          <select aria-label="Audio track" value={session?.decision.audioStream ?? ""} onChange={(e) => props.onAudio(Number(e.target.value))}>
            {audioStreams.map((s) => (
              <option key={s.index} value={s.index}>
                {s.title ?? languageName(s.language) ?? `Track ${s.index}`}
                {s.channels ? ` · ${s.channels > 2 ? `${s.channels - 1}.1` : "stereo"}` : ""}
              </option>
            ))}
          </select>
        )}
        {(session?.subtitles.length ?? 0) > 0 && (
          <select aria-label="Subtitles" value={subtitle ?? ""} onChange={(e) => props.onSubtitle(e.target.value === "" ? null : Number(e.target.value))}>
            <option value="">Subtitles off</option>
            {session?.subtitles.map((s) => (
              <option key={s.index} value={s.index}>
                {s.title ?? languageName(s.language) ?? `Track ${s.index}`}
                {s.isForced ? " (forced)" : ""}
              </option>
            ))}
          </select>
        )}
        <button className="button button-icon" onClick={props.onToggleMute} aria-label={muted ? "Unmute" : "Mute"}>
          <Icon name={muted ? "muted" : "volume"} />
        </button>
        <button
          className="button button-icon"
          onClick={() => (document.fullscreenElement ? void document.exitFullscreen() : void document.querySelector(".player")?.requestFullscreen?.())}
          aria-label="Full screen"
        >
          <Icon name="fullscreen" />
        </button>
      </div>
      {session && (
        <p className="player-method muted small" data-method={session.decision.method} data-engine={engine}>
          {session.decision.method === "DIRECT_PLAY" ? "Direct play" : session.decision.method === "REMUX" ? "Direct stream" : "Converting"}
        </p>
      )}
    </div>
  );
}
