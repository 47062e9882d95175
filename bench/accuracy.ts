import { pathToFileURL } from 'node:url';
import { DETECTORS, type DetectorName } from '../src/core/detect/detector.ts';
import { loadPipeline } from '../tests/support/engine.ts';
import { describeFolder, galleryProtocol, leaveOneOut, verifyPairs } from '../tests/support/evaluate.ts';
import { peopleDir, validationDir } from '../tests/support/paths.ts';
import { machine } from './stats.ts';

// Recognition accuracy of the default model behind each detector, in one run: on the tuning photos
// (faces/people, deepface pairs) and on faces/validation, which nothing was tuned on. The gallery
// protocol here ranks by exact cosine over the photos' descriptors; tests/accuracy.test.ts runs the
// same protocol through an index build and engine.match.
// `node --import tsx bench/accuracy.ts`

export interface AccuracyFigures {
  detector: DetectorName;
  people: { found: number; photos: number; top1: number; top5: number };
  pairs: { auc: number; accuracy: number; missed: number };
  validation: { found: number; photos: number; top1: number; top5: number; galleryTop1: number; galleryTop5: number; galleryQueries: number };
}

export async function benchAccuracy(log: (line: string) => void = () => {}): Promise<AccuracyFigures[]> {
  const out: AccuracyFigures[] = [];
  for (const detector of DETECTORS) {
    const pipeline = await loadPipeline(detector);
    const people = await describeFolder(peopleDir, pipeline);
    const loo = leaveOneOut(people, peopleDir);
    const pairs = await verifyPairs(pipeline);
    const validation = await describeFolder(validationDir, pipeline);
    const vloo = leaveOneOut(validation, validationDir);
    const gallery = galleryProtocol(validation, people, 3, validationDir);
    await pipeline.dispose();
    const figures: AccuracyFigures = {
      detector,
      people: { found: people.filter((p) => p.descriptor).length, photos: people.length, top1: loo.top1, top5: loo.top5 },
      pairs: { auc: pairs.auc, accuracy: pairs.accuracy, missed: pairs.missed },
      validation: {
        found: validation.filter((p) => p.descriptor).length,
        photos: validation.length,
        top1: vloo.top1,
        top5: vloo.top5,
        galleryTop1: gallery.top1,
        galleryTop5: gallery.top5,
        galleryQueries: gallery.queries,
      },
    };
    log(`${detector}: ${JSON.stringify(figures)}`);
    out.push(figures);
  }
  return out;
}

export function accuracyTable(figures: AccuracyFigures[]): string {
  const f3 = (x: number) => x.toFixed(3);
  return [
    '| detector | people (tuning): faces, leave-one-out top-1 / top-5 | deepface pairs (tuning): AUC, best accuracy | validation: faces | validation: leave-one-out top-1 / top-5 | validation: gallery protocol top-1 / top-5 |',
    '|---|---|---|---|---|---|',
    ...figures.map(
      (f) =>
        `| ${f.detector} | ${f.people.found}/${f.people.photos}, ${f3(f.people.top1)} / ${f3(f.people.top5)} | ${f.pairs.auc.toFixed(4)}, ${(100 * f.pairs.accuracy).toFixed(1)} % ` +
        `| ${f.validation.found}/${f.validation.photos} | ${f3(f.validation.top1)} / ${f3(f.validation.top5)} | ${f3(f.validation.galleryTop1)} / ${f3(f.validation.galleryTop5)} (${f.validation.galleryQueries} queries) |`,
    ),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`machine: ${machine()}`);
  console.log(accuracyTable(await benchAccuracy(console.log)));
}
