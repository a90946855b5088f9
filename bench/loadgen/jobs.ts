// What the orchestrator asks a load-generator process to do: one closed-loop run of one
// operation kind against one target, with its bounds.
import type { RoomSpec } from './ops.ts';

interface Bounds {
  concurrency: number;
  maxOps: number;
  warmupMs: number;
  durationMs: number;
  /** Server processes charged with the CPU of the window. */
  serverPids: number[];
  /** Open loop at this rate (see LoopOptions.ratePerSecond); absent: closed loop. */
  ratePerSecond?: number;
}

export type LoadJob =
  | (Bounds & { kind: 'ws-persistent'; url: string; rooms: RoomSpec })
  | (Bounds & { kind: 'ws-per-connection'; url: string; rooms: RoomSpec })
  | (Bounds & { kind: 'http'; url: string; rooms: RoomSpec })
  | (Bounds & { kind: 'usher-join'; host: string; port: number; rooms: RoomSpec; keptHttp: boolean })
  | (Bounds & { kind: 'colyseus-join'; host: string; port: number; roomName: string; keptHttp: boolean });
