// The join form: room and display name (prefilled from the URL), and the last error.
import { type FormEvent, useState } from 'react';
import { ROOM_PATTERN } from '../config.ts';

interface Props {
  initialRoom: string;
  initialName: string;
  error: string | null;
  onJoin(room: string, name: string): void;
}

export function JoinForm({ initialRoom, initialName, error, onJoin }: Props) {
  const [room, setRoom] = useState(initialRoom);
  const [name, setName] = useState(initialName);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onJoin(room.trim(), name.trim());
  };

  return (
    <form className="join-form card" onSubmit={submit}>
      <h2>Join a call</h2>
      <label>
        Room
        <input
          data-testid="join-room"
          value={room}
          onChange={(e) => setRoom(e.target.value)}
          required
          maxLength={64}
          pattern={ROOM_PATTERN}
          title="Letters, digits, '.', '_' and '-'; starting with a letter or digit"
        />
      </label>
      <label>
        Your name
        <input
          data-testid="join-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={64}
          placeholder="optional"
        />
      </label>
      <button type="submit" data-testid="join-button">
        Join
      </button>
      {error !== null && (
        <p className="error" role="alert" data-testid="join-error">
          {error}
        </p>
      )}
    </form>
  );
}
