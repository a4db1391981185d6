import { graphql } from "@/gql";

export const CardFields = graphql(`
  fragment CardFields on MediaItem {
    id
    title
    year
    kind
    runtimeMs
    seasonNumber
    episodeNumber
    images {
      id
      type
      url
      blurhash
    }
    userData {
      isPlayed
      positionMs
    }
    series {
      id
      title
    }
  }
`);
