// Readable one-line form of a child's pino JSON log line for the `usher stack` console.
const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

export function formatLogLine(
  source: string,
  raw: string,
  parsed: Record<string, unknown> | undefined,
): string {
  if (parsed === undefined) return `${source.padEnd(8)} ${raw}`;
  const time = typeof parsed.time === 'number' ? new Date(parsed.time).toISOString().slice(11, 23) : '';
  const level = LEVELS[Number(parsed.level)] ?? '';
  const fields = Object.entries(parsed)
    .filter(([key]) => !SKIP.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${time} ${source.padEnd(8)} ${level.padEnd(5)} ${String(parsed.msg ?? '')}${fields === '' ? '' : `  ${fields}`}`;
}
