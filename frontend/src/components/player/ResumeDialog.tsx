"use client";
import { formatClock } from "@/lib/format";

type Props = {
  title: string;
  resumeAtMs: number;
  durationMs: number;
  /** Where to start: the saved position, or 0. */
  onChoose: (fromMs: number) => void;
};

/** "Resume Night Train?": from the saved position, or from the beginning. */
export function ResumeDialog({ title, resumeAtMs, durationMs, onChoose }: Props) {
  return (
    <div className="dialog-backdrop">
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="resume-title">
        <h2 id="resume-title">Resume {title}?</h2>
        <p className="muted">You stopped at {formatClock(resumeAtMs)}{durationMs ? ` of ${formatClock(durationMs)}` : ""}.</p>
        <div className="actions">
          <button className="button button-primary" autoFocus onClick={() => onChoose(resumeAtMs)}>
            Resume from {formatClock(resumeAtMs)}
          </button>
          <button className="button" onClick={() => onChoose(0)}>
            Start from the beginning
          </button>
        </div>
      </div>
    </div>
  );
}
