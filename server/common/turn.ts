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

export function turnCredentials(config: TurnConfig, userId: string, now = Date.now()): IceServer {
  const username = `${Math.floor(now / 1000) + config.ttlSeconds}:${userId}`;
  const credential = createHmac('sha1', config.secret).update(username).digest('base64');
  return { urls: config.urls, username, credential };
}
