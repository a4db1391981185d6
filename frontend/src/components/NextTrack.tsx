"use client";
import { useQuery } from "@apollo/client/react";
import { useEffect, useRef } from "react";
import { graphql } from "@/gql";
import { nextTrack } from "@/lib/upNext";

const AlbumTracks = graphql(`
  query AlbumTracks($id: ID!) {
    item(id: $id) {
      id
      parent {
        id
        kind
        children(first: 500) {
          nodes {
            id
            kind
            title
            discNumber
            trackNumber
            isMissing
          }
        }
      }
    }
  }
`);

type Props = {
  /** The track playing now. */
  itemId: string;
  /** Only tracks go on to the next one; false skips the lookup. */
  isTrack: boolean;
  ended: boolean;
  /** Stop this track and open ``nextId``'s player. */
  onPlayNext: (nextId: string) => void;
};

/** An album plays on: when a track ends, the next one (by disc and track number) starts, as a CD player would. Renders nothing. */
export function NextTrack({ itemId, isTrack, ended, onPlayNext }: Props) {
  const { data } = useQuery(AlbumTracks, { variables: { id: itemId }, skip: !isTrack });
  const album = data?.item?.parent;
  const next = album?.kind === "ALBUM" ? nextTrack(itemId, album.children.nodes) : null;
  const onNext = useRef(onPlayNext);
  useEffect(() => {
    onNext.current = onPlayNext;
  });
  useEffect(() => {
    if (ended && next) onNext.current(next.id);
  }, [ended, next]);
  return null;
}
