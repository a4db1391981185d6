import type { NextConfig } from "next";
import { PHASE_DEVELOPMENT_SERVER } from "next/constants";

/** The REST and GraphQL prefixes `next dev` forwards to a running Revenge server. */
const PROXIED = ["graphql", "stream", "hls", "images", "subtitles", "trickplay", "remux"];

export default function config(phase: string): NextConfig {
  const shared: NextConfig = {
    reactStrictMode: true,
    poweredByHeader: false,
    images: { unoptimized: true },
    trailingSlash: false,
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const target = (process.env.REVENGE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
    return {
      ...shared,
      async rewrites() {
        return PROXIED.flatMap((prefix) => [
          { source: `/${prefix}`, destination: `${target}/${prefix}` },
          { source: `/${prefix}/:path*`, destination: `${target}/${prefix}/:path*` },
        ]);
      },
    };
  }
  return { ...shared, output: "export" };
}
