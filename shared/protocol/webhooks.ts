// Webhook events: what the broker POSTs to the application's backend when rooms and
// participants come and go. One schema per event (`event` is the discriminator); the
// dispatcher builds from it and the SDK's verifyWebhook validates with it.
import Type, { type Static } from 'typebox';
import { DisplayName, RoomName, ServerId, SessionId } from './common.ts';
import { Identity } from './join-token.ts';

/** The JWS `typ` of a webhook's Authorization token: never accepted as a join token. */
export const WEBHOOK_TOKEN_TYPE = 'usher-webhook+jwt';
export const WEBHOOK_CONTENT_TYPE = 'application/webhook+json';

/** Why a room left its server. */
export const MoveCause = Type.Union([
  Type.Literal('dead'),
  Type.Literal('frozen'),
  Type.Literal('drained'),
  Type.Literal('member'),
  Type.Literal('split'),
  Type.Literal('operator'),
]);
export type MoveCause = Static<typeof MoveCause>;

/** Why the broker dropped a media server: its control channel closed, or its reports stopped. */
export const ServerLostCause = Type.Union([Type.Literal('dead'), Type.Literal('frozen')]);
export type ServerLostCause = Static<typeof ServerLostCause>;

export const WebhookParticipant = Type.Object(
  { identity: Identity, name: DisplayName, peerId: SessionId },
  { additionalProperties: false },
);
export type WebhookParticipant = Static<typeof WebhookParticipant>;

const base = {
  /** Unique per event; the same fact seen by several brokers has the same id. */
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
  /** Epoch ms when the broker saw it happen. */
  createdAt: Type.Integer({ minimum: 0 }),
};

export const RoomStartedEvent = Type.Object(
  { ...base, event: Type.Literal('room.started'), room: RoomName, server: ServerId },
  { additionalProperties: false },
);
export const RoomFinishedEvent = Type.Object(
  { ...base, event: Type.Literal('room.finished'), room: RoomName, server: Type.Optional(ServerId) },
  { additionalProperties: false },
);
export const ParticipantJoinedEvent = Type.Object(
  {
    ...base,
    event: Type.Literal('participant.joined'),
    room: RoomName,
    server: ServerId,
    participant: WebhookParticipant,
  },
  { additionalProperties: false },
);
export const ParticipantLeftEvent = Type.Object(
  {
    ...base,
    event: Type.Literal('participant.left'),
    room: RoomName,
    server: Type.Optional(ServerId),
    participant: WebhookParticipant,
    /** left, removed, replaced (same identity joined again), lost (connection dropped). */
    reason: Type.Optional(
      Type.Union([
        Type.Literal('left'),
        Type.Literal('removed'),
        Type.Literal('replaced'),
        Type.Literal('lost'),
      ]),
    ),
  },
  { additionalProperties: false },
);
export const RoomMovedEvent = Type.Object(
  {
    ...base,
    event: Type.Literal('room.moved'),
    room: RoomName,
    from: ServerId,
    to: ServerId,
    cause: MoveCause,
  },
  { additionalProperties: false },
);
export const ServerLostEvent = Type.Object(
  {
    ...base,
    event: Type.Literal('server.lost'),
    server: ServerId,
    cause: ServerLostCause,
    /** Rooms that were on it (each also gets its own room.moved when it lands elsewhere). */
    rooms: Type.Array(RoomName, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);

export const WebhookEvent = Type.Union([
  RoomStartedEvent,
  RoomFinishedEvent,
  ParticipantJoinedEvent,
  ParticipantLeftEvent,
  RoomMovedEvent,
  ServerLostEvent,
]);
export type WebhookEvent = Static<typeof WebhookEvent>;
export type WebhookEventName = WebhookEvent['event'];

export const WEBHOOK_EVENT_NAMES: readonly WebhookEventName[] = WebhookEvent.anyOf.map(
  (member) => member.properties.event.const,
);
