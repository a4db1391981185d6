// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Empty, ErrorMessage, Loading } from "./Status";

afterEach(cleanup);

describe("ErrorMessage", () => {
  it("says what went wrong as an alert and retries on request", () => {
    const retry = vi.fn();
    render(<ErrorMessage title="Could not load the library" error="The server did not answer." onRetry={retry} />);

    const alert = screen.getByRole("alert");
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));

    expect(alert.textContent).toContain("Could not load the library");
    expect(alert.textContent).toContain("The server did not answer.");
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it("offers no retry button without a retry action", () => {
    render(<ErrorMessage error="Nope." />);

    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.getByRole("alert").textContent).toContain("Something went wrong");
  });
});

describe("Loading and Empty", () => {
  it("announces loading politely and names an empty state", () => {
    render(
      <>
        <Loading label="Loading movies" />
        <Empty title="No movies yet">Add a folder to this library.</Empty>
      </>,
    );

    expect(screen.getByRole("status").textContent).toBe("Loading movies…");
    expect(screen.getByRole("heading", { name: "No movies yet" })).toBeTruthy();
  });
});
