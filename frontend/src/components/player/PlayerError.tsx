"use client";

/** Why the title can't play, with "Try again" (from where it was) and "Go back". */
export function PlayerError({ message, onRetry, onLeave }: { message: string; onRetry: () => void; onLeave: () => void }) {
  return (
    <div className="dialog-backdrop">
      <div className="dialog" role="alertdialog" aria-labelledby="player-error">
        <h2 id="player-error">Can&apos;t play this</h2>
        <p>{message}</p>
        <div className="actions">
          <button className="button button-primary" onClick={onRetry} autoFocus>
            Try again
          </button>
          <button className="button" onClick={onLeave}>
            Go back
          </button>
        </div>
      </div>
    </div>
  );
}
