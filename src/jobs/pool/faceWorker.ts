import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { loadDetector } from '../../core/detect/detector.ts';
import { alignmentOf, type FacePipeline } from '../../core/faces.ts';
import { loadModel, type ModelLoadOptions } from '../../core/models/registry.ts';
import type { FailureCode } from '../../core/result.ts';
import { emptyTimings, prepareFace, type FaceTask, type PreparedFace, type StageTimings } from './prepareFace.ts';
import type { FaceTaskResult, FromWorker, ToWorker, WorkerInit } from './messages.ts';

// One worker of the face pool: its own detector and model sessions (one ORT thread each), and
// batches of images in, descriptors and thumbnails out. Started by facePool.ts.

const port = parentPort;
if (!port) throw new Error('faceWorker.ts runs as a worker thread (see facePool.ts)');
const init = workerData as WorkerInit;
const post = (message: FromWorker) => port.postMessage(message);

type Prepared = { key: number; face: PreparedFace } | { key: number; code: FailureCode; message: string };

let pipeline: FacePipeline | undefined;

async function start(): Promise<void> {
  const options: ModelLoadOptions = {
    modelsDir: init.modelsDir,
    device: init.device,
    descriptor: init.descriptor,
    precision: init.precision,
    intraOpThreads: init.intraOpThreads,
  };
  const loaded = await loadModel(init.model, options);
  if (!loaded.ok) {
    post({ type: 'failed', failure: loaded.error });
    return;
  }
  const detector = await loadDetector(init.detector, options);
  if (!detector.ok) {
    await loaded.value.dispose();
    post({ type: 'failed', failure: detector.error });
    return;
  }
  pipeline = { detector: detector.value, embedder: loaded.value };
  const m = loaded.value;
  post({
    type: 'ready',
    info: { modelId: m.id, descriptor: m.descriptor, dims: m.dims, inputSize: m.inputSize, detector: detector.value.name, alignment: alignmentOf(detector.value.name), precision: m.precision ?? 'fp32' },
  });
}

async function runBatch(id: number, tasks: FaceTask[]): Promise<void> {
  const p = pipeline!;
  const timings = emptyTimings();
  const prepared = await prepareAll(tasks, p, timings);
  const faces = prepared.filter((x): x is { key: number; face: PreparedFace } => 'face' in x);
  const t = performance.now();
  const descriptors = faces.length > 0 ? await p.embedder.predict(faces.map((f) => f.face.crop)) : [];
  timings.embed += performance.now() - t;
  const byKey = new Map<number, FaceTaskResult>();
  faces.forEach(({ key, face }, i) => {
    byKey.set(key, { key, ok: true, box: face.box, source: face.source, descriptor: descriptors[i]!, thumbnail: face.thumbnail, ...(face.photoYear !== undefined ? { photoYear: face.photoYear } : {}) });
  });
  for (const p of prepared) if ('code' in p) byKey.set(p.key, { key: p.key, ok: false, code: p.code, message: p.message });
  post({ type: 'batch', id, results: tasks.map((task) => byKey.get(task.key)!), timings });
}

async function prepareAll(tasks: FaceTask[], p: FacePipeline, timings: StageTimings): Promise<Prepared[]> {
  const out: Prepared[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await prepareOne(tasks[i]!, p, timings);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, init.concurrency) }, lane));
  return out;
}

async function prepareOne(task: FaceTask, p: FacePipeline, timings: StageTimings): Promise<Prepared> {
  const t = performance.now();
  let bytes: Buffer;
  try {
    bytes = await readFile(task.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const failure: FailureCode = code === 'EISDIR' ? 'not_an_image' : 'missing_file';
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR' && code !== 'EACCES') throw err;
    return { key: task.key, code: failure, message: `cannot read ${task.path} (${code})` };
  } finally {
    timings.read += performance.now() - t;
  }
  const prepared = await prepareFace(bytes, task, p, init.prepare, timings);
  if (!prepared.ok) return { key: task.key, code: prepared.error.code, message: prepared.error.message };
  return { key: task.key, face: prepared.value };
}

// Batches run one after another: the main thread keeps a second one queued so the worker never waits.
// A stop skips the batches still queued and ends the worker after the one running: an inference
// running on ONNX Runtime's threads must finish before the thread goes, or its completion would call
// into a dead thread and take the process down.
let queue = Promise.resolve();
let stopping = false;
const ready = start();

port.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    stopping = true;
    queue = queue.then(async () => {
      await pipeline?.embedder.dispose();
      await pipeline?.detector.dispose();
      port.close();
    });
    return;
  }
  queue = queue
    .then(() => ready)
    .then(() => (stopping ? undefined : runBatch(message.id, message.tasks)))
    .catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      post({ type: 'fatal', name: e.name, message: e.message, stack: e.stack });
    });
});

ready.catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: 'fatal', name: e.name, message: e.message, stack: e.stack });
});
