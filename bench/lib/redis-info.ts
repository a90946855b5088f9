// A minimal Redis client for the bench's own readings: PING and INFO over one loopback socket,
// inline commands and bulk replies only, so watching Redis costs it one command per reading.
import { Socket } from 'node:net';

export class RedisInfoClient {
  readonly #socket: Socket;
  #buffer = '';
  #waiting: Array<{ resolve: (reply: string) => void; reject: (error: Error) => void }> = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      this.#drain();
    });
    const fail = (error: Error): void => {
      this.#closed = true;
      for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('redis connection closed')));
  }

  static connect(port: number, timeoutMs = 1000): Promise<RedisInfoClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`redis on port ${port}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.connect(port, '127.0.0.1', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RedisInfoClient(socket));
      });
    });
  }

  /** One inline command; the reply's text (a status line, an error line or a bulk string). */
  command(line: string, timeoutMs = 2000): Promise<string> {
    if (this.#closed) return Promise.reject(new Error('redis connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis: no reply to ${line} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiting.push({
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.write(`${line}\r\n`);
    });
  }

  /** INFO <section> as name → value. */
  async info(section: string): Promise<Map<string, string>> {
    const text = await this.command(`INFO ${section}`);
    const fields = new Map<string, string>();
    for (const line of text.split('\r\n')) {
      const at = line.indexOf(':');
      if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1));
    }
    return fields;
  }

  close(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  #drain(): void {
    for (;;) {
      const end = this.#buffer.indexOf('\r\n');
      if (end < 0 || this.#waiting.length === 0) return;
      const head = this.#buffer.slice(0, end);
      let reply: string;
      if (head.startsWith('$')) {
        const length = Number(head.slice(1));
        // Redis counts bytes; INFO's text is ASCII, so characters are bytes.
        if (length < 0) reply = '';
        else {
          if (this.#buffer.length < end + 2 + length + 2) return;
          reply = this.#buffer.slice(end + 2, end + 2 + length);
          this.#buffer = this.#buffer.slice(end + 2 + length + 2);
          this.#waiting.shift()!.resolve(reply);
          continue;
        }
      } else reply = head;
      this.#buffer = this.#buffer.slice(end + 2);
      this.#waiting.shift()!.resolve(reply);
    }
  }
}

/** `INFO commandstats` as command → calls. */
export function commandCalls(fields: ReadonlyMap<string, string>): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [key, value] of fields) {
    const match = /^cmdstat_(.+)$/.exec(key);
    const count = /calls=(\d+)/.exec(value);
    if (match !== null && count !== null) calls[match[1]!] = Number(count[1]);
  }
  return calls;
}
