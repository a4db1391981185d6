"use client";
import { useMutation, useQuery } from "@apollo/client/react";
import { useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import { MeQuery } from "@/components/Gate";
import { Icon } from "@/components/Icon";
import { PartyChat } from "@/components/party/PartyChat";
import { JoinParty, LeaveParty, PartyCommandMutation, PartyMessages } from "@/components/party/operations";
import { usePartyPlayer } from "@/components/party/usePartyPlayer";
import { Shell } from "@/components/Shell";
import { ErrorMessage, Loading } from "@/components/Status";
import type { PartyCommand, PartyFieldsFragment, PartyMessageFieldsFragment } from "@/gql/graphql";
import { formatClock, humanError } from "@/lib/format";
import { mayControl } from "@/lib/party";
import { profileId } from "@/lib/tokens";

const STATE_LABELS: Record<PartyFieldsFragment["state"], string> = {
  PLAYING: "Playing",
  PAUSED: "Paused",
  WAITING: "Waiting for everyone to be ready…",
  ENDED: "This party has ended",
};

const ROLE_LABELS = { HOST: "Host", COHOST: "Co-host", MEMBER: "Member" } as const;

function Room({ initial }: { initial: PartyFieldsFragment }) {
  const router = useRouter();
  const me = useQuery(MeQuery);
  const history = useQuery(PartyMessages, { variables: { partyId: initial.id }, fetchPolicy: "network-only" });
  const [command] = useMutation(PartyCommandMutation);
  const [leave] = useMutation(LeaveParty);
  const [live, setLive] = useState<PartyMessageFieldsFragment[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const addMessage = useCallback((message: PartyMessageFieldsFragment) => setLive((list) => (list.some((m) => m.id === message.id) ? list : [...list, message])), []);
  const { attachVideo, party, positionMs, isReady, needsGesture, engine, error: playError, startsIn, resume, take } = usePartyPlayer(initial, addMessage);

  const myUser = me.data?.me?.id;
  const myProfile = profileId() ?? me.data?.me?.profiles[0]?.id;
  const mine = party.members.find((m) => m.userId === myUser && m.profileId === myProfile);
  const canControl = mayControl(party.control, mine?.role) && party.state !== "ENDED";
  const profiles = me.data?.me?.profiles ?? [];
  // A member by the profile name they joined with; someone who left (their chat stays) by their own profile's name, if it is ours, else as gone.
  const nameOf = (userId: string, profile: string) => {
    if (userId === myUser && profile === myProfile) return "You";
    const member = party.members.find((m) => m.userId === userId && m.profileId === profile);
    if (member?.displayName) return member.displayName;
    const own = userId === myUser ? profiles.find((p) => p.id === profile) : undefined;
    if (own) return own.name;
    return member ? `${ROLE_LABELS[member.role]} ${userId.slice(0, 4)}` : "A former member";
  };
  const messages = [...(history.data?.watchPartyMessages ?? []).filter((m) => !live.some((l) => l.id === m.id)), ...live].sort((a, b) =>
    a.createdAt.localeCompare(b.createdAt),
  );
  const invite = typeof window === "undefined" ? "" : `${window.location.origin}/party?code=${encodeURIComponent(party.inviteCode)}`;
  const duration = party.item.runtimeMs ?? 0;

  async function send(kind: PartyCommand, positionMs: number | null = null) {
    setProblem(null);
    try {
      const { data } = await command({ variables: { partyId: party.id, command: kind, positionMs } });
      if (data) take(data.watchPartyCommand);
    } catch (e) {
      setProblem(humanError(e));
    }
  }

  // A new party waits at the start without wanting to play; only a wait with playWhenReady is "playing".
  const playing = party.state === "PLAYING" || (party.state === "WAITING" && party.playWhenReady);
  const stateLabel = startsIn > 0 ? "Starting…" : party.state === "WAITING" && !party.playWhenReady ? "Not started yet" : STATE_LABELS[party.state];
  return (
    <div className="party">
      <div className="party-main">
        <div className="row-head">
          <h1 className="page-title">{party.item.title}</h1>
          <button
            className="button button-small button-ghost"
            onClick={async () => {
              await leave({ variables: { partyId: party.id } }).catch(() => undefined);
              router.push(`/item?id=${party.item.id}`);
            }}
          >
            Leave party
          </button>
        </div>
        <div className="party-stage">
          <video ref={attachVideo} className="party-video" playsInline preload="auto" aria-label={`Party video: ${party.item.title}`} />
          {needsGesture && (
            <button className="button button-primary party-gesture" onClick={resume}>
              <Icon name="play" /> Join playback
            </button>
          )}
        </div>
        <div className="party-bar">
          <button className="button button-icon" disabled={!canControl} onClick={() => void send(playing ? "PAUSE" : "PLAY")} aria-label={playing ? "Pause for everyone" : "Play for everyone"}>
            <Icon name={playing ? "pause" : "play"} />
          </button>
          <button className="button button-icon" disabled={!canControl} onClick={() => void send("SEEK", Math.max(0, positionMs - 10_000))} aria-label="Back 10 seconds for everyone">
            <Icon name="back10" />
          </button>
          <button className="button button-icon" disabled={!canControl} onClick={() => void send("SEEK", positionMs + 10_000)} aria-label="Forward 10 seconds for everyone">
            <Icon name="forward10" />
          </button>
          <span className="time">
            {formatClock(positionMs)} / {formatClock(duration)}
          </span>
          <span className="spacer" />
          <span className="party-state muted small" data-state={party.state} data-version={party.version} role="status">
            {stateLabel}
            {engine && <span data-engine={engine}> · {isReady ? "ready" : "buffering"}</span>}
          </span>
        </div>
        {!canControl && party.state !== "ENDED" && <p className="muted small">Only the host controls playback in this party.</p>}
        {playError && <ErrorMessage error={playError} title="Can't play this" />}
        {problem && <ErrorMessage error={problem} />}
      </div>
      <aside className="party-side">
        <section className="card-panel" aria-labelledby="party-invite">
          <h2 id="party-invite">Invite</h2>
          <p className="muted small">Share the code or the link. It works until {new Date(party.codeExpiresAt).toLocaleString()}.</p>
          <p className="secret party-code" aria-label="Invite code">{party.inviteCode}</p>
          <div className="toolbar">
            <input readOnly aria-label="Invite link" value={invite} className="party-link" onFocus={(e) => e.target.select()} />
            <button
              className="button button-small"
              onClick={() => {
                void navigator.clipboard?.writeText(invite).then(() => setCopied(true), () => undefined);
              }}
            >
              {copied ? "Copied" : "Copy link"}
            </button>
          </div>
        </section>
        <section className="card-panel" aria-labelledby="party-members">
          <h2 id="party-members">Watching ({party.members.length})</h2>
          <ul className="list" aria-label="Members">
            {party.members.map((member) => (
              <li key={`${member.userId}:${member.profileId}`} data-ready={member.isReady} data-online={member.isOnline}>
                <div className="library-entry">
                  <strong>{nameOf(member.userId, member.profileId)}</strong>
                  <span className="muted small">
                    {ROLE_LABELS[member.role]} · {member.isOnline ? (member.isReady ? "ready" : "not ready") : "offline"} · {formatClock(member.positionMs)}
                  </span>
                </div>
                <span className={`presence ${member.isOnline ? (member.isReady ? "is-ready" : "is-waiting") : ""}`} aria-hidden="true" />
              </li>
            ))}
          </ul>
        </section>
        <PartyChat partyId={party.id} messages={messages} nameOf={nameOf} onSent={addMessage} />
      </aside>
    </div>
  );
}

function JoinRoute() {
  const params = useSearchParams();
  const code = params.get("code");
  const [join, { data, error }] = useMutation(JoinParty);
  const asked = useRef<string | null>(null);
  useEffect(() => {
    if (!code || asked.current === code) return;
    asked.current = code;
    void join({ variables: { code } }).catch(() => undefined);
  }, [code, join]);
  if (!code) return <ErrorMessage error="Open an invite link, or start a party from a title's page." title="No invite code" />;
  if (error) return <ErrorMessage error={error} title="Can't join this party" />;
  if (!data) return <Loading label="Joining the party" />;
  return <Room key={data.joinWatchParty.id} initial={data.joinWatchParty} />;
}

export default function PartyPage() {
  return (
    <Shell>
      <JoinRoute />
    </Shell>
  );
}
