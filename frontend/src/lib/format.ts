/** Formatting shared by the screens: durations, and errors as sentences a person can act on. */

export function formatClock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const mm = hours > 0 ? String(minutes).padStart(2, "0") : String(minutes);
  const ss = String(seconds).padStart(2, "0");
  return hours > 0 ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function formatRuntime(ms: number | null | undefined): string | null {
  if (!ms || ms <= 0) return null;
  const minutes = Math.round(ms / 60000);
  if (minutes < 1) return `${Math.max(1, Math.round(ms / 1000))}s`;
  if (minutes < 60) return `${minutes}m`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

type GraphQLErrorLike = { message: string; extensions?: Record<string, unknown> | null };
type ErrorShape = { errors?: readonly GraphQLErrorLike[]; message?: string; name?: string };

const BY_CODE: Record<string, string> = {
  UNAUTHENTICATED: "Your session has ended. Please sign in again.",
  FORBIDDEN: "You don't have permission to do that.",
  NOT_FOUND: "That doesn't exist any more.",
  RATE_LIMITED: "Too many attempts. Wait a moment and try again.",
  BAD_USER_INPUT: "Something in the form isn't right.",
  INTERNAL: "The server hit a problem. Try again in a moment.",
};

/** A sentence for any error Apollo hands us: GraphQL errors by code, network trouble plainly. */
export function humanError(error: unknown): string {
  if (!error) return "Something went wrong.";
  const shape = error as ErrorShape;
  const first = shape.errors?.[0];
  if (first) {
    const code = typeof first.extensions?.code === "string" ? first.extensions.code : "";
    if (code === "BAD_USER_INPUT" && first.message) return first.message;
    return BY_CODE[code] ?? first.message ?? "Something went wrong.";
  }
  const message = shape.message ?? String(error);
  if (/Failed to fetch|NetworkError|Load failed|ECONNREFUSED/i.test(message)) {
    return "Can't reach the Revenge server. Check that it is running, then try again.";
  }
  if (/status code 5\d\d/i.test(message)) return "The server hit a problem. Try again in a moment.";
  return message || "Something went wrong.";
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}
