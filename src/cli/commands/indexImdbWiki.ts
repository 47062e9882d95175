import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import type { Config } from '../../config.ts';
import type { DetectorName } from '../../core/detect/detector.ts';
import type { ImdbWikiBuildSummary } from '../../jobs/imdbWiki/buildImdbWikiIndex.ts';
import { queueSettingsFromEnv } from '../../queue/settings.ts';
import { say } from '../run.ts';
import type { Precision } from '../../core/models/embedder.ts';

// `lookalike index build --imdb <dir>` / `--wiki <dir>`: the celebrity index from an unpacked
// IMDB-WIKI crop folder. Each cleaning rule is a flag; a stopped build resumes by running the same
// command again.

export interface ImdbWikiCliOptions {
  imdb?: string;
  wiki?: string;
  minFaceScore: number;
  requireFace: boolean;
  singleFace: boolean;
  requireName: boolean;
  dedupePaths: boolean;
  dedupeBytes: boolean;
  maxPerIdentity?: number;
  resume: boolean;
  notify?: boolean;
  workers?: number;
  batchSize?: number;
  redis?: string;
  model: string;
  detector: DetectorName;
  descriptor?: string;
  precision?: Precision;
}

/** Adds the IMDB-WIKI options to `index build`. */
export function addImdbWikiBuildOptions(command: Command): Command {
  return command
    .addOption(new Option('--imdb <dir>', 'build from an unpacked imdb_crop folder (imdb.mat and the NN/ folders)').conflicts('wiki'))
    .addOption(new Option('--wiki <dir>', 'build from an unpacked wiki_crop folder (wiki.mat and the NN/ folders)'))
    .addOption(new Option('--min-face-score <score>', 'IMDB-WIKI: drop rows whose face_score is below this ("none" keeps all)').default(3).argParser(score))
    .option('--no-require-face', 'IMDB-WIKI: keep rows whose face_score is -Inf (no face found by the dataset)')
    .option('--no-single-face', 'IMDB-WIKI: keep rows where a second face was found')
    .option('--no-require-name', 'IMDB-WIKI: keep rows without a name')
    .option('--no-dedupe-paths', 'IMDB-WIKI: keep rows that repeat an earlier full_path')
    .option('--no-dedupe-bytes', 'IMDB-WIKI: keep files with the same bytes as an earlier row')
    .addOption(new Option('--max-per-identity <n>', 'IMDB-WIKI: keep at most n faces per person, those with the best face_score').argParser(positiveInt))
    .option('--no-resume', 'IMDB-WIKI: discard the checkpoint of a stopped build and start over')
    .option('--notify', 'ring the terminal bell when the build ends')
    .addOption(new Option('--workers <n>', 'worker threads (default: one per core)').argParser(positiveInt))
    .addOption(new Option('--redis <url>', 'hand the images to `lookalike worker` processes through this Redis (redis://host:port) instead of threads here'))
    .addOption(new Option('--batch-size <n>', 'IMDB-WIKI: crops per batch, embedded together and checkpointed with one write (default 16)').argParser(positiveInt));
}

export function isImdbWikiBuild(opts: Partial<ImdbWikiCliOptions>): boolean {
  return opts.imdb !== undefined || opts.wiki !== undefined;
}

export async function runImdbWikiBuild(opts: ImdbWikiCliOptions, dataDir: string, config: Config): Promise<void> {
  const variant = opts.imdb !== undefined ? 'imdb' : 'wiki';
  const root = path.resolve((opts.imdb ?? opts.wiki)!);
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    // A second Ctrl-C stops at once; the checkpoint is consistent after every batch anyway.
    if (interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const bar = new SingleBar(
    {
      format: 'indexing {bar} {percentage}% | {value}/{total} crops | {faces} faces | {rate} faces/s | ETA {etaText}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let barStarted = false;
  // The build's modules (models, the queue) load when a build runs, not with every command.
  const { buildImdbWikiIndex } = await import('../../jobs/imdbWiki/buildImdbWikiIndex.ts');
  const { MatFormatError } = await import('../../jobs/imdbWiki/matFile.ts');
  const { CheckpointMismatchError } = await import('../../jobs/imdbWiki/checkpoint.ts');
  try {
    const built = await buildImdbWikiIndex({
      root,
      variant,
      dataDir,
      modelsDir: config.modelsDir,
      model: opts.model,
      detector: opts.detector,
      descriptor: opts.descriptor,
      precision: opts.precision,
      device: config.device,
      clean: {
        requireFace: opts.requireFace,
        minFaceScore: opts.minFaceScore,
        requireSingleFace: opts.singleFace,
        requireName: opts.requireName,
        dropDuplicatePaths: opts.dedupePaths,
      },
      dedupeBytes: opts.dedupeBytes,
      maxPerIdentity: opts.maxPerIdentity,
      resume: opts.resume,
      workers: opts.workers,
      batchSize: opts.batchSize,
      ...(opts.redis ? { redis: queueSettingsFromEnv(process.env, opts.redis)! } : {}),
      signal: controller.signal,
      onPlan: ({ stats, total, resumed, tornBytes }) => {
        say(`Cleaning ${variant}.mat:`);
        for (const line of stats.lines()) say(`  ${line}`);
        if (resumed > 0) say(`Resuming: ${resumed} of ${total} crops are in the checkpoint${tornBytes > 0 ? ` (a torn last record of ${tornBytes} bytes was dropped)` : ''}.`);
        bar.start(total, resumed, { faces: 0, rate: '-', etaText: '-' });
        barStarted = true;
      },
      onProgress: ({ done, faces, rate, etaSeconds }) => {
        bar.update(done, { faces, rate: rate.toFixed(1), etaText: etaSeconds === null ? '-' : duration(etaSeconds) });
      },
    });
    if (barStarted) bar.stop();
    if (!built.ok) {
      say(`lookalike: ${built.error.message}`);
      process.exitCode = 2;
      return;
    }
    printSummary(built.value);
    if (built.value.status === 'interrupted') process.exitCode = 130;
  } catch (err) {
    if (barStarted) bar.stop();
    if (err instanceof MatFormatError || err instanceof CheckpointMismatchError) {
      say(`lookalike: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // The bell: a long build's end should reach someone who walked away from the terminal.
    if (opts.notify) process.stderr.write('\x07');
  }
}

function printSummary(s: ImdbWikiBuildSummary): void {
  if (s.status === 'interrupted') {
    say(
      `Stopped. ${s.resumed + s.processed} of ${s.planned} crops are saved in the checkpoint (${s.checkpointDir}); ` +
        'run the same command again to resume.',
    );
    return;
  }
  for (const line of s.cleaning.slice(-3)) say(`  ${line}`);
  const sources = Object.entries(s.sources).map(([source, n]) => `${n} ${source.replace('_', ' ')}`).join(', ');
  say(
    `Indexed ${s.faces} faces of ${s.identities} people from ${s.planned} crops in ${s.seconds.toFixed(1)} s ` +
      `(${s.rowsPerSecond.toFixed(1)} crops/s on ${s.workers} ${s.distributed ? 'worker process' : 'worker'}${s.workers === 1 ? '' : s.distributed ? 'es' : 's'}; face boxes: ${sources || 'none'}; model ${s.modelId}).`,
  );
  const reasons = Object.entries(s.skipped);
  if (reasons.length > 0) say(`Skipped ${reasons.reduce((a, [, n]) => a + n, 0)} crops: ${reasons.map(([why, n]) => `${n} ${why.replace(/_/g, ' ')}`).join(', ')}.`);
  say(`Index written to ${s.indexDir}.`);
}

/** 3725 -> '1h02m', 125 -> '2m05s'. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return `${m}m${String(s % 60).padStart(2, '0')}s`;
}

function score(value: string): number {
  if (value.toLowerCase() === 'none') return -Infinity;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number or "none", got "${value}"`);
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}
