"use client";
import { decode } from "blurhash";
import { useEffect, useRef } from "react";

/** A BlurHash painted on a small canvas that CSS stretches under the real image. */
export function BlurhashCanvas({ hash, className }: { hash: string; className?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    const context = canvas?.getContext("2d");
    if (!canvas || !context) return;
    try {
      const pixels = decode(hash, 32, 32);
      const image = context.createImageData(32, 32);
      image.data.set(pixels);
      context.putImageData(image, 0, 0);
    } catch {
      /* an invalid hash leaves the plain background */
    }
  }, [hash]);
  return <canvas ref={ref} width={32} height={32} className={className} aria-hidden="true" />;
}
