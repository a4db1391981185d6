"use client";
import { useMutation } from "@apollo/client/react";
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { PartyMessageFieldsFragment } from "@/gql/graphql";
import { humanError } from "@/lib/format";
import { SendPartyMessage } from "./operations";

/** The party's chat: the history, then what arrives on the party's events. */
export function PartyChat({
  partyId,
  messages,
  nameOf,
  onSent,
}: {
  partyId: string;
  messages: readonly PartyMessageFieldsFragment[];
  nameOf: (userId: string, profileId: string) => string;
  onSent: (message: PartyMessageFieldsFragment) => void;
}) {
  const [send, { loading }] = useMutation(SendPartyMessage);
  const [body, setBody] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: "nearest" });
  }, [messages.length]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const text = body.trim();
    if (!text) return;
    setProblem(null);
    try {
      const { data } = await send({ variables: { partyId, body: text } });
      if (data) onSent(data.sendWatchPartyMessage);
      setBody("");
    } catch (e) {
      setProblem(humanError(e));
    }
  }

  return (
    <section className="card-panel party-chat" aria-labelledby="party-chat">
      <h2 id="party-chat">Chat</h2>
      <ol className="chat-log" ref={list} aria-live="polite" aria-label="Messages">
        {messages.length === 0 && <li className="muted small">No messages yet. Say hello.</li>}
        {messages.map((message) => (
          <li key={message.id}>
            <span className="chat-author">{nameOf(message.userId, message.profileId)}</span>
            <span className="muted small"> {new Date(message.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</span>
            <p>{message.body}</p>
          </li>
        ))}
      </ol>
      <form className="toolbar" onSubmit={submit}>
        <input aria-label="Message" placeholder="Message the party" value={body} maxLength={500} onChange={(e) => setBody(e.target.value)} className="chat-input" />
        <button className="button button-small" type="submit" disabled={loading || !body.trim()}>
          Send
        </button>
      </form>
      {problem && <p className="muted small" role="alert">{problem}</p>}
    </section>
  );
}
