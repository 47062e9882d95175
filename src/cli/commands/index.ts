import path from 'node:path';
import { Option, type Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import type { Config } from '../../config.ts';
import { addImdbWikiBuildOptions, isImdbWikiBuild, runImdbWikiBuild, type ImdbWikiCliOptions } from './indexImdbWiki.ts';
import { registerIndexReportCommand } from './indexReport.ts';
import { DEFAULT_DETECTOR, type DetectorName } from '../../core/detect/detector.ts';
import type { Precision } from '../../core/models/embedder.ts';
import { dataDirOf, detectorOption, modelOption, precisionOption } from '../options.ts';
import { queueSettingsFromEnv } from '../../queue/settings.ts';
import { say } from '../run.ts';

export function registerIndexCommands(program: Command, config: Config): void {
  const index = program.command('index').description('build and inspect the celebrity index');

  const build = index
    .command('build [folder]')
    .description('index every face under <folder>/<Person_Name>/*.jpg (underscores become spaces), or an IMDB-WIKI crop folder (--imdb, --wiki)')
    .addOption(modelOption().default('default'))
    .addOption(detectorOption().default(DEFAULT_DETECTOR))
    .addOption(new Option('--descriptor <layer>', "VGG-Face's descriptor: 4096 (fc7, default) or 2622 (fc8, as the original project)").choices(['4096', '2622']))
    .addOption(precisionOption().default('fp32'));
  addImdbWikiBuildOptions(build).action(
    async (folder: string | undefined, opts: { model: string; detector: DetectorName; descriptor?: string; precision: Precision } & Partial<ImdbWikiCliOptions>, command: Command) => {
      const dataDir = path.resolve(dataDirOf(command));
      if (isImdbWikiBuild(opts)) {
        if (folder) {
          say(`lookalike: give either a folder of people or --imdb/--wiki, not both (got "${folder}")`);
          process.exitCode = 2;
          return;
        }
        await runImdbWikiBuild(opts as ImdbWikiCliOptions, dataDir, config);
        return;
      }
      if (!folder) {
        say('lookalike: index build needs a folder of people (<folder>/<Person_Name>/*.jpg), or --imdb <dir> / --wiki <dir>');
        process.exitCode = 2;
        return;
      }
      const bar = new SingleBar(
        { format: 'indexing {bar} {value}/{total} images | {faces} faces | {eta_formatted} left', stream: process.stderr, hideCursor: true },
        Presets.shades_classic,
      );
      let started = false;
      const { buildIndex } = await import('../../jobs/buildIndex.ts');
      const built = await buildIndex({
        folder,
        dataDir,
        modelsDir: config.modelsDir,
        model: opts.model,
        detector: opts.detector,
        descriptor: opts.descriptor,
        precision: opts.precision,
        device: config.device,
        workers: opts.workers,
        ...(opts.redis ? { redis: queueSettingsFromEnv(process.env, opts.redis)! } : {}),
        onProgress: ({ done, total, faces }) => {
          if (!started) bar.start(total, 0, { faces: 0 });
          started = true;
          bar.update(done, { faces });
        },
      });
      if (started) bar.stop();
      if (opts.notify) process.stderr.write('\x07');
      if (!built.ok) {
        say(`lookalike: ${built.error.message}`);
        process.exitCode = 1;
        return;
      }
      const s = built.value;
      say(`Indexed ${s.faces} faces of ${s.identities} people from ${s.images} images in ${s.seconds.toFixed(1)} s (model ${s.modelId}${opts.precision === 'int8' ? ' int8' : ''}, descriptor ${s.descriptor}, detector ${s.detector}).`);
      const reasons = Object.entries(s.skipped);
      if (reasons.length > 0) {
        say(`Skipped ${s.skippedFiles.length} images: ${reasons.map(([why, n]) => `${n} ${why.replace(/_/g, ' ')}`).join(', ')}.`);
        for (const f of s.skippedFiles) say(`  ${f.reason}: ${f.path}`);
      }
      say(`Index written to ${path.join(dataDir, 'index')}.`);
    },
  );

  registerIndexReportCommand(index, config);
}
