// The broker URLs a session may ask, tried in order: one BrokerClient per URL (made when first
// needed), and a broker that cannot be reached or stops answering hands over to the next URL.

import type { SessionAssigned } from '../../shared/protocol/broker.ts';
import { BrokerClient, type BrokerClientOptions, type SessionRequestInput } from './broker-client.ts';
import { UsherClientError } from './errors.ts';

export type BrokerPoolOptions = Omit<BrokerClientOptions, 'url'> & { urls: readonly string[] };

export class BrokerPool {
  readonly #options: BrokerPoolOptions;
  readonly #clients = new Map<number, BrokerClient>();
  #index = 0;
  #closed = false;

  constructor(options: BrokerPoolOptions) {
    if (options.urls.length === 0) {
      throw new UsherClientError('INVALID_STATE', 'no broker URL: pass brokerUrl or brokerUrls');
    }
    this.#options = options;
  }

  /** The URL the next request goes to. */
  get url(): string {
    return this.#options.urls[this.#index]!;
  }

  request(input: SessionRequestInput): Promise<SessionAssigned> {
    if (this.#closed) return Promise.reject(UsherClientError.aborted());
    let client = this.#clients.get(this.#index);
    if (client === undefined) {
      const { urls: _urls, ...rest } = this.#options;
      client = new BrokerClient({ ...rest, url: this.url });
      this.#clients.set(this.#index, client);
    }
    return client.request(input);
  }

  /** Move on to the next URL (wrapping around); the current one keeps no socket open. */
  next(): void {
    if (this.#options.urls.length < 2) return;
    this.#clients.get(this.#index)?.close();
    this.#clients.delete(this.#index);
    this.#index = (this.#index + 1) % this.#options.urls.length;
  }

  close(): void {
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
