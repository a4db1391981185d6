import { graphql } from "@/gql";

export const PartyFields = graphql(`
  fragment PartyFields on WatchParty {
    id
    inviteCode
    codeExpiresAt
    control
    state
    positionMs
    stateChangedAt
    version
    playWhenReady
    waitDeadline
    endedAt
    item {
      id
      title
      runtimeMs
    }
    members {
      userId
      profileId
      displayName
      role
      isReady
      isOnline
      positionMs
    }
  }
`);

export const MessageFields = graphql(`
  fragment PartyMessageFields on PartyMessage {
    id
    body
    createdAt
    userId
    profileId
  }
`);

export const JoinParty = graphql(`
  mutation JoinWatchParty($code: String!) {
    joinWatchParty(code: $code) {
      ...PartyFields
    }
  }
`);

export const LeaveParty = graphql(`
  mutation LeaveWatchParty($partyId: ID!) {
    leaveWatchParty(partyId: $partyId)
  }
`);

export const PartyCommandMutation = graphql(`
  mutation WatchPartyCommand($partyId: ID!, $command: PartyCommand!, $positionMs: Int) {
    watchPartyCommand(partyId: $partyId, command: $command, positionMs: $positionMs) {
      ...PartyFields
    }
  }
`);

export const ReportPartyPosition = graphql(`
  mutation ReportWatchPartyPosition($partyId: ID!, $positionMs: Int!, $isReady: Boolean!, $latencyMs: Int) {
    reportWatchPartyPosition(partyId: $partyId, positionMs: $positionMs, isReady: $isReady, latencyMs: $latencyMs) {
      driftMs
      action
      rate
      seekToMs
      serverTime
      party {
        ...PartyFields
      }
    }
  }
`);

export const PartyEvents = graphql(`
  subscription WatchPartyEvents($partyId: ID!) {
    watchPartyEvents(partyId: $partyId) {
      kind
      serverTime
      party {
        ...PartyFields
      }
      message {
        ...PartyMessageFields
      }
    }
  }
`);

export const SendPartyMessage = graphql(`
  mutation SendWatchPartyMessage($partyId: ID!, $body: String!) {
    sendWatchPartyMessage(partyId: $partyId, body: $body) {
      ...PartyMessageFields
    }
  }
`);

export const PartyMessages = graphql(`
  query WatchPartyMessages($partyId: ID!) {
    watchPartyMessages(partyId: $partyId, last: 50) {
      ...PartyMessageFields
    }
  }
`);

export const ServerTimeQuery = graphql(`
  query ServerTime {
    serverTime
  }
`);

export const PartyPlayback = graphql(`
  mutation PartyStartPlayback($itemId: ID!, $deviceProfileName: String, $deviceId: String, $startPositionMs: Int) {
    startPlayback(itemId: $itemId, deviceProfileName: $deviceProfileName, deviceId: $deviceId, startPositionMs: $startPositionMs) {
      __typename
      ... on PlaybackSession {
        id
        streamUrl
        heartbeatIntervalMs
        decision {
          method
        }
      }
      ... on PlaybackError {
        code
        message
      }
    }
  }
`);

export const PartyHeartbeat = graphql(`
  mutation PartyHeartbeat($sessionId: ID!, $positionMs: Int!, $isPaused: Boolean) {
    reportProgress(sessionId: $sessionId, positionMs: $positionMs, isPaused: $isPaused) {
      sessionId
    }
  }
`);
