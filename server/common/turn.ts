// TURN credentials in coturn's REST scheme (use-auth-secret): the username carries its
// own expiry, the password is an HMAC of it, so coturn needs no per-user state.
import { createHmac } from 'node:crypto';
import type { IceServer } from '../../shared/protocol/broker.ts';

export interface TurnConfig {
  /** e.g. ['turn:turn.example.com:3478?transport=udp']. */
  urls: string[];
  /** coturn's --static-auth-secret. */
  secret: string;
  ttlSeconds: number;
}

/** The secret's bytes per config: createHmac with a string key encodes it on every call. */
const secretBytes = new WeakMap<TurnConfig, Buffer>();

export function turnCredentials(config: TurnConfig, userId: string, now = Date.now()): IceServer {
  const username = `${Math.floor(now / 1000) + config.ttlSeconds}:${userId}`;
  let key = secretBytes.get(config);
  if (key === undefined) {
    key = Buffer.from(config.secret);
    secretBytes.set(config, key);
  }
  const credential = createHmac('sha1', key).update(username).digest('base64');
  return { urls: config.urls, username, credential };
}
