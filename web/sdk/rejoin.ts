// Getting a session into its room, the one loop for the first join and for every failover:
// ask a broker (excluding dead servers, with the resume proof), connect to the assigned media
// server and join; on failure act on the error's retry class and wait as the ReconnectPolicy says.
import type { SessionAssigned } from '../../shared/protocol/broker.ts';
import { EXCLUDE_MAX, type SessionRequestInput } from './broker-client.ts';
import type { BrokerPool } from './broker-pool.ts';
import { type Clock, sleep } from './clock.ts';
import { UsherClientError, type UsherClientErrorCode } from './errors.ts';
import type { LostReason } from './media-connection.ts';
import type { ReconnectPolicy } from './reconnect-policy.ts';

export type RejoinKind = 'join' | 'failover';

/** The session is waiting before its next attempt (emitted before every wait). */
export interface RetryingEvent {
  kind: RejoinKind;
  /** The policy's attempt number of the request that follows the wait (0 = the first retry). */
  attempt: number;
  /** How long until that request: the policy's delay, or the server's retryAfterMs if longer. */
  delayMs: number;
  /** Why: the last attempt's error code, or how the server was lost (before a failover's first request). */
  code: UsherClientErrorCode | LostReason;
  /** The last attempt's error; null before a failover's first request. */
  error: UsherClientError | null;
}

/** What the loop needs from its session. */
export interface RejoinContext {
  readonly clock: Clock;
  readonly policy: ReconnectPolicy;
  readonly brokers: BrokerPool;
  /** Aborted when the session is left or ends: a pending wait or request stops at once. */
  readonly signal: AbortSignal;
  /** Room and name of every request. */
  readonly request: Pick<SessionRequestInput, 'room' | 'name'>;
  /** The proof of our peer id (the last ticket), or null to come back as a new peer. */
  resumeProof(): string | null;
  /** The broker refused the proof (too old, retired key): stop sending it. */
  dropResumeProof(): void;
  /** The application's join token, sent when there is no resume proof; null in open mode. */
  joinToken(): string | null;
  /** Ask the application for a new join token (after TOKEN_EXPIRED); undefined: it cannot. */
  refreshJoinToken: (() => Promise<void>) | undefined;
  /** Connect to the assigned server and join; rejects with an UsherClientError. */
  connect(assigned: SessionAssigned): Promise<void>;
  /** The loop moved to asking the broker or to connecting to its answer. */
  step(step: 'requesting' | 'connecting'): void;
  retrying(event: RetryingEvent): void;
  /** A failed attempt that will be retried. */
  warning(error: UsherClientError): void;
}

export interface RejoinStart {
  kind: RejoinKind;
  /** Servers not to be assigned (the one just lost). */
  exclude: readonly string[];
  /** The policy's elapsedMs counts from here (the join call, or the loss's detection). */
  startedAt: number;
  /** A failover waits before its first request (the policy's first window spreads a thousand
   *  clients that lost one server together); a first join asks at once. */
  firstReason: LostReason | null;
}

/** Where one run of the loop is; 'done' and 'ended' are final. */
type RejoinState =
  | { kind: 'waiting'; attempt: number }
  | { kind: 'requesting' }
  | { kind: 'connecting'; serverId: string }
  | { kind: 'done'; serverId: string }
  | { kind: 'ended'; error: UsherClientError };

export class Rejoin {
  readonly #ctx: RejoinContext;
  readonly #start: RejoinStart;
  readonly #exclude: string[];
  #state: RejoinState = { kind: 'requesting' };

  constructor(ctx: RejoinContext, start: RejoinStart) {
    this.#ctx = ctx;
    this.#start = start;
    this.#exclude = [...start.exclude];
  }

  get state(): RejoinState['kind'] {
    return this.#state.kind;
  }

  /** Resolves with the assignment now joined; rejects with ABORTED (left), a permanent error,
   *  or GAVE_UP (the policy's give-up, naming the last error). */
  async run(): Promise<SessionAssigned> {
    const { clock, policy, signal } = this.#ctx;
    let retries = 0;
    let code: RetryingEvent['code'] | null = this.#start.firstReason;
    let last: UsherClientError | null = null;
    let tokenRefreshed = false;
    for (;;) {
      if (code !== null) {
        const elapsedMs = clock.now() - this.#start.startedAt;
        const delay = policy.nextRetryDelayMs({ attempt: retries, elapsedMs, reason: code });
        if (delay === null) {
          const what = this.#start.kind === 'join' ? 'joining' : 'reconnecting';
          return this.#end(UsherClientError.gaveUp(what, elapsedMs, last ?? undefined));
        }
        const delayMs = Math.max(delay, last?.retryAfterMs ?? 0);
        this.#state = { kind: 'waiting', attempt: retries };
        this.#ctx.retrying({ kind: this.#start.kind, attempt: retries, delayMs, code, error: last });
        retries += 1;
        await sleep(clock, delayMs, signal);
      }
      if (signal.aborted) return this.#end(UsherClientError.aborted());
      const outcome = await this.#attempt();
      if (!(outcome instanceof UsherClientError)) {
        this.#state = { kind: 'done', serverId: outcome.server.id };
        return outcome;
      }
      const failure = outcome;
      if (signal.aborted) return this.#end(UsherClientError.aborted());
      if (failure.code === 'TOKEN_EXPIRED' && !tokenRefreshed && this.#ctx.refreshJoinToken !== undefined) {
        // Once per run: a second TOKEN_EXPIRED means the application's tokens are already stale.
        tokenRefreshed = true;
        try {
          await this.#ctx.refreshJoinToken();
        } catch (error) {
          return this.#end(UsherClientError.from(error));
        }
        code = null;
        continue;
      }
      if (!failure.retryable) return this.#end(failure);
      this.#ctx.warning(failure);
      last = failure;
      code = failure.code;
    }
  }

  /** One request and connect: the assignment now joined, or the failure (already acted on). */
  async #attempt(): Promise<SessionAssigned | UsherClientError> {
    let assigned: SessionAssigned | null = null;
    try {
      this.#state = { kind: 'requesting' };
      this.#ctx.step('requesting');
      const request: SessionRequestInput = { ...this.#ctx.request };
      if (this.#exclude.length > 0) request.exclude = [...this.#exclude];
      const resume = this.#ctx.resumeProof();
      if (resume !== null) request.resume = resume;
      else {
        // A valid resume proof admits on its own (within the resume TTL): the token is for new sessions.
        const token = this.#ctx.joinToken();
        if (token !== null) request.token = token;
      }
      assigned = await this.#ctx.brokers.request(request);
      if (this.#ctx.signal.aborted) throw UsherClientError.aborted();
      if (this.#exclude.includes(assigned.server.id)) throw UsherClientError.sameServer(assigned.server.id);
      this.#state = { kind: 'connecting', serverId: assigned.server.id };
      this.#ctx.step('connecting');
      await this.#ctx.connect(assigned);
      return assigned;
    } catch (error) {
      const failure = UsherClientError.from(error);
      this.#learn(failure, assigned?.server.id ?? null);
      return failure;
    }
  }

  /** What the next attempt does differently after this failure. */
  #learn(failure: UsherClientError, serverId: string | null): void {
    if (failure.code === 'BAD_RESUME') this.#ctx.dropResumeProof();
    if (serverId === null) {
      // The broker itself failed: unreachable or not answering moves to the next broker URL.
      if (failure.code === 'BROKER_UNREACHABLE' || failure.code === 'TIMEOUT') this.#ctx.brokers.next();
      return;
    }
    if (failure.retry === 'other-server' && !this.#exclude.includes(serverId)) {
      if (this.#exclude.length < EXCLUDE_MAX) this.#exclude.push(serverId);
    }
  }

  #end(error: UsherClientError): never {
    this.#state = { kind: 'ended', error };
    throw error;
  }
}
