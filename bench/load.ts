import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPeopleIndex } from '../tests/support/engine.ts';
import { percentile, runTelegramLoad, type AnswerKind } from '../tests/support/loadScenario.ts';
import { peopleDir } from '../tests/support/paths.ts';
import { machine } from './stats.ts';

// The Telegram bot as a process (`lookalike bot telegram`, default limits: 5 requests a minute per
// user, 2 at once, 16 queued, 60 s) flooded through the emulator: 200 photos from 50 users sent within
// 4 seconds (tests/load.test.ts checks the outcome). Latency is from the photo's update to its answer
// reaching the emulator; peak memory is the bot process's VmHWM.
// `node --import tsx bench/load.ts`

export interface LoadBench {
  photos: number;
  users: number;
  sendSeconds: number;
  answers: Record<AnswerKind, number>;
  /** Every answer (pictures, rate-limit and busy replies), ms. */
  p50Ms: number;
  p95Ms: number;
  /** Pictures only, ms. */
  pictureP50Ms: number;
  pictureP95Ms: number;
  peakRssMb: number;
}

const PEOPLE = ['Barack_Obama', 'Angelina_Jolie', 'Jim_Parsons', 'Kevin_Sussman', 'Mayim_Bialik'];

export async function benchLoad(): Promise<LoadBench> {
  const heldOut = new Set(PEOPLE.map((p) => path.join(peopleDir, p, readdirSync(path.join(peopleDir, p)).sort()[0]!)));
  const { dataDir } = await buildPeopleIndex((file) => heldOut.has(file) || !PEOPLE.includes(path.basename(path.dirname(file))));
  try {
    const r = await runTelegramLoad({ dataDir, users: 50, photosPerUser: 4, spreadSeconds: 4, people: PEOPLE });
    if (!r.stayedUp) throw new Error(`the bot died under load:\n${r.stderrTail}`);
    const answers: Record<AnswerKind, number> = { picture: 0, rate_limited: 0, busy: 0, timeout: 0, other: 0 };
    for (const a of r.answers) answers[a.kind]++;
    const all = r.answers.map((a) => a.latencyMs);
    const pictures = r.answers.filter((a) => a.kind === 'picture').map((a) => a.latencyMs);
    return {
      photos: r.photos,
      users: r.users,
      sendSeconds: r.sendSeconds,
      answers,
      p50Ms: percentile(all, 50),
      p95Ms: percentile(all, 95),
      pictureP50Ms: percentile(pictures, 50),
      pictureP95Ms: percentile(pictures, 95),
      peakRssMb: r.peakRssMb,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const machineLine = machine();
  const b = await benchLoad();
  console.log(`machine: ${machineLine}`);
  console.log(JSON.stringify(b, null, 1));
  console.log(
    `${b.photos} photos from ${b.users} users in ${b.sendSeconds.toFixed(1)} s: ${b.answers.picture} pictures, ${b.answers.busy} busy, ${b.answers.rate_limited} rate-limited; ` +
      `latency p50 / p95 ${b.p50Ms.toFixed(0)} / ${b.p95Ms.toFixed(0)} ms (pictures ${b.pictureP50Ms.toFixed(0)} / ${b.pictureP95Ms.toFixed(0)} ms); peak RSS ${b.peakRssMb.toFixed(0)} MiB`,
  );
}
