// Renders the protocol reference tables (messages, fields, limits, error codes) from
// the same schemas and catalogue the servers validate with, so docs/PROTOCOL.md cannot
// drift from the code: a test compares the generated section with the file.
import { ErrorCatalogue } from '../errors.ts';
import { BrokerInbound, BrokerOutbound } from './broker.ts';
import { Limits } from './common.ts';
import { ControlInbound, ControlOutbound } from './control.ts';
import { MediaInbound, MediaOutbound } from './media.ts';

interface JsonSchema {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  pattern?: string;
}

export const BEGIN = '<!-- BEGIN GENERATED: npm run docs:protocol -->';
export const END = '<!-- END GENERATED -->';

function describeType(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum !== undefined)
    return schema.enum.length > 6 ? 'error code (below)' : schema.enum.join(' \\| ');
  if (schema.anyOf !== undefined) return schema.anyOf.map(describeType).join(' \\| ');
  if (schema.type === 'array') return `${describeType(schema.items ?? {})}[]`;
  return schema.type ?? 'any';
}

function constraints(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.minLength !== undefined) parts.push(`≥ ${schema.minLength} chars`);
  if (schema.maxLength !== undefined) parts.push(`≤ ${schema.maxLength} chars`);
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER)
    parts.push(`≤ ${schema.maximum}`);
  if (schema.maxItems !== undefined) parts.push(`≤ ${schema.maxItems} items`);
  if (schema.pattern !== undefined) parts.push(`\`${schema.pattern}\``);
  if (schema.items !== undefined && schema.items.type !== 'object') {
    const inner = constraints(schema.items);
    if (inner !== '') parts.push(`each ${inner}`);
  }
  return parts.join(', ');
}

function fieldRows(schema: JsonSchema, prefix: string, rows: string[]): void {
  const required = new Set(schema.required ?? []);
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    const variants = field.anyOf?.filter((variant) => variant.type === 'object') ?? [];
    rows.push(
      `| \`${path}\` | ${describeType(field)} | ${required.has(name) ? 'yes' : 'no'} | ${constraints(field)} |`,
    );
    if (field.type === 'object') fieldRows(field, `${path}.`, rows);
    if (field.type === 'array' && field.items?.type === 'object') fieldRows(field.items, `${path}[].`, rows);
    for (const variant of variants) fieldRows(variant, `${path}.`, rows);
  }
}

function renderChannel(title: string, union: { anyOf: JsonSchema[] }): string {
  const out: string[] = [`### ${title}`, ''];
  for (const member of union.anyOf) {
    const type = member.properties?.type?.const;
    out.push(`#### \`${String(type)}\``, '', '| field | type | required | limits |', '|---|---|---|---|');
    const rows: string[] = [];
    fieldRows(member, '', rows);
    out.push(...rows, '');
  }
  return out.join('\n');
}

export function renderProtocolReference(): string {
  const sections = [
    BEGIN,
    '',
    '## Reference (generated from `shared/protocol/*.ts` and `shared/errors.ts`)',
    '',
    renderChannel('Client → broker (`/v1/session`, `POST /v1/sessions`)', BrokerInbound as never),
    renderChannel('Broker → client', BrokerOutbound as never),
    renderChannel('Client → media server (`server.url`)', MediaInbound as never),
    renderChannel('Media server → client', MediaOutbound as never),
    renderChannel('Media server → broker (`/v1/control`)', ControlInbound as never),
    renderChannel('Broker → media server', ControlOutbound as never),
    '### Limits',
    '',
    '| limit | value |',
    '|---|---|',
    ...Object.entries(Limits).map(([name, value]) => `| \`${name}\` | ${value} |`),
    '',
    '### Error codes',
    '',
    'Retry: `never` = permanent, do not send the same request again; `backoff` = send it again',
    'after a jittered delay (no sooner than `retryAfterMs` when given); `other-server` = exclude',
    'the server that answered and ask the broker again.',
    '',
    '| code | HTTP status | WebSocket close | retry | meaning |',
    '|---|---|---|---|---|',
    ...Object.entries(ErrorCatalogue).map(
      ([code, spec]) =>
        `| \`${code}\` | ${spec.status} | ${spec.close ?? '— (connection stays open)'} | ${spec.retry} | ${spec.message} |`,
    ),
    '',
    END,
  ];
  return sections.join('\n');
}

/** Replace the generated section of a document (or append it). */
export function spliceReference(document: string): string {
  const start = document.indexOf(BEGIN);
  const end = document.indexOf(END);
  if (start < 0 || end < 0) return `${document.trimEnd()}\n\n${renderProtocolReference()}\n`;
  return `${document.slice(0, start)}${renderProtocolReference()}${document.slice(end + END.length)}`;
}
