import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { convertFaceRecognitionNet, MODEL_FILE } from '../src/jobs/convertFaceRecognitionNet.ts';
import { decodeModel } from '../src/jobs/onnx/proto.ts';
import { GraphBuilder, floatTensor } from '../src/jobs/onnx/graphBuilder.ts';
import { hwioToOihw } from '../src/jobs/onnx/layout.ts';
import { load, type FaceRecognitionNetEmbedder } from '../src/core/models/faceRecognitionNet.ts';
import { readModelsManifest, recordModel, MANIFEST_FILE } from '../src/core/models/manifest.ts';
import { cudaAvailable, createSession, runFloat32 } from '../src/core/runtime/ort.ts';
import { ConfigError, ModelLoadError } from '../src/core/errors.ts';
import { loadFaceCrops, type LabelledCrop } from './support/faceCrops.ts';
import { loadFaceApiReference } from './support/faceApiTfjs.ts';

// The ONNX FaceRecognitionNet must reproduce face-api.js's own tfjs descriptors on real face crops.
// Conversion runs into a temporary models folder, so the test needs nothing prepared beforehand.

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

let modelsDir: string;
let converted: Awaited<ReturnType<typeof convertFaceRecognitionNet>>;
let embedder: FaceRecognitionNetEmbedder;
let crops: LabelledCrop[];
let descriptors: Float32Array[];

before(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), 'lookalike-models-'));
  // Another model's entry must survive the conversion (the manifest is merged, not rewritten).
  await recordModel(modelsDir, 'other', {
    file: 'other.onnx', sha256: '0'.repeat(64), bytes: 1, inputSize: 224, dims: 4096, source: 'test', converted_at: new Date(0).toISOString(),
  });
  converted = await convertFaceRecognitionNet({ modelsDir });
  embedder = await load({ modelsDir, device: 'cpu' });
  crops = await loadFaceCrops(embedder.inputSize);
  descriptors = await embedder.predict(crops.map((c) => c.crop));
});

after(async () => {
  await embedder?.dispose();
  if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
});

test('conversion writes the model and merges its manifest entry', async () => {
  assert.equal(path.basename(converted.file), MODEL_FILE);
  assert.match(converted.sha256, /^[0-9a-f]{64}$/);
  const manifest = await readModelsManifest(modelsDir);
  assert.deepEqual(Object.keys(manifest!.models).sort(), ['default', 'other']);
  const entry = manifest!.models.default!;
  assert.equal(entry.sha256, converted.sha256);
  assert.equal(entry.bytes, converted.bytes);
  assert.equal(entry.inputSize, 150);
  assert.equal(entry.dims, 128);
  // 5.6 M float32 parameters plus three fixed shortcut convs (0.2 M): the weights and a small graph.
  assert.ok(converted.bytes > 22_500_000 && converted.bytes < 23_500_000, `unexpected size ${converted.bytes}`);
});

test('the ONNX graph has a dynamic batch and the documented inputs and outputs', async () => {
  const model = decodeModel(await readFile(converted.file));
  assert.equal(model.opset_import[0]!.version, 17);
  const [input] = model.graph.input;
  assert.equal(input!.name, 'input');
  const dims = input!.type.tensor_type.shape.dim;
  assert.deepEqual(dims, [{ dim_param: 'N' }, { dim_value: 3 }, { dim_value: 150 }, { dim_value: 150 }]);
  assert.deepEqual(model.graph.output.map((o) => o.name), ['descriptor', 'embedding']);
  assert.equal(model.graph.node.filter((n) => n.op_type === 'Conv').length, 32);
});

test('ONNX descriptors match face-api tfjs descriptors of the same crops (cosine >= 0.999)', async () => {
  const reference = await loadFaceApiReference();
  assert.equal(reference.backend, 'wasm');
  assert.ok(crops.length >= 8);
  const cosines: string[] = [];
  for (const [i, { person, file, crop }] of crops.entries()) {
    const expected = await reference.describe(crop);
    const c = cosine(descriptors[i]!, expected);
    cosines.push(`${person}/${file}: ${c.toFixed(8)} (1 - cos = ${(1 - c).toExponential(1)})`);
    assert.ok(c >= 0.999, `${person}/${file}: cosine ${c} with face-api's descriptor`);
  }
  console.log(cosines.join('\n'));
});

test('descriptors are L2-normalised and different people differ', () => {
  for (const d of descriptors) {
    assert.equal(d.length, 128);
    assert.ok(Math.abs(Math.hypot(...d) - 1) < 1e-4);
  }
  let pairs = 0;
  for (let i = 0; i < crops.length; i++) {
    for (let j = i + 1; j < crops.length; j++) {
      if (crops[i]!.person === crops[j]!.person) continue;
      const c = cosine(descriptors[i]!, descriptors[j]!);
      assert.ok(c < 0.99, `${crops[i]!.file} (${crops[i]!.person}) vs ${crops[j]!.file} (${crops[j]!.person}): cosine ${c}`);
      pairs++;
    }
  }
  assert.ok(pairs >= 28);
});

test('a crop gets the same descriptor alone as inside a batch', async () => {
  const [alone] = await embedder.predict([crops[3]!.crop]);
  assert.ok(cosine(alone!, descriptors[3]!) > 0.99999);
  await assert.rejects(embedder.predict([{ data: Buffer.alloc(10 * 10 * 3), width: 10, height: 10 }]), /150x150/);
});

test('a missing, corrupt or unlisted model is refused with ModelLoadError naming the fix', async () => {
  const broken = await mkdtemp(path.join(os.tmpdir(), 'lookalike-models-broken-'));
  try {
    await assert.rejects(load({ modelsDir: broken, device: 'cpu' }), (err: Error) => err instanceof ModelLoadError && /convert-default/.test(err.message));

    await copyFile(path.join(modelsDir, MANIFEST_FILE), path.join(broken, MANIFEST_FILE));
    await assert.rejects(load({ modelsDir: broken, device: 'cpu' }), (err: Error) => err instanceof ModelLoadError && /missing/.test(err.message) && /convert-default/.test(err.message));

    // Same size, one byte changed: only the hash can tell.
    const bytes = await readFile(converted.file);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    await writeFile(path.join(broken, MODEL_FILE), bytes);
    await assert.rejects(load({ modelsDir: broken, device: 'cpu' }), (err: Error) => err instanceof ModelLoadError && /SHA-256/.test(err.message) && /convert-default/.test(err.message));

    await truncate(path.join(broken, MODEL_FILE), 1000);
    await assert.rejects(load({ modelsDir: broken, device: 'cpu' }), (err: Error) => err instanceof ModelLoadError && /bytes/.test(err.message));

    await writeFile(path.join(broken, MANIFEST_FILE), JSON.stringify({ models: {} }));
    await assert.rejects(load({ modelsDir: broken, device: 'cpu' }), (err: Error) => err instanceof ModelLoadError && /not in/.test(err.message));
  } finally {
    await rm(broken, { recursive: true, force: true });
  }
});

test('device cuda without a CUDA provider is a ConfigError, never a quiet CPU fallback', { skip: cudaAvailable() && 'CUDA provider present' }, async () => {
  await assert.rejects(createSession(converted.file, { device: 'cuda' }), (err: Error) => err instanceof ConfigError && /CUDA/.test(err.message));
  const { session, provider } = await createSession(converted.file, { device: 'auto' });
  assert.equal(provider, 'cpu');
  await session.release();
});

test('the graph builder writes models ORT runs, at opset 17 and 18', async () => {
  // A VGG-style head: conv (Keras HWIO kernel) -> ReLU -> global pool -> flatten -> Gemm -> softmax.
  const kernel = new Float32Array(3 * 3 * 2 * 4).map((_, i) => ((i % 5) - 2) / 10);
  const input = new Float32Array(1 * 2 * 5 * 5).map((_, i) => (i % 7) / 7);
  const outputs: Float32Array[] = [];
  for (const opset of [17, 18]) {
    const g = new GraphBuilder({ name: 'tiny', opset });
    const x = g.input('x', 'float32', ['N', 2, 5, 5]);
    const conv = g.relu(g.conv(x, { weight: hwioToOihw(kernel, [3, 3, 2, 4]), bias: floatTensor([4], [0.1, 0, -0.1, 0.2]), pads: [1, 1, 1, 1] }));
    const mean = g.reduceMean(conv, [2, 3], { keepDims: true });
    const pooled = g.globalAveragePool(conv);
    const same = g.sub(mean, pooled, { output: 'mean_minus_pool' });
    const flat = g.flatten(g.add(pooled, same), 1);
    const fc = g.gemm(flat, g.initializer('fc.w', floatTensor([3, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1])), undefined, { transB: true });
    g.softmax(g.reshape(fc, [-1, 3]), -1, { output: 'probs' });
    g.output('probs', 'float32', ['N', 3]);
    g.output('mean_minus_pool', 'float32', ['N', 4, 1, 1]);
    assert.throws(() => g.relu('nowhere'), /not defined/);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lookalike-onnx-'));
    try {
      const file = path.join(dir, 'tiny.onnx');
      await writeFile(file, g.toBytes({ producerName: 'test' }));
      const { session } = await createSession(file, { device: 'cpu' });
      const { probs, mean_minus_pool: diff } = await runFloat32(session, { name: 'x', data: input, dims: [1, 2, 5, 5] });
      await session.release();
      assert.deepEqual(probs!.dims, [1, 3]);
      assert.ok(diff!.data.every((v) => Math.abs(v) < 1e-6), 'ReduceMean over H,W equals GlobalAveragePool');
      outputs.push(probs!.data);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  assert.ok(Math.abs(outputs[0]!.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.deepEqual([...outputs[0]!], [...outputs[1]!]);
});
