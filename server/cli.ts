// The `usher` command: the only place that wires processes together. Each subcommand
// parses its flags/env, starts its part, and reports config errors without a stack.
import { brokerHelp, runBroker } from './cli/broker-command.ts';
import { mediaHelp, runMedia } from './cli/media-command.ts';
import { runStack, stackHelp } from './cli/stack-command.ts';
import { runToken, tokenHelp } from './cli/token-command.ts';
import { UsherConfigError } from './common/config-error.ts';

const USAGE = `usher — session broker for browser WebRTC apps

Usage: usher <command> [options]

Commands:
  broker   run the session broker (HTTP + WebSocket, serves the web app)
  media    run one media/signaling server that registers with a broker
  stack    run the local stack: broker on :8080 + 3 media servers, each its own process
  bench    measure the broker against the runtime limit and Colyseus; failover storms
  token    print a join token signed with a key from USHER_API_KEYS

Run \`usher <command> --help\` for a command's options.
`;

type Run = (argv: string[], env: NodeJS.ProcessEnv) => Promise<void>;
type Command = { help: () => string | Promise<string>; run: Run };

/** What `usher bench` needs of the bench's entry point, bench/cli.ts (its default export). */
export interface BenchEntry {
  benchHelp: string;
  runBench: Run;
}

// The bench is a separate program with its own dependencies (autocannon, Colyseus, load
// generators): loaded only when `usher bench` runs, through a computed specifier so that
// neither this module nor the product build (tsconfig.build.json) reaches into bench/.
const BENCH_ENTRY = new URL('../bench/cli.ts', import.meta.url).href;
const loadBench = async (): Promise<BenchEntry> =>
  ((await import(BENCH_ENTRY)) as { default: BenchEntry }).default;

const COMMANDS: Record<string, Command> = {
  broker: { help: () => brokerHelp, run: runBroker },
  media: { help: () => mediaHelp, run: runMedia },
  stack: { help: () => stackHelp, run: runStack },
  token: { help: () => tokenHelp, run: runToken },
  bench: {
    help: async () => (await loadBench()).benchHelp,
    run: async (argv, env) => (await loadBench()).runBench(argv, env),
  },
};

/** Returns the exit code to use if the process should end now; long-running commands keep it alive. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`usher: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(await command.help());
    return 0;
  }
  try {
    await command.run(rest, env);
    return 0;
  } catch (error) {
    if (error instanceof UsherConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    process.stderr.write(`usher ${name}: failed to start: ${(error as Error).message}\n`);
    return 1;
  }
}
