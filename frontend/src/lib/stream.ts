/**
 * Attaches a playback session's stream to a <video>: a file (direct play or remux) through
 * `src`, HLS through hls.js over Media Source Extensions, or the browser's own HLS on Apple's
 * players. hls.js is loaded only when a stream needs it.
 */
import { deviceProfileName } from "./device";

export type Engine = "file" | "hls.js" | "native" | "none";
export type Attached = { engine: Engine; destroy(): void };

/**
 * How to play an HLS stream. hls.js wherever Media Source Extensions run: Chromium's own HLS
 * (canPlayType answers "maybe" since Chrome 141) is newer and seeks less reliably. Apple's
 * players keep their native HLS, which is what the safari/ios profiles were written for.
 */
export async function hlsEngine(element: HTMLVideoElement): Promise<Engine> {
  const native = element.canPlayType("application/vnd.apple.mpegurl") !== "";
  const profile = deviceProfileName();
  if (native && (profile === "safari" || profile === "ios")) return "native";
  const { default: Hls } = await import("hls.js");
  if (Hls.isSupported()) return "hls.js";
  return native ? "native" : "none";
}

/** Plays `url` in `element` from `startSeconds`; `onFatal` hears a stream that broke for good. */
export async function attachStream(
  element: HTMLVideoElement,
  url: string,
  isHls: boolean,
  startSeconds: number,
  onFatal: (message: string) => void,
): Promise<Attached> {
  const engine = isHls ? await hlsEngine(element) : "file";
  if (engine === "none") {
    onFatal("This browser can't play this stream.");
    return { engine, destroy() {} };
  }
  if (engine === "hls.js") {
    const { default: Hls } = await import("hls.js");
    const player = new Hls({ startPosition: startSeconds });
    player.loadSource(url);
    player.attachMedia(element);
    player.on(Hls.Events.ERROR, (_event, details) => {
      if (!details.fatal) return;
      console.error(`hls.js: ${details.type} ${details.details}${details.error ? ` (${details.error.message})` : ""}`);
      onFatal("The stream stopped unexpectedly. Try again.");
    });
    return { engine, destroy: () => player.destroy() };
  }
  element.src = url;
  if (startSeconds > 0) {
    element.addEventListener("loadedmetadata", () => (element.currentTime = startSeconds), { once: true });
  }
  return {
    engine,
    destroy() {
      element.removeAttribute("src");
      element.load();
    },
  };
}
