import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelLoadError } from '../src/core/errors.ts';
import { Gallery } from '../src/core/gallery.ts';
import { DEFAULT_MODEL_CHIP } from '../src/core/models/faceRecognitionNet.ts';
import { readModelsManifest } from '../src/core/models/manifest.ts';
import { loadModel } from '../src/core/models/registry.ts';
import { createSession, runFloat32 } from '../src/core/runtime/ort.ts';
import { cosine } from '../src/core/similarity.ts';
import { convertFaceRecognitionNet, convertFaceRecognitionNetInt8, INT8_MODEL_FILE } from '../src/jobs/convertFaceRecognitionNet.ts';
import { calibrationCrops } from '../src/jobs/faceCalibration.ts';
import { GraphBuilder, floatTensor } from '../src/jobs/onnx/graphBuilder.ts';
import { writeModelFile } from '../src/jobs/onnx/modelFile.ts';
import { DataType } from '../src/jobs/onnx/proto.ts';
import { probeGraph, quantisedActivations, quantiseStatic } from '../src/jobs/onnx/staticInt8.ts';
import { RangeObserver } from '../src/jobs/onnx/calibration.ts';
import { lookalike } from './support/cli.ts';
import { linkPeopleGallery } from './support/linkedGallery.ts';
import { config } from './support/engine.ts';
import { peopleDir, validationDir } from './support/paths.ts';

// The default model in int8 (`model convert-default --precision int8`): the generic static
// quantiser on a small graph, then the real FaceRecognitionNet calibrated on some people's faces and
// compared with fp32 on other people's, then the command line from conversion to a match.

let work: string;
before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lookalike-int8-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** A seeded value in [-1, 1). */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** conv -> relu -> conv, plus the shortcut, relu, max pool: the operators the quantiser rewrites. */
function smallResidualGraph() {
  const rand = noise(7);
  const g = new GraphBuilder({ name: 'small' });
  const input = g.input('input', 'float32', ['N', 3, 16, 16]);
  const conv = (x: string, cin: number, cout: number, name: string) =>
    g.conv(x, {
      name,
      weight: floatTensor([cout, cin, 3, 3], Array.from({ length: cout * cin * 9 }, () => 0.3 * rand())),
      bias: { dims: [cout], data: Float32Array.from({ length: cout }, () => 0.1 * rand()) },
      pads: [1, 1, 1, 1],
    });
  const a = g.relu(conv(input, 3, 8, 'c1'));
  const b = conv(g.relu(conv(a, 8, 8, 'c2')), 8, 8, 'c3');
  const out = g.maxPool(g.relu(g.add(b, a)), { kernel: [2, 2], strides: [2, 2] });
  g.output(g.identity(out, { name: 'out', output: 'out' }), 'float32', ['N', 8, 8, 8]);
  return g.toModel({ producerName: 'test' });
}

test('static int8: every activation of the convolutions is probed and quantised; integer weights; outputs close to float', async () => {
  const float = smallResidualGraph();
  const activations = quantisedActivations(float);
  // The input, three convolutions' outputs, two ReLUs' outputs, the add, its ReLU, the pool.
  assert.ok(activations.includes('input'));
  assert.equal(activations.length, new Set(activations).size);
  const probe = probeGraph(float);
  assert.deepEqual(probe.graph.output.map((o) => o.name).slice(1).sort(), [...activations].sort());

  const rand = noise(11);
  const batch = Float32Array.from({ length: 4 * 3 * 16 * 16 }, () => 2 * rand());
  await writeModelFile(path.join(work, 'probe.onnx'), probe);
  const { session: probeSession } = await createSession(path.join(work, 'probe.onnx'), { device: 'cpu' });
  const observer = new RangeObserver();
  const probed = await runFloat32(probeSession, { name: 'input', data: batch, dims: [4, 3, 16, 16] });
  for (const [name, t] of Object.entries(probed)) observer.observeExtremes(name, t.data);
  for (const [name, t] of Object.entries(probed)) observer.observeHistogram(name, t.data);
  await probeSession.release();

  const int8 = quantiseStatic(float, observer.ranges(100));
  const weights = int8.graph.initializer.filter((t) => t.name.endsWith('/int8'));
  assert.equal(weights.length, 3, 'each convolution has int8 weights');
  for (const w of weights) assert.equal(w.data_type, DataType.int8);
  assert.ok(!int8.graph.initializer.some((t) => ['c1', 'c2', 'c3'].some((c) => t.name.startsWith(c) && t.data_type === DataType.float32 && t.dims.length === 4)), 'no float kernel is left');
  assert.equal(int8.graph.node.filter((n) => n.op_type === 'QuantizeLinear').length, activations.length);

  await writeModelFile(path.join(work, 'int8.onnx'), int8);
  const { session: q } = await createSession(path.join(work, 'int8.onnx'), { device: 'cpu' });
  const quantised = (await runFloat32(q, { name: 'input', data: batch, dims: [4, 3, 16, 16] }, ['out'])).out!.data;
  await q.release();
  const reference = probed.out!.data;
  let worst = 0;
  const scale = Math.max(...reference.map(Math.abs));
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(reference[i]! - quantised[i]!));
  assert.ok(worst < 0.05 * scale, `largest error ${worst} against outputs up to ${scale}`);

  const missing = { ...observer.ranges(100) };
  delete missing.input;
  assert.throws(() => quantiseStatic(float, missing), /no calibration range for 1 activations \(first: input\)/);
});

test('the default model in int8: calibrated on some people, its descriptors follow fp32 on others; the manifest says int8', async () => {
  const modelsDir = path.join(work, 'models');
  await convertFaceRecognitionNet({ modelsDir });
  // Without its graph, the int8 model says how to make it.
  await assert.rejects(loadModel('default', { modelsDir, device: 'cpu', precision: 'int8' }), (err: Error) => err instanceof ModelLoadError && /convert-default --precision int8 --calibration/.test(err.message));

  const calibration = await calibrationCrops(peopleDir, { modelsDir: config.modelsDir, device: 'cpu', chip: DEFAULT_MODEL_CHIP, count: 48 });
  assert.ok(calibration.ok, calibration.ok ? '' : calibration.error.message);
  const converted = await convertFaceRecognitionNetInt8({ modelsDir, calibration: calibration.value });
  assert.equal(path.basename(converted.file), INT8_MODEL_FILE);
  const manifest = await readModelsManifest(modelsDir);
  const entry = manifest!.models['default-int8']!;
  assert.equal(entry.precision, 'int8');
  assert.equal((entry.quantization as { calibrationChips: number }).calibrationChips, 48);
  assert.equal(entry.fp32_sha256, manifest!.models.default!.sha256, 'it records the fp32 graph it came from');
  assert.ok(converted.bytes < 0.4 * manifest!.models.default!.bytes, `${converted.bytes} bytes against ${manifest!.models.default!.bytes}`);

  const fp32 = await loadModel('default', { modelsDir, device: 'cpu' });
  const int8 = await loadModel('default', { modelsDir, device: 'cpu', precision: 'int8' });
  assert.ok(fp32.ok && int8.ok);
  try {
    assert.equal(int8.value.precision, 'int8');
    assert.equal(fp32.value.precision, 'fp32');
    // Faces of the validation set: people and photos the calibration never saw.
    const others = await calibrationCrops(validationDir, { modelsDir: config.modelsDir, device: 'cpu', chip: DEFAULT_MODEL_CHIP, count: 24 });
    assert.ok(others.ok);
    const [a, b] = [await fp32.value.predict(others.value), await int8.value.predict(others.value)];
    const cosines = a.map((d, i) => cosine(d, b[i]!));
    console.log(`default model int8 against fp32 on ${cosines.length} validation faces: worst cosine ${Math.min(...cosines).toFixed(4)}`);
    for (const c of cosines) assert.ok(c > 0.98, `cosine ${c}`);
  } finally {
    await fp32.value.dispose();
    await int8.value.dispose();
  }
});

test('cli: convert-default --precision int8 refuses without --calibration or with a missing folder and writes nothing; an int8 index records it and match follows it', async () => {
  const empty = path.join(work, 'cli-refused');
  mkdirSync(empty);
  const refused = await lookalike(['model', 'convert-default', '--precision', 'int8'], { LOOKALIKE_MODELS_DIR: empty });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--precision int8 needs --calibration <folder of face photos>/);
  assert.deepEqual(readdirSync(empty), [], 'nothing was written');
  const noFolder = await lookalike(['model', 'convert-default', '--precision', 'int8', '--calibration', path.join(work, 'no-such-folder')], { LOOKALIKE_MODELS_DIR: empty });
  assert.equal(noFolder.code, 1);
  assert.match(noFolder.stderr, /No such folder: .*no-such-folder/);
  assert.deepEqual(readdirSync(empty), [], 'nothing was written');

  const gallery = linkPeopleGallery(path.join(work, 'gallery'), ['Barack_Obama', 'Angelina_Jolie', 'Jim_Parsons'], (files) => files.slice(1, 4));
  const env = { LOOKALIKE_MODELS_DIR: path.join(work, 'cli-models') };
  const converted = await lookalike(['model', 'convert-default', '--precision', 'int8', '--calibration', peopleDir, '--calibration-crops', '32'], env);
  assert.equal(converted.code, 0, converted.stderr);
  assert.match(converted.stderr, /face-recognition-net-int8\.onnx \(int8, calibrated on 32 faces/);

  const data = path.join(work, 'data');
  const built = await lookalike(['index', 'build', gallery, '--precision', 'int8', '--data', data], env);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stderr, /\(model default int8, descriptor 128, detector blazeface\)/);
  const opened = await Gallery.open(path.join(data, 'index'));
  assert.ok(opened.ok);
  assert.equal(opened.value.info.precision, 'int8');

  const photo = path.join(peopleDir, 'Barack_Obama', readdirSync(path.join(peopleDir, 'Barack_Obama')).sort()[0]!);
  const matched = await lookalike(['match', photo, '--json', '--top', '2', '--data', data], env);
  assert.equal(matched.code, 0, matched.stderr);
  const report = JSON.parse(matched.stdout);
  assert.equal(report.faces[0].matches[0].name.replace(/ /g, '_'), 'Barack_Obama');
  const mismatch = await lookalike(['match', photo, '--precision', 'fp32', '--data', data], env);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /built with the int8 model, not fp32/);
});
