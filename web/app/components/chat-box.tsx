// Chat over the peers' data channels: the log (newest at the bottom) and an input.
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { type ChatLine, MAX_CHAT_CHARS } from '../call-store.ts';

export function ChatBox({ lines, onSend }: { lines: ChatLine[]; onSend(text: string): void }) {
  const [text, setText] = useState('');
  const log = useRef<HTMLOListElement>(null);
  const inputId = useId();

  useEffect(() => {
    const element = log.current;
    if (element !== null && lines.length > 0) element.scrollTop = element.scrollHeight;
  }, [lines]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() === '') return;
    onSend(text);
    setText('');
  };

  return (
    <section className="chat" aria-label="Chat">
      <ol className="chat-log" data-testid="chat-log" ref={log} aria-live="polite">
        {lines.length === 0 && <li className="muted">No messages yet.</li>}
        {lines.map((line) => (
          <li key={line.id} className={line.from === null ? 'mine' : undefined}>
            <span className="chat-name">{line.from === null ? 'You' : line.name}</span>
            <span className="chat-text">{line.text}</span>
          </li>
        ))}
      </ol>
      <form className="chat-form" onSubmit={submit}>
        <label htmlFor={inputId} className="sr-only">
          Message
        </label>
        <input
          id={inputId}
          data-testid="chat-input"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Message everyone"
          maxLength={MAX_CHAT_CHARS}
          autoComplete="off"
        />
        <button type="submit" className="primary">
          Send
        </button>
      </form>
    </section>
  );
}
