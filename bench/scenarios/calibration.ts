// Calibration: each bare limit again, with busy work added so that it does the target's
// multiple of its own work — what that measures here (on loopback a slower server also pays to
// wake its idle client, so more than the multiple). Only for the pairs this run measured.
import type { LoadResult } from '../loadgen/closed-loop.ts';
import type { LoadJob } from '../loadgen/jobs.ts';
import { runLoadJob } from '../orchestrate/load-runner.ts';
import { startBenchServer, stopGracefully } from '../orchestrate/servers.ts';
import type { CalibrationSummary, MeasurementSummary } from '../report/types.ts';
import { type LoadContext, requestJob } from './context.ts';
import { summarize } from './pairs.ts';
import { RATIO_SPECS } from './ratios.ts';

interface Twin {
  reference: string;
  script: 'echo-server' | 'bare-fastify';
  role: string;
  job: (port: number, pid: number, round: number) => LoadJob;
}

/** Runs the calibrated twin of every bare limit measured in `measured`, with its Usher measurement. */
export async function runCalibration(
  ctx: LoadContext,
  measured: readonly MeasurementSummary[],
): Promise<{ measurements: MeasurementSummary[]; calibration: CalibrationSummary[] }> {
  const { config, group, log, nodeFlags } = ctx;
  const twins: Twin[] = [
    {
      reference: 'limit.ws',
      script: 'echo-server',
      role: 'ws',
      job: (port, pid, round) =>
        requestJob(config, 'ws-persistent', `ws://127.0.0.1:${port}/v1/session`, `xw${round}`, [pid]),
    },
    {
      reference: 'limit.conn',
      script: 'echo-server',
      role: 'ws',
      job: (port, pid, round) =>
        requestJob(config, 'ws-per-connection', `ws://127.0.0.1:${port}/v1/session`, `xc${round}`, [pid]),
    },
    {
      reference: 'http.fastify',
      script: 'bare-fastify',
      role: 'fastify',
      job: (port, pid, round) => requestJob(config, 'http', `http://127.0.0.1:${port}`, `xh${round}`, [pid]),
    },
  ];
  const measurements: MeasurementSummary[] = [];
  const calibration: CalibrationSummary[] = [];
  for (const { reference, script, role, job } of twins) {
    const bare = measured.find((m) => m.id === reference);
    const spec = RATIO_SPECS.find((s) => s.reference === reference && s.atMost);
    const usher = measured.find((m) => m.id === spec?.usher);
    if (bare === undefined || spec === undefined || usher === undefined) continue;
    const factor = spec.target;
    const id = `${reference}.x${factor}`;
    const workUs = Math.round((factor - 1) * bare.cpuUsPerOp * 10) / 10;
    const twin = await startBenchServer(
      group,
      script,
      ['--reply-bytes', String(ctx.servers.replyBytes), '--work-us', String(workUs)],
      nodeFlags,
    );
    const results: LoadResult[] = [];
    for (let round = 0; round < config.rounds; round += 1) {
      log(
        `usher bench: ${id} (calibration, +${workUs} µs busy per request) round ${round + 1}/${config.rounds}`,
      );
      results.push(await runLoadJob(group, id, job(twin.port, twin.process.pid, round)));
    }
    await stopGracefully(group, twin.process);
    const summary = summarize(
      id,
      `calibration: ${reference} + ${workUs} µs busy CPU per request (${factor}× its work)`,
      bare.system,
      results,
      { [twin.process.pid]: role },
    );
    measurements.push(summary);
    const ratio = summary.cpuUsPerOp / bare.cpuUsPerOp;
    const usherVsTwin = usher.cpuUsPerOp / summary.cpuUsPerOp;
    calibration.push({ reference, id, usher: usher.id, factor, workUs, ratio, usherVsTwin });
    log(
      `usher bench: ${id}: ${summary.cpuUsPerOp.toFixed(1)} µs CPU/op, ${ratio.toFixed(2)}× ${reference}; ${usher.id} is ${usherVsTwin.toFixed(2)}× it`,
    );
  }
  return { measurements, calibration };
}
