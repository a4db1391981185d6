/** The player's GraphQL operations and what the player's parts share about a session. */
import { graphql } from "@/gql";
import type { StartPlaybackMutation } from "@/gql/graphql";

export const PlayerItem = graphql(`
  query PlayerItem($id: ID!) {
    item(id: $id) {
      id
      kind
      title
      runtimeMs
      seasonNumber
      episodeNumber
      series {
        id
        title
      }
      userData {
        positionMs
        isPlayed
      }
      files {
        id
        durationMs
        isMissing
        streams {
          index
          type
          codec
          language
          title
          channels
          isDefault
        }
      }
    }
  }
`);

export const StartPlayback = graphql(`
  mutation StartPlayback($itemId: ID!, $deviceProfileName: String, $deviceId: String, $startPositionMs: Int, $audioStream: Int, $subtitleStream: Int) {
    startPlayback(
      itemId: $itemId
      deviceProfileName: $deviceProfileName
      deviceId: $deviceId
      startPositionMs: $startPositionMs
      audioStream: $audioStream
      subtitleStream: $subtitleStream
    ) {
      __typename
      ... on PlaybackSession {
        id
        fileId
        streamUrl
        heartbeatIntervalMs
        positionMs
        decision {
          method
          audioStream
          subtitleStream
          subtitleDelivery
          reasons
        }
        subtitles {
          index
          language
          title
          isText
          isDefault
          isForced
          webvttUrl
        }
      }
      ... on PlaybackError {
        code
        message
      }
    }
  }
`);

export const ReportProgress = graphql(`
  mutation ReportProgress($sessionId: ID!, $positionMs: Int!, $isPaused: Boolean, $bufferedMs: Int) {
    reportProgress(sessionId: $sessionId, positionMs: $positionMs, isPaused: $isPaused, bufferedMs: $bufferedMs) {
      sessionId
      resumePositionMs
      isPlayed
    }
  }
`);

export const StopPlayback = graphql(`
  mutation StopPlayback($sessionId: ID!) {
    stopPlayback(sessionId: $sessionId) {
      sessionId
    }
  }
`);

export type Session = Extract<StartPlaybackMutation["startPlayback"], { __typename: "PlaybackSession" }>;
export type HlsLike = { destroy(): void };

export const PLAYBACK_ERRORS: Record<string, string> = {
  NO_PLAYABLE_FILE: "There is no playable file for this title.",
  STREAM_LIMIT_REACHED: "Too many streams are playing on this account. Stop one and try again.",
  TRANSCODING_UNAVAILABLE: "This file needs converting, and the server can't convert right now.",
  NOT_FOUND: "This title is no longer available.",
};

export function languageName(code: string | null): string | null {
  if (!code) return null;
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code) ?? code;
  } catch {
    return code;
  }
}
