// Structured logs (pino) with secrets redacted by path, so a ticket, token or
// Authorization header never reaches a log line even when a whole message is logged.
import { type Logger, pino } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'ticket',
  '*.ticket',
  'token',
  '*.token',
  'resume',
  '*.resume',
  'secret',
  '*.secret',
  'credential',
  '*.credential',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

export function createLogger(options: { name: string; level?: string }): Logger {
  return pino({
    name: options.name,
    level: options.level ?? process.env.USHER_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
