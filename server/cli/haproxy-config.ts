// The HAProxy front of several brokers: one port for HTTP and WebSocket, round robin over the
// brokers that pass their readiness check, and a request whose broker connection fails is
// sent to another one instead of failing the client.
export interface FrontBackend {
  readonly host: string;
  readonly port: number;
}

export interface FrontConfigOptions {
  /** host:port to bind, e.g. 127.0.0.1:8080 or 0.0.0.0:8443. */
  readonly bind: string;
  readonly backends: readonly FrontBackend[];
  /** Terminate TLS with this certificate-then-key PEM file. */
  readonly tlsPemFile?: string;
  /** Checked every 200 ms; one failure takes a broker out, one success puts it back. */
  readonly checkPath?: string;
  /** Concurrent client connections (default 4000); every SDK session keeps one open. */
  readonly maxConnections?: number;
}

export function haproxyConfig(options: FrontConfigOptions): string {
  const checkPath = options.checkPath ?? '/readyz';
  return [
    'global',
    `  maxconn ${options.maxConnections ?? 4000}`,
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    // A session WebSocket stays open while the client is in a room.
    '  timeout tunnel 1h',
    '  retries 2',
    '  option redispatch 1',
    '  retry-on conn-failure',
    'frontend front',
    `  bind ${options.bind}${options.tlsPemFile === undefined ? '' : ` ssl crt ${options.tlsPemFile}`}`,
    // The brokers run with --trust-proxy: the client address comes from here.
    '  option forwardfor',
    '  default_backend brokers',
    'backend brokers',
    '  balance roundrobin',
    `  option httpchk GET ${checkPath}`,
    '  http-check expect status 200',
    ...options.backends.map(
      (backend, index) => `  server b${index} ${backend.host}:${backend.port} check inter 200 fall 1 rise 1`,
    ),
    '',
  ].join('\n');
}
