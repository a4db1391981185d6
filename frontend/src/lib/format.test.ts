import { describe, expect, it } from "vitest";
import { formatClock, formatRuntime, humanError, plural } from "./format";

describe("format", () => {
  it("formats clocks", () => {
    expect(formatClock(0)).toBe("0:00");
    expect(formatClock(4_200)).toBe("0:04");
    expect(formatClock(3_725_000)).toBe("1:02:05");
  });

  it("formats runtimes", () => {
    expect(formatRuntime(null)).toBeNull();
    expect(formatRuntime(20_000)).toBe("20s");
    expect(formatRuntime(8_160_000)).toBe("2h 16m");
  });

  it("turns errors into sentences", () => {
    expect(humanError({ errors: [{ message: "x", extensions: { code: "UNAUTHENTICATED" } }] })).toBe(
      "Your session has ended. Please sign in again.",
    );
    expect(humanError(new TypeError("Failed to fetch"))).toMatch(/Can't reach/);
    expect(plural(1, "file")).toBe("1 file");
    expect(plural(3, "file")).toBe("3 files");
  });
});
