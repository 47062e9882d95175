import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { indexDir } from '../../core/engine.ts';
import { writeIndexReport } from '../../jobs/report/indexReport.ts';
import { dataDirOf } from '../options.ts';
import { say } from '../run.ts';

// `lookalike index report [--out file]`: a picture of the index (see jobs/report/indexReport.ts).

export const DEFAULT_REPORT_FILE = 'index-report.png';

export function registerIndexReportCommand(index: Command, _config: Config): void {
  index
    .command('report')
    .description('draw the index: cleaning, face_score, faces per person, gender and age, sample faces')
    .option('--out <file>', `where to write it: .html for a web page, else a PNG (default <data>/${DEFAULT_REPORT_FILE})`)
    .action(async (opts: { out?: string }, command: Command) => {
      const dataDir = path.resolve(dataDirOf(command));
      const out = path.resolve(opts.out ?? path.join(dataDir, DEFAULT_REPORT_FILE));
      const written = await writeIndexReport(indexDir(dataDir), out);
      if (!written.ok) {
        say(`lookalike: ${written.error.message}`);
        process.exitCode = 2;
        return;
      }
      const d = written.value.data;
      say(`Report on ${d.faces} faces of ${d.identities} people written to ${written.value.out} (${written.value.format.toUpperCase()}).`);
    });
}
