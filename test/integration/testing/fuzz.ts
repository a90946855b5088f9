// Shared machinery of the fuzz suites: a mutator that turns valid protocol messages into
// malformed ones (a small JSON syntax tree, so duplicate and `__proto__` keys, raw number
// tokens and broken syntax are all expressible), frame arbitraries sized per channel, the
// process watch that fails a suite on any unhandled rejection or uncaught exception, and
// checks that what the servers send back is in the documented schemas and catalogue.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TSchema } from 'typebox';
import { createDecoder } from '../../../shared/codec.ts';
import { ERROR_CODES, ErrorCatalogue, type ErrorCode } from '../../../shared/errors.ts';

// ---- a JSON syntax tree that keeps what JSON.parse would hide

export type JsonNode =
  | { k: 'obj'; entries: Array<[string, JsonNode]> }
  | { k: 'arr'; items: JsonNode[] }
  /** A scalar as its literal text, which may deliberately not be valid JSON. */
  | { k: 'raw'; text: string };

export function toNode(value: unknown): JsonNode {
  if (Array.isArray(value)) return { k: 'arr', items: value.map(toNode) };
  if (typeof value === 'object' && value !== null)
    return { k: 'obj', entries: Object.entries(value).map(([key, inner]) => [key, toNode(inner)]) };
  return { k: 'raw', text: JSON.stringify(value) ?? 'null' };
}

export function render(node: JsonNode): string {
  switch (node.k) {
    case 'raw':
      return node.text;
    case 'arr':
      return `[${node.items.map(render).join(',')}]`;
    case 'obj':
      return `{${node.entries.map(([key, value]) => `${JSON.stringify(key)}:${render(value)}`).join(',')}}`;
  }
}

/** A deep copy: generated values may be shared between samples and must never be mutated. */
function clone(node: JsonNode): JsonNode {
  if (node.k === 'raw') return node;
  if (node.k === 'arr') return { k: 'arr', items: node.items.map(clone) };
  return { k: 'obj', entries: node.entries.map(([key, value]) => [key, clone(value)]) };
}

/** Every container in the tree, root first (the mutation targets). */
function containers(node: JsonNode, out: Array<JsonNode & { k: 'obj' | 'arr' }> = []) {
  if (node.k === 'raw') return out;
  out.push(node);
  const children = node.k === 'obj' ? node.entries.map(([, value]) => value) : node.items;
  for (const child of children) containers(child, out);
  return out;
}

// ---- values a hostile client would try

const EDGE_NUMBERS = [
  '0',
  '-0',
  '-1',
  '1.5',
  '1e400',
  '-1e400',
  '1E2',
  '0.1e1',
  '2147483647',
  '2147483648',
  '4294967296',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '1e21',
  '5e-324',
  '1.7976931348623157e308',
  '100000000000000000000000000000000000000',
];
/** Tokens JSON does not allow: each must be BAD_JSON, never a crash. */
const BAD_TOKENS = [
  '01',
  '0x10',
  '+1',
  '.5',
  '1.',
  'NaN',
  'Infinity',
  'undefined',
  'tru',
  'nul',
  "'x'",
  '"\t"',
  '"\\x41"',
  '"\\u12"',
  '--1',
];
const SPECIAL_STRINGS = [
  '',
  ' ',
  '0',
  '1',
  'true',
  'null',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '\u0000',
  '\ud800',
  '\udfff',
  '\ud83d',
  '\u202e',
  '\ufeff',
  '\u200b',
  'é',
  'e\u0301',
  '🎥',
  '𝒳𝒴',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '%00',
  '{{7*7}}',
  'lobby',
  'alice',
  'bob',
  'm1',
  'media-1',
];
export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'type',
  'v',
  'id',
  'Type',
  '',
  ' ',
  '\u0000',
  '𝒳',
];
/** Lengths around the limits of the schemas (64, 128, 1024, 2048, 32 Ki). */
const EDGE_LENGTHS = [
  63, 64, 65, 127, 128, 129, 512, 1023, 1024, 1025, 2047, 2048, 2049, 32_767, 32_768, 32_769,
];

/** Nesting as literal text, so even thousands of levels cost no recursion here. */
function deep(depth: number, kind: 'arr' | 'obj', leaf: JsonNode): JsonNode {
  const [open, close] = kind === 'arr' ? ['[', ']'] : ['{"a":', '}'];
  return { k: 'raw', text: `${open.repeat(depth)}${render(leaf)}${close.repeat(depth)}` };
}

/** Values of every wrong shape; `hugeMax` bounds the longest string (the channel's frame limit). */
export function hostileValue(hugeMax: number): fc.Arbitrary<JsonNode> {
  const raw = (text: string): JsonNode => ({ k: 'raw', text });
  const lengths = EDGE_LENGTHS.filter((length) => length <= hugeMax);
  return fc.oneof(
    fc.constantFrom(...EDGE_NUMBERS, ...BAD_TOKENS, 'null', 'true', 'false').map(raw),
    fc.constantFrom(...SPECIAL_STRINGS).map((text) => raw(JSON.stringify(text))),
    fc.string({ unit: 'binary', maxLength: 40 }).map((text) => raw(JSON.stringify(text))),
    fc.double().map((value) => raw(Number.isFinite(value) ? String(value) : 'null')),
    fc.integer().map((value) => raw(String(value))),
    fc
      .tuple(
        fc.oneof(fc.constantFrom(...lengths), fc.integer({ min: 0, max: hugeMax })),
        fc.constantFrom('x', 'é', '🎥', '\\u0000'),
      )
      .map(([length, unit]) =>
        raw(`"${unit.repeat(Math.max(0, Math.floor(length / (unit.length > 2 ? 6 : unit.length))))}"`),
      ),
    fc
      .tuple(
        fc.integer({ min: 2, max: Math.floor(hugeMax / 6) }),
        fc.constantFrom<'arr' | 'obj'>('arr', 'obj'),
      )
      .map(([depth, kind]) => deep(depth, kind, raw('1'))),
    fc.jsonValue({ maxDepth: 3 }).map(toNode),
    fc.constantFrom<JsonNode>(
      { k: 'obj', entries: [] },
      { k: 'arr', items: [] },
      { k: 'obj', entries: [['__proto__', { k: 'obj', entries: [['polluted', raw('true')]] }]] },
      {
        k: 'obj',
        entries: [
          [
            'constructor',
            { k: 'obj', entries: [['prototype', { k: 'obj', entries: [['polluted', raw('true')]] }]] },
          ],
        ],
      },
    ),
  );
}

// ---- mutations

type Mutation =
  | { op: 'drop'; at: number; which: number }
  | { op: 'replace'; at: number; which: number; value: JsonNode }
  | { op: 'add'; at: number; key: string; value: JsonNode }
  | { op: 'duplicate'; at: number; which: number; value: JsonNode; after: boolean }
  | { op: 'nest'; at: number; which: number; depth: number; kind: 'arr' | 'obj' };

type TextMutation =
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; length: number }
  | { op: 'prefix'; text: string }
  | { op: 'suffix'; text: string }
  | { op: 'wrap' }
  | { op: 'twice' };

function mutation(hugeMax: number): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  const which = fc.nat();
  const value = hostileValue(hugeMax);
  return fc.oneof(
    fc.record({ op: fc.constant('drop' as const), at, which }),
    fc.record({ op: fc.constant('replace' as const), at, which, value }),
    fc.record({
      op: fc.constant('add' as const),
      at,
      key: fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 })),
      value,
    }),
    fc.record({ op: fc.constant('duplicate' as const), at, which, value, after: fc.boolean() }),
    fc.record({
      op: fc.constant('nest' as const),
      at,
      which,
      depth: fc.integer({ min: 1, max: 5000 }),
      kind: fc.constantFrom<'arr' | 'obj'>('arr', 'obj'),
    }),
  );
}

function textMutation(): fc.Arbitrary<TextMutation> {
  const noise = fc.oneof(
    fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"',
      '\\',
      '\u0000',
      '\ufeff',
      ' ',
      '\n',
      'null',
      '{"a":',
      '\ud800',
      '💥',
    ),
    fc.string({ unit: 'binary', maxLength: 8 }),
  );
  return fc.oneof(
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: noise }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('prefix' as const), text: noise }),
    fc.record({ op: fc.constant('suffix' as const), text: noise }),
    fc.constant({ op: 'wrap' as const }),
    fc.constant({ op: 'twice' as const }),
  );
}

function apply(root: JsonNode, change: Mutation): JsonNode {
  if ('value' in change) change = { ...change, value: clone(change.value) };
  const targets = containers(root);
  if (targets.length === 0) return change.op === 'replace' ? change.value : root;
  const target = targets[change.at % targets.length]!;
  const size = target.k === 'obj' ? target.entries.length : target.items.length;
  const index = size === 0 ? 0 : ('which' in change ? change.which : 0) % size;
  const list: unknown[] = target.k === 'obj' ? target.entries : target.items;
  const setAt = (node: JsonNode): void => {
    if (target.k === 'obj') target.entries[index]![1] = node;
    else target.items[index] = node;
  };
  const current = (): JsonNode | undefined =>
    target.k === 'obj' ? target.entries[index]?.[1] : target.items[index];
  switch (change.op) {
    case 'drop':
      if (size > 0) list.splice(index, 1);
      return root;
    case 'replace':
      if (size > 0) setAt(change.value);
      return root;
    case 'add':
      if (target.k === 'obj') target.entries.push([change.key, change.value]);
      else target.items.push(change.value);
      return root;
    case 'duplicate':
      if (target.k === 'obj' && size > 0) {
        const key = target.entries[index]![0];
        // JSON.parse keeps the last of duplicate keys: before ⇒ the original wins, after ⇒ ours.
        if (change.after) target.entries.push([key, change.value]);
        else target.entries.unshift([key, change.value]);
      }
      return root;
    case 'nest': {
      const inner = current();
      if (inner !== undefined) setAt(deep(change.depth, change.kind, inner));
      return root;
    }
  }
}

function applyText(text: string, change: TextMutation): string {
  const at = (n: number) => (text.length === 0 ? 0 : n % (text.length + 1));
  switch (change.op) {
    case 'truncate':
      return text.slice(0, at(change.at));
    case 'insert':
      return text.slice(0, at(change.at)) + change.text + text.slice(at(change.at));
    case 'delete':
      return text.slice(0, at(change.at)) + text.slice(at(change.at) + change.length);
    case 'prefix':
      return change.text + text;
    case 'suffix':
      return text + change.text;
    case 'wrap':
      return `[${text}]`;
    case 'twice':
      return text + text;
  }
}

// ---- frames

export type Frame = { binary: false; text: string } | { binary: true; bytes: Uint8Array };

/** Cuts a text to at most `maxBytes` of UTF-8 (so frames stay within the channel's limit). */
export function fitBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut) > maxBytes) cut = cut.slice(0, Math.floor(cut.length * 0.9));
  return cut;
}

/**
 * Malformed or mutated frames for a channel: mostly valid messages with 1–3 structural
 * mutations (and sometimes text-level damage), some valid ones, binary frames and noise.
 */
export function hostileFrames(
  valid: fc.Arbitrary<unknown>,
  limits: { maxBytes: number; hugeMax: number },
): fc.Arbitrary<Frame> {
  // Round-tripped through UTF-8 as ws will send it (a lone surrogate becomes U+FFFD), so an
  // oracle decoding `text` sees exactly what the server receives.
  const text = (value: string): Frame => ({
    binary: false,
    text: Buffer.from(fitBytes(value, limits.maxBytes)).toString('utf8'),
  });
  const mutated = fc
    .tuple(
      valid,
      fc.array(mutation(limits.hugeMax), { minLength: 1, maxLength: 3 }),
      // A quarter of them also get their text damaged (most of those then fail as BAD_JSON).
      fc.oneof(
        { weight: 3, arbitrary: fc.constant<TextMutation[]>([]) },
        { weight: 1, arbitrary: fc.array(textMutation(), { minLength: 1, maxLength: 2 }) },
      ),
    )
    .map(([message, changes, textChanges]) => {
      let node = toNode(message);
      for (const change of changes) node = apply(node, change);
      let out = render(node);
      for (const change of textChanges) out = applyText(out, change);
      return text(out);
    });
  return fc.oneof(
    { weight: 80, arbitrary: mutated },
    { weight: 6, arbitrary: valid.map((message) => text(JSON.stringify(message))) },
    {
      weight: 4,
      arbitrary: fc.oneof(
        valid.map((message): Frame => ({ binary: true, bytes: Buffer.from(JSON.stringify(message)) })),
        fc.uint8Array({ maxLength: 256 }).map((bytes): Frame => ({ binary: true, bytes })),
      ),
    },
    {
      weight: 10,
      arbitrary: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 200 }).map(text),
        fc.json({ maxDepth: 4 }).map(text),
        fc
          .constantFrom('', ' ', 'null', '[]', '{}', '"x"', '1', 'true', '{"type":null}', '{"__proto__":{}}')
          .map(text),
      ),
    },
  );
}

/** Frame-level protocol violations: each must end the connection with a standard close code. */
export const RAW_VIOLATIONS: Array<{ what: string; bytes: Buffer; close: number }> = [
  // Text frame (FIN, opcode 1), masked with a zero key, payload not UTF-8.
  {
    what: 'text frame that is not UTF-8',
    bytes: Buffer.from([0x81, 0x84, 0, 0, 0, 0, 0x7b, 0xff, 0xfe, 0x7d]),
    close: 1007,
  },
  { what: 'reserved opcode 3', bytes: Buffer.from([0x83, 0x80, 0, 0, 0, 0]), close: 1002 },
  { what: 'unmasked client frame', bytes: Buffer.from([0x81, 0x02, 0x7b, 0x7d]), close: 1002 },
  { what: 'RSV1 set without an extension', bytes: Buffer.from([0xc1, 0x80, 0, 0, 0, 0]), close: 1002 },
  { what: 'fragmented ping', bytes: Buffer.from([0x09, 0x80, 0, 0, 0, 0]), close: 1002 },
  { what: 'continuation without a start', bytes: Buffer.from([0x80, 0x80, 0, 0, 0, 0]), close: 1002 },
  {
    what: 'ping payload over 125 bytes',
    bytes: Buffer.concat([Buffer.from([0x89, 0xfe, 0x00, 0x80, 0, 0, 0, 0]), Buffer.alloc(128)]),
    close: 1002,
  },
  {
    what: 'declared length of 2^63',
    bytes: Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
    close: 1009,
  },
];

// ---- watching the process and checking what comes back

/** Collects unhandled rejections and uncaught exceptions while a suite runs. */
export function watchProcess(): { readonly errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onError = (error: unknown): void => {
    errors.push(error);
  };
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  return {
    errors,
    stop() {
      process.off('unhandledRejection', onError);
      process.off('uncaughtException', onError);
    },
  };
}

/**
 * For a whole fuzz test: fail it if anything escaped as an unhandled rejection or uncaught
 * exception, or polluted Object.prototype, while it ran.
 */
export function guardProcess(t: { after(fn: () => void): void }): void {
  const watch = watchProcess();
  t.after(() => {
    watch.stop();
    assert.deepEqual(watch.errors, [], 'no unhandled rejection or uncaught exception');
    assertNoPrototypePollution();
  });
}

/** Log records at error level or above must not appear: hostile input is not a server error. */
export function assertNoErrorLogs(records: ReadonlyArray<{ level: number; msg?: unknown }>): void {
  assert.deepEqual(
    records.filter((record) => record.level >= 50).map((record) => record.msg),
    [],
    'nothing logged at error level',
  );
}

/** Throws if anything in the process got polluted through Object.prototype. */
export function assertNoPrototypePollution(): void {
  const probe = {} as Record<string, unknown>;
  if (probe.polluted !== undefined || probe.a !== undefined)
    throw new Error('Object.prototype was polluted by a fuzz message');
}

/** A checker for what a server sends on a channel: null if it is in the schema, else why not. */
export function outboundChecker(union: TSchema & { anyOf: TSchema[] }): (message: unknown) => string | null {
  const decoder = createDecoder(union);
  return (message) => {
    const result = decoder.decodeValue(message);
    if (!result.ok) return `${result.code}: ${result.message} in ${JSON.stringify(message).slice(0, 300)}`;
    const record = message as { type?: string; code?: string; message?: string };
    if (record.type === 'error' && !ERROR_CODES.includes(record.code as ErrorCode))
      return `undocumented code ${record.code}`;
    return null;
  };
}

export function isDocumentedCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ErrorCatalogue, code);
}

/** Fixed with FUZZ_SEED to replay a failure (the failure message names the seed). */
export function fuzzSeed(): number | undefined {
  const raw = process.env.FUZZ_SEED;
  return raw === undefined || raw === '' ? undefined : Number(raw);
}

/**
 * fc.check, failing with the seed and the failure's own message (the property's assertion
 * names the offending frame) instead of fast-check's dump of the whole batch.
 */
export async function checkProperty(property: fc.IAsyncProperty<[Frame[]]>, numRuns: number): Promise<void> {
  const seed = fuzzSeed();
  // No shrinking: the property runs against live servers, whose state a failed run has changed,
  // so the first failure is the one worth reading (and FUZZ_SEED replays it).
  const result = await fc.check(property, {
    numRuns,
    endOnFailure: true,
    ...(seed === undefined ? {} : { seed }),
  });
  if (!result.failed) return;
  const cause =
    result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
  throw new Error(`fuzz property failed (replay: FUZZ_SEED=${result.seed}):\n${cause.slice(0, 6000)}`);
}

/** Multiset of strings, for order-free comparisons of replies. */
export function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const value of values) out[value] = (out[value] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
