// `POST /dev/token {room, name}` → `{token}`: signs a join token for whoever asks, so the local
// stack's app works with no backend. Never on unless the broker is started with the explicit flag.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { DisplayName, RoomName } from '../../shared/protocol/common.ts';
import { type ApiKeys, signJoinToken } from '../common/join-token.ts';
import { randomId } from '../common/tickets.ts';
import { sendError } from './http-errors.ts';
import type { IpBudget } from './ip-budget.ts';

export const DEV_TOKEN_PATH = '/dev/token';
/** Long enough for a local call, short enough that a copied token soon stops working. */
export const DEV_TOKEN_TTL_SECONDS = 60 * 60;

const DevTokenRequest = Type.Object(
  { room: RoomName, name: Type.Optional(DisplayName) },
  { additionalProperties: false },
);

export function registerDevTokenRoute(
  app: FastifyInstance,
  options: { apiKeys: ApiKeys; budget: IpBudget | undefined },
): void {
  const { apiKeys, budget } = options;
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    DEV_TOKEN_PATH,
    {
      schema: { body: DevTokenRequest },
      // Errors in the catalogue's shape, like every other route.
      attachValidation: true,
    },
    async (request, reply) => {
      if (budget !== undefined && !budget.take(request.ip).ok) return sendError(reply, 'RATE_LIMITED', null);
      if (request.validationError !== undefined)
        return sendError(reply, 'BAD_MESSAGE', null, 'expected {"room": "<room>", "name": "<display name>"}');
      const body = request.body;
      // Every caller is a new identity: two tabs are two participants, as before tokens.
      const identity = `dev-${randomId(9)}`;
      const token = signJoinToken(apiKeys.current, {
        room: body.room,
        identity,
        ...(body.name === undefined || body.name === '' ? {} : { name: body.name }),
        ttlSeconds: DEV_TOKEN_TTL_SECONDS,
      });
      return { token, identity };
    },
  );
}
