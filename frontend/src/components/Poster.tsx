"use client";
import Link from "next/link";
import { useState } from "react";
import { BlurhashCanvas } from "./Blurhash";

export type ImageLike = { type: string; url: string; blurhash: string | null };

export function pickImage(images: readonly ImageLike[] | null | undefined, ...types: string[]): ImageLike | null {
  for (const type of types) {
    const found = images?.find((image) => image.type === type);
    if (found) return found;
  }
  return null;
}

function initials(title: string): string {
  return title
    .split(/\s+/)
    .filter((word) => /^[\p{L}\p{N}]/u.test(word) && !/^(the|a|an|of)$/i.test(word))
    .slice(0, 2)
    .map((word) => word[0]!.toUpperCase())
    .join("");
}

function hue(text: string): number {
  let h = 0;
  for (const char of text) h = (h * 31 + char.charCodeAt(0)) % 360;
  return h;
}

export function Artwork({ image, title, shape = "poster" }: { image: ImageLike | null; title: string; shape?: "poster" | "wide" | "square" }) {
  const [loaded, setLoaded] = useState(false);
  const [failed, setFailed] = useState(false);
  const h = hue(title);
  return (
    <div
      className={`artwork artwork-${shape}`}
      style={{ background: `linear-gradient(160deg, hsl(${h} 35% 26%), hsl(${(h + 40) % 360} 40% 12%))` }}
    >
      {image?.blurhash && !loaded && <BlurhashCanvas hash={image.blurhash} className="artwork-blur" />}
      {(!image || failed) && <span className="artwork-initials" aria-hidden="true">{initials(title)}</span>}
      {image && !failed && (
        /* eslint-disable-next-line @next/next/no-img-element -- static export: images come from the API */
        <img
          src={image.url}
          alt=""
          loading="lazy"
          decoding="async"
          className={loaded ? "artwork-img is-loaded" : "artwork-img"}
          onLoad={() => setLoaded(true)}
          onError={() => setFailed(true)}
        />
      )}
    </div>
  );
}

export type CardItem = {
  id: string;
  title: string;
  year: number | null;
  kind: string;
  runtimeMs?: number | null;
  images: readonly ImageLike[];
  userData?: { isPlayed: boolean; positionMs: number } | null;
  series?: { title: string } | null;
  seasonNumber?: number | null;
  episodeNumber?: number | null;
};

export function PosterCard({ item, shape = "poster" }: { item: CardItem; shape?: "poster" | "wide" | "square" }) {
  const image =
    shape === "wide" ? pickImage(item.images, "THUMB", "BACKDROP", "POSTER") : pickImage(item.images, "POSTER", "THUMB");
  const progress =
    item.userData && item.runtimeMs && item.userData.positionMs > 0
      ? Math.min(100, (item.userData.positionMs / item.runtimeMs) * 100)
      : 0;
  const episode =
    item.kind === "EPISODE" && item.seasonNumber != null && item.episodeNumber != null
      ? `S${item.seasonNumber} · E${item.episodeNumber}`
      : null;
  const subtitle = item.series?.title ? `${item.series.title}${episode ? ` · ${episode}` : ""}` : item.year ?? "";
  return (
    <Link href={`/item?id=${encodeURIComponent(item.id)}`} className={`card card-${shape}`} aria-label={`${item.series?.title ? item.series.title + ", " : ""}${item.title}${item.year ? ` (${item.year})` : ""}`}>
      <div className="card-art">
        <Artwork image={image} title={item.series?.title ?? item.title} shape={shape} />
        {item.userData?.isPlayed && (
          <span className="badge-played" title="Played" aria-hidden="true">
            ✓
          </span>
        )}
        {progress > 0 && (
          <span className="card-progress" aria-hidden="true">
            <span style={{ width: `${progress}%` }} />
          </span>
        )}
      </div>
      <span className="card-title">{item.title}</span>
      {subtitle !== "" && <span className="card-sub">{subtitle}</span>}
    </Link>
  );
}
