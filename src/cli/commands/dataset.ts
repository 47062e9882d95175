import path from 'node:path';
import { Argument, type Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import type { Config } from '../../config.ts';
import { DATASETS, downloadDataset } from '../../jobs/imdbWiki/download.ts';
import type { ImdbWikiVariant } from '../../jobs/imdbWiki/metadata.ts';
import { dataDirOf } from '../options.ts';
import { say } from '../run.ts';

// `lookalike dataset download imdb|wiki`: for users with internet; see jobs/imdbWiki/download.ts.

export function registerDatasetCommands(program: Command, _config: Config): void {
  const dataset = program.command('dataset').description('get the IMDB-WIKI face crops the celebrity index is built from');
  dataset
    .command('download')
    .description(`fetch and unpack an IMDB-WIKI archive: imdb, ${DATASETS.imdb.description}; wiki, ${DATASETS.wiki.description}`)
    .addArgument(new Argument('<which>', 'imdb or wiki').choices(['imdb', 'wiki']))
    .option('--to <dir>', 'where to put it (default <data>/datasets)')
    .option('--keep-archive', 'keep the .tar after unpacking it')
    .action(async (which: ImdbWikiVariant, opts: { to?: string; keepArchive?: boolean }, command: Command) => {
      const dir = path.resolve(opts.to ?? path.join(dataDirOf(command), 'datasets'));
      const bar = new SingleBar({ format: `downloading ${DATASETS[which].archive} {bar} {percentage}% | {mb} MB`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
      let started = false;
      const done = await downloadDataset(which, {
        dir,
        keepArchive: opts.keepArchive,
        onProgress: (received, total) => {
          if (!started) bar.start(total ?? DATASETS[which].approxBytes, 0, { mb: 0 });
          started = true;
          bar.update(received, { mb: (received / 1e6).toFixed(0) });
        },
      });
      if (started) bar.stop();
      if (!done.ok) {
        say(`lookalike: ${done.error.message}`);
        process.exitCode = 1;
        return;
      }
      say(`Unpacked to ${done.value.folder}. Build the index with: lookalike index build --${which} ${done.value.folder}`);
    });
}
