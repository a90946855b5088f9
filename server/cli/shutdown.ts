// Graceful shutdown on signals: run the close function once, then exit; a second
// signal, or a close that hangs, exits at once.
import type { Logger } from '../common/logger.ts';

const FORCE_EXIT_MS = 15_000;

export function onShutdown(logger: Logger, close: (signal: NodeJS.Signals) => Promise<void>): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), FORCE_EXIT_MS).unref();
    close(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
