import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { fitSimilarity, warpToChip, type FaceTemplate } from '../src/core/align.ts';
import { decodeImage } from '../src/core/decode.ts';
import { DLIB_CHIP_TEMPLATE } from '../src/core/models/faceRecognitionNet.ts';
import { cosine, l2Normalise } from '../src/core/similarity.ts';
import type { DetectedFace, RgbImage } from '../src/core/types.ts';
import { listGalleryImages } from '../src/jobs/galleryFolder.ts';
import { loadPipeline } from '../tests/support/engine.ts';
import { rocAuc } from '../tests/support/eval.ts';
import { canonicalName } from '../tests/support/evaluate.ts';
import { peopleDir } from '../tests/support/paths.ts';

// The alignment sweep behind FaceRecognitionNet's template, on the tuning photos (faces/people) only:
// d' of same-person against different-person cosines over all pairs of largest faces, for the fit's
// point weights, the template's scale about the chip's centre, and mirror averaging. The shipped
// template (DLIB_CHIP_TEMPLATE) already carries the chosen zoom; zooms here are relative to dlib's own.
// `node --import tsx bench/alignment.ts`

const SIZE = 150;
/** The shipped template carries this zoom (src/core/models/faceRecognitionNet.ts). */
const SHIPPED_ZOOM = 1.1;

interface Variant {
  label: string;
  weights: [number, number, number, number];
  zoom: number;
  mirror?: boolean;
}

function zoomed(t: FaceTemplate, zoom: number): FaceTemplate {
  const z = (p: { x: number; y: number }) => ({ x: 0.5 + zoom * (p.x - 0.5), y: 0.5 + zoom * (p.y - 0.5) });
  return { rightEye: z(t.rightEye), leftEye: z(t.leftEye), nose: z(t.nose), mouth: z(t.mouth) };
}

function mirror(c: RgbImage): RgbImage {
  const out = Buffer.alloc(c.data.length);
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) c.data.copy(out, (y * c.width + (c.width - 1 - x)) * 3, (y * c.width + x) * 3, (y * c.width + x) * 3 + 3);
  }
  return { ...c, data: out };
}

function dPrime(same: number[], different: number[]): number {
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const variance = (a: number[]) => mean(a.map((x) => (x - mean(a)) ** 2));
  return (mean(same) - mean(different)) / Math.sqrt((variance(same) + variance(different)) / 2);
}

export async function benchAlignment(log: (line: string) => void = () => {}): Promise<{ label: string; dPrime: number; auc: number }[]> {
  const pipeline = await loadPipeline();
  const faces: { name: string; image: RgbImage; face: DetectedFace }[] = [];
  for (const img of listGalleryImages(peopleDir)) {
    const decoded = await decodeImage(await readFile(img.path));
    if (!decoded.ok) continue;
    const [face] = await pipeline.detector.detect(decoded.value, { maxFaces: 1 });
    if (face?.keypoints) faces.push({ name: canonicalName(img.name), image: decoded.value, face });
  }
  const dlib = zoomed(DLIB_CHIP_TEMPLATE, 1 / SHIPPED_ZOOM);
  const variants: Variant[] = [
    { label: 'eyes only, zoom 1.00', weights: [1, 1, 0, 0], zoom: 1 },
    { label: 'eyes and mouth, zoom 1.00', weights: [1, 1, 0, 1], zoom: 1 },
    { label: 'nose at half weight, zoom 1.00', weights: [1, 1, 0.5, 1], zoom: 1 },
    ...[1, 1.05, 1.1, 1.15, 1.2].map((zoom) => ({ label: `all four alike, zoom ${zoom.toFixed(2)}`, weights: [1, 1, 1, 1] as Variant['weights'], zoom })),
    { label: 'all four alike, zoom 1.10, mirror averaged', weights: [1, 1, 1, 1], zoom: 1.1, mirror: true },
  ];
  const out: { label: string; dPrime: number; auc: number }[] = [];
  for (const v of variants) {
    const template = zoomed(dlib, v.zoom);
    const names = ['rightEye', 'leftEye', 'nose', 'mouth'] as const;
    const chips = await Promise.all(
      faces.map(({ image, face }) => {
        const src = names.map((n) => face.keypoints![n]);
        const dst = names.map((n) => ({ x: template[n].x * SIZE, y: template[n].y * SIZE }));
        return warpToChip(image, fitSimilarity(src, dst, v.weights), SIZE);
      }),
    );
    let descriptors = await pipeline.embedder.predict(chips);
    if (v.mirror) {
      const mirrored = await pipeline.embedder.predict(chips.map(mirror));
      descriptors = descriptors.map((d, i) => l2Normalise(d.map((x, j) => x + mirrored[i]![j]!)));
    }
    const same: number[] = [];
    const different: number[] = [];
    for (let i = 0; i < faces.length; i++) {
      for (let j = i + 1; j < faces.length; j++) (faces[i]!.name === faces[j]!.name ? same : different).push(cosine(descriptors[i]!, descriptors[j]!));
    }
    const row = { label: v.label, dPrime: dPrime(same, different), auc: rocAuc([...same.map((score) => ({ score, same: true })), ...different.map((score) => ({ score, same: false }))]) };
    log(`${row.label}: d' ${row.dPrime.toFixed(2)}, all-pairs AUC ${row.auc.toFixed(5)}`);
    out.push(row);
  }
  await pipeline.dispose();
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`machine: ${os.cpus()[0]?.model.trim()} x${os.availableParallelism()}, load ${os.loadavg()[0]!.toFixed(1)}; faces/people (tuning) only`);
  await benchAlignment(console.log);
}
