// Chat over the peers' data channels: the log (newest at the bottom) and an input.
import { type FormEvent, useEffect, useRef, useState } from 'react';
import type { ChatLine } from '../call-store.ts';

export function ChatBox({ lines, onSend }: { lines: ChatLine[]; onSend(text: string): void }) {
  const [text, setText] = useState('');
  const log = useRef<HTMLOListElement>(null);

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
    <section className="chat card">
      <h2>Chat</h2>
      <ol className="chat-log" data-testid="chat-log" ref={log}>
        {lines.map((line) => (
          <li key={line.id} className={line.from === null ? 'mine' : undefined}>
            <span className="chat-name">{line.from === null ? 'you' : line.name}</span>
            <span className="chat-text">{line.text}</span>
          </li>
        ))}
      </ol>
      <form className="chat-form" onSubmit={submit}>
        <input
          data-testid="chat-input"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Message everyone"
          maxLength={2000}
        />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}
