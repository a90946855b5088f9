// Declarative command-line options: one table per command gives the flag, its env
// variable, type, default and help text, so parsing, validation and --help agree.
import { parseArgs } from 'node:util';
import { UsherConfigError } from '../common/config-error.ts';

type Kind = 'int' | 'string' | 'list' | 'bool';

export interface OptionSpec<K extends Kind = Kind> {
  readonly kind: K;
  readonly env?: string;
  readonly default?: ValueOf<K>;
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
}

type ValueOf<K extends Kind> = K extends 'int'
  ? number
  : K extends 'list'
    ? string[]
    : K extends 'bool'
      ? boolean
      : string;

export type OptionTable = Record<string, OptionSpec>;

/** Parsed values: options with a default are always present. */
export type Parsed<T extends OptionTable> = {
  [K in keyof T]: T[K] extends OptionSpec<infer Kd>
    ? T[K]['default'] extends ValueOf<Kd>
      ? ValueOf<Kd>
      : ValueOf<Kd> | undefined
    : never;
};

export function parseOptions<T extends OptionTable>(
  command: string,
  table: T,
  argv: string[],
  env: NodeJS.ProcessEnv,
): Parsed<T> {
  const config: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, spec] of Object.entries(table)) {
    config[name] = { type: spec.kind === 'bool' ? 'boolean' : 'string' };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: config, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsherConfigError(`usher ${command}: ${(error as Error).message}. See: usher ${command} --help`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const fromFlag = values[name];
    const fromEnv = spec.env === undefined ? undefined : env[spec.env];
    const source = fromFlag !== undefined ? `--${name}` : `${spec.env}`;
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    out[name] = raw === undefined ? spec.default : convert(command, name, source, spec, raw);
  }
  return out as Parsed<T>;
}

function convert(
  command: string,
  name: string,
  source: string,
  spec: OptionSpec,
  raw: string | boolean,
): unknown {
  switch (spec.kind) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (/^(1|true|yes)$/i.test(raw)) return true;
      if (/^(0|false|no)$/i.test(raw)) return false;
      throw new UsherConfigError(`usher ${command}: ${source} must be true or false, got "${raw}"`);
    case 'int': {
      const value = Number(raw);
      if (!Number.isInteger(value))
        throw new UsherConfigError(`usher ${command}: ${source} must be an integer`);
      if (spec.min !== undefined && value < spec.min) {
        throw new UsherConfigError(`usher ${command}: ${source} must be ≥ ${spec.min}, got ${value}`);
      }
      if (spec.max !== undefined && value > spec.max) {
        throw new UsherConfigError(`usher ${command}: ${source} must be ≤ ${spec.max}, got ${value}`);
      }
      return value;
    }
    case 'list':
      return String(raw)
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
    case 'string':
      if (String(raw).length === 0) throw new UsherConfigError(`usher ${command}: --${name} is empty`);
      return String(raw);
  }
}

export function formatHelp(command: string, summary: string, table: OptionTable, extra = ''): string {
  const rows = Object.entries(table).map(([name, spec]) => {
    const flag = `--${name}${spec.kind === 'bool' ? '' : ` <${spec.kind === 'int' ? 'n' : spec.kind === 'list' ? 'a,b' : 'value'}>`}`;
    const env = spec.env === undefined ? '' : ` [env ${spec.env}]`;
    const def = spec.default === undefined ? '' : ` (default ${JSON.stringify(spec.default)})`;
    return `  ${flag.padEnd(30)} ${spec.help}${def}${env}`;
  });
  return `usher ${command} — ${summary}\n\nOptions:\n${rows.join('\n')}\n  ${'--help'.padEnd(30)} show this help\n${extra}`;
}
