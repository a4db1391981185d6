// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Countdown } from "./UpNext";

const storm = { id: "e2", title: "The Storm", seasonNumber: 1, episodeNumber: 2 };

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("next-episode countdown", () => {
  it("names the next episode, focuses Play now, and plays when it reaches 0", () => {
    const play = vi.fn();
    render(<Countdown next={storm} onPlay={play} onCancel={vi.fn()} />);
    const dialog = screen.getByRole("dialog", { name: /^Next episode: S01E02 · The Storm/ });
    expect(dialog.querySelector("#up-next-text")?.textContent).toBe("Next episode: S01E02 · The Storm — starting in 10 s");
    expect(document.activeElement?.textContent).toBe("Play now");
    act(() => void vi.advanceTimersByTime(3_100));
    expect(dialog.querySelector("#up-next-text")?.textContent).toContain("starting in 7 s");
    expect(play).not.toHaveBeenCalled();
    act(() => void vi.advanceTimersByTime(8_000));
    expect(play).toHaveBeenCalledTimes(1);
  });

  it("plays now or cancels on request; Esc cancels without reaching the player's own Esc", () => {
    const play = vi.fn();
    const cancel = vi.fn();
    const playerKeys = vi.fn();
    window.addEventListener("keydown", playerKeys);
    render(<Countdown next={storm} onPlay={play} onCancel={cancel} />);
    fireEvent.click(screen.getByRole("button", { name: "Play now" }));
    expect(play).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    fireEvent.keyDown(document.activeElement ?? document.body, { key: "Escape" });
    expect(cancel).toHaveBeenCalledTimes(2);
    expect(playerKeys).not.toHaveBeenCalled();
    window.removeEventListener("keydown", playerKeys);
  });
});
