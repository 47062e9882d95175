import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Gallery } from '../src/core/gallery.ts';
import { toNchwBatch } from '../src/core/models/faceRecognitionNet.ts';
import { readModelsManifest } from '../src/core/models/manifest.ts';
import { loadModel } from '../src/core/models/registry.ts';
import { load as loadVggFace, VGG_FACE_CHIP } from '../src/core/models/vggFace.ts';
import { createSession, runFloat32 } from '../src/core/runtime/ort.ts';
import { convertBlazeFace } from '../src/jobs/convertBlazeFace.ts';
import { convertVggFace, INT8_MODEL_FILE, MODEL_FILE, type ConvertVggFaceResult } from '../src/jobs/convertVggFace.ts';
import { calibrationCrops } from '../src/jobs/faceCalibration.ts';
import { KerasWeightsError } from '../src/jobs/kerasWeights.ts';
import { writeModelFile } from '../src/jobs/onnx/modelFile.ts';
import { decodeModel, encodeModel, encodeModelChunks } from '../src/jobs/onnx/proto.ts';
import { buildVggFaceGraph, VGG_FACE_WIDTHS, type VggWidths } from '../src/jobs/vggFaceGraph.ts';
import { lookalike } from './support/cli.ts';
import { linkPeopleGallery } from './support/linkedGallery.ts';
import { peopleDir } from './support/paths.ts';
import {
  randomCrops,
  randomKerasWeights,
  randomOnnxWeights,
  referenceForward,
  writeKerasVggFile,
  type KerasLayerWeights,
} from './support/vggFace.ts';

// VGG-Face from Keras HDF5 weights without the real 580 MB file: random weights in VGG-Face's exact
// layer sequence and spatial pipeline (224 -> 7), at narrower channel widths, written the way Keras 2
// and Keras 1 write them, converted by the job and checked against a plain-loop reference forward
// pass. The full-size graph is built in memory with random weights for its shapes.


// Distinct widths everywhere, so that a swapped axis or a transposed kernel cannot go unnoticed.
const WIDTHS_A: VggWidths = { blocks: [4, 6, 8, 10, 12], fc6: 24, fc7: 20, fc8: 13 };
const WIDTHS_B: VggWidths = { blocks: [5, 7, 9, 11, 3], fc6: 17, fc7: 15, fc8: 11 };

let work: string;
let weightsA: KerasLayerWeights[];
let weightsB: KerasLayerWeights[];
const h5 = { keras2: '', keras1: '' };
const models = { keras2: '', keras1: '' };
let convertedA: ConvertVggFaceResult;
let convertedB: ConvertVggFaceResult;

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lookalike-vggface-'));
  weightsA = randomKerasWeights(WIDTHS_A, 1);
  weightsB = randomKerasWeights(WIDTHS_B, 2);
  h5.keras2 = path.join(work, 'keras2_weights.h5');
  h5.keras1 = path.join(work, 'keras1_weights.h5');
  await writeKerasVggFile(h5.keras2, weightsA, { naming: 'keras2' });
  await writeKerasVggFile(h5.keras1, weightsB, { naming: 'keras1' });
  models.keras2 = path.join(work, 'models-keras2');
  models.keras1 = path.join(work, 'models-keras1');
  convertedA = await convertVggFace({ file: h5.keras2, modelsDir: models.keras2, widths: WIDTHS_A });
  // Index builds and matches through this folder need the face detector beside the model.
  await convertBlazeFace({ modelsDir: models.keras2 });
  // The Keras-1 file goes through the op-for-op head (fc6..fc8 as convolutions) as well.
  convertedB = await convertVggFace({ file: h5.keras1, modelsDir: models.keras1, widths: WIDTHS_B, head: 'conv' });
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function maxAbsError(reference: Float64Array, actual: Float32Array, offset: number): number {
  let worst = 0;
  reference.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - actual[offset + i]!));
  });
  return worst;
}

function l2(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

for (const [style, widths] of [['keras2', WIDTHS_A], ['keras1', WIDTHS_B]] as const) {
  test(`${style} file: ONNX fc7 and fc8 match the reference forward pass (max abs error <= 1e-4), batched`, async () => {
    const converted = style === 'keras2' ? convertedA : convertedB;
    const weights = style === 'keras2' ? weightsA : weightsB;
    const { session } = await createSession(converted.file, { device: 'cpu' });
    try {
      const crops = randomCrops(2, 224, style === 'keras2' ? 11 : 12);
      const out = await runFloat32(session, { name: 'input', data: toNchwBatch(crops, 224), dims: [2, 3, 224, 224] });
      assert.deepEqual(out.fc7!.dims, [2, widths.fc7]);
      assert.deepEqual(out.fc8!.dims, [2, widths.fc8]);
      for (const [n, crop] of crops.entries()) {
        const ref = referenceForward(weights, crop);
        assert.ok(l2(ref.fc7) > 0.5 && l2(ref.fc8) > 0.5, 'the random network produces non-trivial outputs');
        const e7 = maxAbsError(ref.fc7, out.fc7!.data, n * widths.fc7);
        const e8 = maxAbsError(ref.fc8, out.fc8!.data, n * widths.fc8);
        assert.ok(e7 <= 1e-4, `fc7 of crop ${n}: max abs error ${e7}`);
        assert.ok(e8 <= 1e-4, `fc8 of crop ${n}: max abs error ${e8}`);
      }
    } finally {
      await session.release();
    }
  });
}

test('conversion writes vgg-face.onnx and a manifest entry with both descriptors', async () => {
  assert.equal(path.basename(convertedA.file), MODEL_FILE);
  const entry = (await readModelsManifest(models.keras2))!.models.vggface!;
  assert.equal(entry.sha256, convertedA.sha256);
  assert.equal(entry.bytes, convertedA.bytes);
  assert.equal(entry.inputSize, 224);
  assert.equal(entry.dims, WIDTHS_A.fc7);
  assert.deepEqual(entry.descriptors, { '4096': { output: 'fc7', dims: WIDTHS_A.fc7 }, '2622': { output: 'fc8', dims: WIDTHS_A.fc8 } });
  assert.match(String(entry.source_sha256), /^[0-9a-f]{64}$/);

  const model = decodeModel(await readFile(convertedA.file));
  const ops = (type: string) => model.graph.node.filter((n) => n.op_type === type).length;
  assert.deepEqual([ops('Conv'), ops('Gemm'), ops('MaxPool'), ops('Relu')], [13, 3, 5, 15]);
  assert.deepEqual(model.graph.input[0]!.type.tensor_type.shape.dim, [{ dim_param: 'N' }, { dim_value: 3 }, { dim_value: 224 }, { dim_value: 224 }]);
  assert.deepEqual(model.graph.output.map((o) => o.name), ['fc7', 'fc8']);
  const conv = decodeModel(await readFile(convertedB.file));
  assert.deepEqual(['Conv', 'Gemm'].map((t) => conv.graph.node.filter((n) => n.op_type === t).length), [16, 0]);
});

test('the chunked ONNX writer produces a model that decodes like encodeModel', async () => {
  const small = buildVggFaceGraph(WIDTHS_A, (_, i) => {
    const w = weightsA[i]!;
    const [kh, kw, cin, cout] = w.shape;
    return { kernel: { dims: [cout, cin, kh, kw], data: new Float32Array(w.kernel.length).fill(0.5) }, bias: w.bias };
  }).model;
  const chunked = Buffer.concat(encodeModelChunks(small));
  assert.deepEqual(decodeModel(chunked), decodeModel(encodeModel(small)));
  assert.equal(chunked.length, encodeModel(small).length);
});

test('the embedder: L2-normalised fc7 or fc8 descriptors, the same singly and in batches', async () => {
  const crops = randomCrops(3, 224, 21);
  const fc7 = await loadVggFace({ modelsDir: models.keras2, device: 'cpu' });
  const fc8 = await loadVggFace({ modelsDir: models.keras2, device: 'cpu', descriptor: '2622' });
  try {
    assert.deepEqual([fc7.id, fc7.inputSize, fc7.descriptor, fc7.dims, fc7.output], ['vggface', 224, '4096', WIDTHS_A.fc7, 'fc7']);
    assert.deepEqual([fc8.descriptor, fc8.dims, fc8.output], ['2622', WIDTHS_A.fc8, 'fc8']);
    const batch = await fc7.predict(crops);
    const single = await fc7.predict([crops[1]!]);
    assert.equal(batch.length, 3);
    for (const d of batch) assert.ok(Math.abs(l2(d) - 1) < 1e-5, `norm ${l2(d)}`);
    assert.ok(maxAbsError(Float64Array.from(batch[1]!), single[0]!, 0) < 1e-5, 'batch of three and batch of one agree');

    const ref = referenceForward(weightsA, crops[2]!);
    const [d8] = await fc8.predict([crops[2]!]);
    const norm = l2(ref.fc8);
    assert.ok(maxAbsError(ref.fc8.map((v) => v / norm), d8!, 0) <= 1e-4, 'fc8 descriptor = normalised reference fc8');
  } finally {
    await fc7.dispose();
    await fc8.dispose();
  }
});

test('the registry loads vggface and refuses a descriptor it does not have', async () => {
  const loaded = await loadModel('vggface', { modelsDir: models.keras1, device: 'cpu', descriptor: '2622' });
  assert.ok(loaded.ok);
  assert.deepEqual([loaded.value.id, loaded.value.descriptor, loaded.value.dims], ['vggface', '2622', WIDTHS_B.fc8]);
  await loaded.value.dispose();
  const wrong = await loadModel('vggface', { modelsDir: models.keras1, device: 'cpu', descriptor: '128' });
  assert.ok(!wrong.ok);
  assert.match(wrong.error.message, /no descriptor "128"; it offers 4096, 2622/);
});

test('a model.save() file (weights under /model_weights) converts too', async () => {
  const tiny: VggWidths = { blocks: [2, 2, 2, 2, 2], fc6: 3, fc7: 3, fc8: 2 };
  const file = path.join(work, 'full_model.h5');
  await writeKerasVggFile(file, randomKerasWeights(tiny, 3), { naming: 'keras2', fullModel: true });
  const converted = await convertVggFace({ file, modelsDir: path.join(work, 'models-full'), widths: tiny });
  assert.equal(converted.parameters, randomKerasWeights(tiny, 3).reduce((n, w) => n + w.kernel.length + w.bias.length, 0));
});

test('full-size VGG-Face with random weights: 145,002,878 weights, outputs of 4096 and 2622', async () => {
  // Built straight from random initializers (no 580 MB HDF5 file) and written chunk by chunk.
  const file = path.join(work, 'full-size.onnx');
  let parameters: number;
  {
    const built = buildVggFaceGraph(VGG_FACE_WIDTHS, randomOnnxWeights(5));
    parameters = built.parameters;
    await writeModelFile(file, built.model);
  }
  assert.equal(parameters, 145_002_878);
  const { session } = await createSession(file, { device: 'cpu' });
  try {
    const crops = randomCrops(1, 224, 31);
    const out = await runFloat32(session, { name: 'input', data: toNchwBatch(crops, 224), dims: [1, 3, 224, 224] });
    assert.deepEqual(out.fc7!.dims, [1, 4096]);
    assert.deepEqual(out.fc8!.dims, [1, 2622]);
    assert.ok(out.fc8!.data.every(Number.isFinite));
  } finally {
    await session.release();
    rmSync(file, { force: true });
  }
});

// ---- files that are not VGG-Face -------------------------------------------------------------

async function refused(file: string, widths: VggWidths = WIDTHS_A): Promise<string> {
  const modelsDir = path.join(work, `refused-${path.basename(file)}`);
  const err = await convertVggFace({ file, modelsDir, widths }).then(
    () => assert.fail(`${file} was converted`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KerasWeightsError, `expected KerasWeightsError, got ${String(err)}`);
  assert.ok(!existsSync(modelsDir), 'nothing is written for a refused file');
  return err.message;
}

test('a file that is not HDF5 is refused as such', async () => {
  const text = path.join(work, 'weights.h5');
  writeFileSync(text, 'this is not an HDF5 file\n'.repeat(100));
  assert.match(await refused(text), /weights\.h5 is not an HDF5 file/);
  const jpeg = path.join(peopleDir, 'Barack_Obama', readdirSync(path.join(peopleDir, 'Barack_Obama')).sort()[0]!);
  assert.match(await refused(jpeg), /is not an HDF5 file/);
  assert.match(await refused(path.join(work, 'nowhere.h5')), /cannot read .*nowhere\.h5: no such file/);
});

test('a missing layer is refused, naming the first layer that does not fit', async () => {
  // conv2_1 (weight layer 3) left out entirely: the file's third weight layer is conv2_2's.
  const gap = path.join(work, 'gap.h5');
  await writeKerasVggFile(gap, weightsA, { naming: 'keras2', dropLayer: { index: 2 } });
  assert.match(
    await refused(gap),
    /layer "conv2d_4" \(weight layer 3, VGG-Face conv2_1\) has kernel \(3, 3, 6, 6\); expected conv2_1: kernel \(3, 3, 4, 6\).*is conv2_1 missing/,
  );
  // fc8 left out: the file ends one layer early.
  const short = path.join(work, 'short.h5');
  await writeKerasVggFile(short, weightsA, { naming: 'keras1', dropLayer: { index: 15 } });
  assert.match(await refused(short), /has 15 layers with weights, VGG-Face has 16: the first missing one is weight layer 16, fc8: kernel \(1, 1, 20, 13\)/);
  // Listed in layer_names, but its group is not in the file.
  const listed = path.join(work, 'listed.h5');
  await writeKerasVggFile(listed, weightsA, { naming: 'keras2', dropLayer: { index: 7, keepName: true } });
  assert.match(await refused(listed), /layer "conv2d_8" is listed in layer_names but missing from the file/);
});

test('a wrongly shaped kernel is refused, naming the layer and both shapes', async () => {
  const wrong = path.join(work, 'wrong.h5');
  await writeKerasVggFile(wrong, weightsA, { naming: 'keras2', reshapeKernel: { index: 5, shape: [3, 3, 8, 9] } });
  assert.match(await refused(wrong), /layer "conv2d_6" \(weight layer 6, VGG-Face conv3_2\) has kernel \(3, 3, 8, 9\); expected conv3_2: kernel \(3, 3, 8, 8\)/);
  const theano = path.join(work, 'theano.h5');
  await writeKerasVggFile(theano, weightsA, { naming: 'keras1', reshapeKernel: { index: 0, shape: [4, 3, 3, 3] } });
  assert.match(await refused(theano), /"convolution2d_1" .* has kernel \(4, 3, 3, 3\).*Theano-ordered/);
  // The narrower test network is not VGG-Face: at full size its first layer already does not fit.
  assert.match(await refused(h5.keras2, VGG_FACE_WIDTHS), /layer "conv2d_1" \(weight layer 1, VGG-Face conv1_1\) has kernel \(3, 3, 3, 4\); expected conv1_1: kernel \(3, 3, 3, 64\)/);
});

// ---- the command line, end to end -------------------------------------------------------------


test('cli: convert-vggface refuses a non-HDF5 file and a file that is not full-size VGG-Face in one line each', async () => {
  const env = { LOOKALIKE_MODELS_DIR: path.join(work, 'cli-models') };
  const text = path.join(work, 'cli_weights.h5');
  writeFileSync(text, 'not HDF5 either\n');
  const notH5 = await lookalike(['model', 'convert-vggface', text], env);
  assert.equal(notH5.code, 1);
  assert.match(notH5.stderr, /^lookalike: .*cli_weights\.h5 is not an HDF5 file/m);
  const narrow = await lookalike(['model', 'convert-vggface', h5.keras2], env);
  assert.equal(narrow.code, 1);
  assert.match(narrow.stderr, /layer "conv2d_1" .* expected conv1_1: kernel \(3, 3, 3, 64\)/);
  for (const r of [notH5, narrow]) assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!existsSync(path.join(work, 'cli-models', MODEL_FILE)));
});

test('cli: index build --model vggface records model and descriptor; match follows the index and refuses another model', async () => {
  // Random weights say nothing about accuracy; this proves the plumbing from the command line down.
  const env = { LOOKALIKE_MODELS_DIR: models.keras2 };
  const gallery = path.join(work, 'gallery');
  const people = ['Barack_Obama', 'Angelina_Jolie'];
  const heldOut: string[] = [];
  for (const person of people) {
    const files = readdirSync(path.join(peopleDir, person)).sort();
    heldOut.push(path.join(peopleDir, person, files[0]!));
    mkdirSync(path.join(gallery, person), { recursive: true });
    for (const file of files.slice(1, 3)) symlinkSync(path.join(peopleDir, person, file), path.join(gallery, person, file));
  }

  const refusedBuild = await lookalike(['index', 'build', gallery, '--model', 'default', '--descriptor', '2622', '--data', path.join(work, 'data-bad')], env);
  assert.equal(refusedBuild.code, 1);
  assert.match(refusedBuild.stderr, /Model "default" has no descriptor "2622"/);

  const data = path.join(work, 'data-vgg');
  const built = await lookalike(['index', 'build', gallery, '--model', 'vggface', '--descriptor', '2622', '--data', data], env);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stderr, /Indexed 4 faces of 2 people .*\(model vggface, descriptor 2622, detector blazeface\)/);
  const opened = await Gallery.open(path.join(data, 'index'));
  assert.ok(opened.ok);
  assert.deepEqual(opened.value.info, { modelId: 'vggface', descriptor: '2622', dims: WIDTHS_A.fc8, detector: 'blazeface', alignment: 'keypoints', precision: 'fp32' });

  const matched = await lookalike(['match', heldOut[0]!, '--json', '--top', '2', '--data', data], env);
  assert.equal(matched.code, 0, matched.stderr);
  const line = JSON.parse(matched.stdout);
  assert.equal(line.model, 'vggface');
  assert.deepEqual(line.faces[0].matches.map((m: { name: string }) => m.name).sort(), ['Angelina Jolie', 'Barack Obama']);

  const mismatch = await lookalike(['match', heldOut[1]!, '--model', 'default', '--data', data], env);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /built with model "vggface", not "default"/);
  assert.doesNotMatch(mismatch.stderr, /\n\s+at /);
});

// ---- int8 ---------------------------------------------------------------------------------------

test('int8: calibrated on real faces, the quantised graph gives descriptors close to fp32 on other faces; the manifest says int8', async () => {
  const calibration = await calibrationCrops(path.join(peopleDir, 'Barack_Obama'), { modelsDir: models.keras2, device: 'cpu', chip: VGG_FACE_CHIP, count: 12 });
  assert.ok(calibration.ok, calibration.ok ? '' : calibration.error.message);
  const converted = await convertVggFace({ file: h5.keras2, modelsDir: models.keras2, widths: WIDTHS_A, precision: 'int8', calibration: calibration.value });
  assert.equal(path.basename(converted.file), INT8_MODEL_FILE);
  const manifest = await readModelsManifest(models.keras2);
  const entry = manifest!.models['vggface-int8']!;
  assert.equal(entry.precision, 'int8');
  assert.equal((entry.quantization as { calibrationCrops: number }).calibrationCrops, calibration.value.length);
  assert.ok(manifest!.models.vggface, 'the fp32 entry is kept beside it');
  // A quarter of the fp32 graph's weight bytes, give or take the float biases and scales.
  assert.ok(converted.bytes < 0.4 * convertedA.bytes, `${converted.bytes} vs ${convertedA.bytes} bytes`);

  const fp32 = await loadVggFace({ modelsDir: models.keras2, device: 'cpu' });
  const int8 = await loadVggFace({ modelsDir: models.keras2, device: 'cpu', precision: 'int8' });
  try {
    assert.equal(int8.precision, 'int8');
    assert.equal(fp32.precision, 'fp32');
    // Faces of other people than the calibration's.
    const others = await calibrationCrops(path.join(peopleDir, 'Angelina_Jolie'), { modelsDir: models.keras2, device: 'cpu', chip: VGG_FACE_CHIP, count: 8 });
    assert.ok(others.ok);
    const [a, b] = [await fp32.predict(others.value), await int8.predict(others.value)];
    const cosines = a.map((d, i) => d.reduce((sum, v, k) => sum + v * b[i]![k]!, 0));
    console.log(`int8 against fp32 (narrow random network): cosines ${cosines.map((c) => c.toFixed(4)).join(' ')}`);
    for (const c of cosines) assert.ok(c > 0.98, `cosine ${c}`);
  } finally {
    await fp32.dispose();
    await int8.dispose();
  }
});

test('cli: --precision int8 needs --calibration; an int8 index records it and match follows it, refusing fp32', async () => {
  const env = { LOOKALIKE_MODELS_DIR: models.keras2 };
  const noCalibration = await lookalike(['model', 'convert-vggface', h5.keras2, '--precision', 'int8'], env);
  assert.equal(noCalibration.code, 2);
  assert.match(noCalibration.stderr, /--precision int8 needs --calibration/);

  const gallery = linkPeopleGallery(path.join(work, 'gallery-int8'), ['Barack_Obama', 'Angelina_Jolie'], (files) => files.slice(1, 3));
  const data = path.join(work, 'data-int8');
  // The int8 graph was written by the test before.
  const built = await lookalike(['index', 'build', gallery, '--model', 'vggface', '--precision', 'int8', '--data', data], env);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stderr, /\(model vggface int8, descriptor 4096, detector blazeface\)/);
  const opened = await Gallery.open(path.join(data, 'index'));
  assert.ok(opened.ok);
  assert.equal(opened.value.info.precision, 'int8');

  const photo = path.join(peopleDir, 'Barack_Obama', readdirSync(path.join(peopleDir, 'Barack_Obama')).sort()[0]!);
  const matched = await lookalike(['match', photo, '--json', '--top', '2', '--data', data], env);
  assert.equal(matched.code, 0, matched.stderr);
  assert.equal(JSON.parse(matched.stdout).faces.length, 1);
  const mismatch = await lookalike(['match', photo, '--precision', 'fp32', '--data', data], env);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /built with the int8 model, not fp32/);
});
