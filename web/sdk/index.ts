// Public API of the Usher browser SDK: the session state machine and the pieces it is made
// of (for apps that want their own policy, transport or UI), with their event and data types.

export type { RetryClass } from '../../shared/errors.ts';
export { BrokerClient, type BrokerClientOptions, type SessionRequestInput } from './broker-client.ts';
export { BrokerPool, type BrokerPoolOptions } from './broker-pool.ts';
export { type Clock, systemClock } from './clock.ts';
export { Emitter, type EventMap } from './emitter.ts';
export {
  ClientErrorCode,
  retryClassOfClientCode,
  UsherClientError,
  type UsherClientErrorCode,
} from './errors.ts';
export type { IceRestartRecord } from './ice-restart.ts';
export {
  type LostEvent,
  type LostReason,
  MediaConnection,
  type MediaConnectionEvents,
  type MediaConnectionOptions,
} from './media-connection.ts';
export {
  CONTROL_KEY,
  type ConnectionQuality,
  type MuteState,
  type Participant,
  type ParticipantEvents,
  ParticipantRoster,
  type QualityLevel,
  qualityLevel,
} from './participants.ts';
export { PeerMesh, type PeerMeshEvents, type PeerMeshOptions, type PeerSummary } from './peer-mesh.ts';
export type { CandidateSummary, PeerMediaStats, SelectedCandidatePair } from './peer-stats.ts';
export {
  type JitterBackoffOptions,
  JitterBackoffPolicy,
  type ReconnectContext,
  type ReconnectPolicy,
} from './reconnect-policy.ts';
export type { RejoinKind, RetryingEvent } from './rejoin.ts';
export {
  type FailoverRecord,
  type FailoverStart,
  type JoinInfo,
  type SessionEvents,
  type SessionState,
  UsherSession,
  type UsherSessionOptions,
} from './session.ts';
export type { WebSocketConstructor, WebSocketLike } from './websocket.ts';
