// `usher bench` flags and help text: one table gives both the parser's rules and the help.
import { formatHelp, type OptionTable } from '../server/cli/options.ts';

export const benchOptions = {
  scenario: {
    kind: 'list',
    default: ['all'],
    help: 'assign,limit,http,peer,storm,scale,steady,joins or all',
  },
  'duration-s': { kind: 'int', default: 5, min: 1, max: 600, help: 'measured window of each load run' },
  'warmup-s': { kind: 'int', default: 1, min: 0, max: 60, help: 'unmeasured load before each window' },
  clients: {
    kind: 'int',
    default: 50,
    min: 1,
    max: 5000,
    help: 'concurrent client connections (closed loop) for assign, limit, http, peer',
  },
  rounds: {
    kind: 'int',
    default: 3,
    min: 1,
    max: 20,
    help: 'alternating rounds per pair; medians are reported',
  },
  'media-servers': {
    kind: 'int',
    default: 3,
    min: 1,
    max: 8,
    help: 'media servers beside the broker for assign, http and peer (all on the server core; the storm: --storm-media)',
  },
  'storm-clients': {
    kind: 'int',
    default: 2000,
    min: 2,
    max: 20_000,
    help: 'simulated browsers in the storm',
  },
  'storm-ramp': {
    kind: 'int',
    default: 1000,
    min: 10,
    max: 10_000,
    help: 'storm: first joins per second while the clients come (start-up, not the storm)',
  },
  'storm-processes': { kind: 'int', default: 2, min: 1, max: 16, help: 'client processes the storm uses' },
  'steady-clients': {
    kind: 'list',
    default: ['2000', '5000'],
    help: 'steady: clients joined and pinging one media server (and a bare ws echo), one run per count',
  },
  'steady-processes': {
    kind: 'int',
    default: 4,
    min: 1,
    max: 16,
    help: 'steady: client processes per count (all on the client core)',
  },
  'control-servers': {
    kind: 'list',
    default: ['50', '200', '1000'],
    help: 'steady: fake media servers sending load reports to one broker, one run per count',
  },
  'storm-failures': {
    kind: 'list',
    default: ['kill', 'stop'],
    help: 'kill (SIGKILL) and/or stop (SIGSTOP) of the busiest media server, broker-kill (SIGKILL of a broker; needs --storm-brokers 2+)',
  },
  'storm-brokers': {
    kind: 'int',
    default: 1,
    min: 1,
    max: 4,
    help: 'storm brokers; more than one needs --storm-redis and puts the HAProxy front of `usher stack --brokers N` before them',
  },
  'storm-front': {
    kind: 'string',
    default: 'haproxy',
    help: 'several storm brokers: haproxy (one front URL, as docs/DEPLOY.md) or sdk (every broker URL in the SDK, spread over the clients)',
  },
  'storm-media': { kind: 'int', default: 3, min: 2, max: 8, help: 'storm media servers' },
  'storm-redis': {
    kind: 'bool',
    default: false,
    help: "start redis-server (no persistence) and share the storm brokers' room pins through it",
  },
  'storm-one-stack': {
    kind: 'bool',
    default: false,
    help: 'run --storm-failures one after another on one fleet (default: a fresh fleet for each)',
  },
  out: {
    kind: 'string',
    default: 'bench-results',
    help: 'directory for the run (a timestamped folder inside)',
  },
  quick: {
    kind: 'bool',
    default: false,
    help: 'smoke version: 1 s windows, 1 round, 60 storm clients, fast ping timing',
  },
  'no-pin': { kind: 'bool', default: false, help: 'do not pin servers and load generators to cores' },
  profile: {
    kind: 'bool',
    default: false,
    help: 'run the servers with --cpu-prof (profiles in the run folder)',
  },
  seed: { kind: 'int', default: 1, min: 0, help: 'seed of the storm room sizes' },
  check: {
    kind: 'string',
    help: 'regression guard: run BASE_REF (a commit, in a temporary git worktree) and this tree in alternating runs, --rounds each, and compare their ratios',
  },
  'check-tolerance': {
    kind: 'string',
    default: '0.10',
    help: 'with --check: fail when a ratio is more than this fraction worse than the base',
  },
} as const satisfies OptionTable;

export const benchHelp = formatHelp(
  'bench',
  'measure the broker against the runtime limit and Colyseus, and run failover storms',
  benchOptions,
  `
Servers run on CPU 0 and load generators on CPU 1 (taskset) when the machine has 2+ cores.
Every result reports server CPU µs per operation, read from /proc over the measured window:
on a shared machine throughput swings with the neighbours, CPU per op much less, so the
ratios against the limits and the peer are taken on CPU per op.
Results: a table on stdout, and report.json, cpu.svg, storm-*.svg, index.html in --out.
Every load is bounded in operations and time; every process started is killed at the end,
on error and on Ctrl-C.

usher bench --check BASE_REF runs each side's own \`usher bench\` (assign, limit, http and peer,
one round each, with the windows and clients given here) in turn — base, head, then head, base,
… for --rounds rounds — on the same cores, takes each ratio's median over the rounds, prints
base, head and the change, and exits non-zero naming every ratio more than --check-tolerance
worse than the base. The base's worktree uses this checkout's node_modules. Example:
  usher bench --check main --rounds 3
`,
);
