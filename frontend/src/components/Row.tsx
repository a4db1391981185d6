"use client";
import Link from "next/link";
import type { ReactNode } from "react";
import { PosterCard, type CardItem } from "./Poster";

/** A titled horizontal shelf of cards that scrolls sideways (and with the arrow keys). */
export function Row({ title, items, shape = "poster", more }: { title: string; items: readonly CardItem[]; shape?: "poster" | "wide" | "square"; more?: { href: string; label: string } }): ReactNode {
  if (items.length === 0) return null;
  const id = `row-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <section className="row" aria-labelledby={id}>
      <div className="row-head">
        <h2 id={id}>{title}</h2>
        {more && (
          <Link href={more.href} className="row-more">
            {more.label} →
          </Link>
        )}
      </div>
      <ul className={`row-list row-${shape}`}>
        {items.map((item) => (
          <li key={item.id}>
            <PosterCard item={item} shape={shape} />
          </li>
        ))}
      </ul>
    </section>
  );
}
