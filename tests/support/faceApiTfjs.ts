import { createRequire } from 'node:module';
import path from 'node:path';
import type { RgbImage } from '../../src/core/types.ts';

// face-api.js's own FaceRecognitionNet on TensorFlow.js with the WebAssembly backend: the reference
// the ONNX conversion is checked against, and the baseline of the embedding benchmark. Weights and
// .wasm binaries come from node_modules; nothing is fetched.

type FaceApi = typeof import('@vladmandic/face-api/dist/face-api.node-wasm.js');

const require = createRequire(import.meta.url);

export interface FaceApiReference {
  /** face-api's raw 128-D descriptor for one 150x150 crop (batch of one, as face-api runs it). */
  describe(crop: RgbImage): Promise<Float32Array>;
  /** One batched forward pass over several crops. */
  describeBatch(crops: readonly RgbImage[]): Promise<Float32Array[]>;
  backend: string;
}

let loading: Promise<FaceApiReference> | undefined;
let starting: Promise<{ faceapi: FaceApi; tf: FaceApi['tf'] & { setBackend(name: string): Promise<boolean>; ready(): Promise<void>; getBackend(): string }; modelDir: string }> | undefined;

/** face-api on tfjs's wasm backend, once per process. */
function startFaceApi() {
  starting ??= (async () => {
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string): void };
    const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(`${wasmDir}${path.sep}`);
    // face-api's bundled type declarations leave out parts of the tfjs API it re-exports at run time.
    const tf = faceapi.tf as FaceApi['tf'] & { setBackend(name: string): Promise<boolean>; ready(): Promise<void>; getBackend(): string };
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
    await tf.ready();
    const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    return { faceapi, tf, modelDir };
  })();
  return starting;
}

export interface FaceApiPipeline {
  /** face-api's own pipeline on one decoded photo: SSD MobileNet v1 faces, 68 landmarks, a descriptor per face. */
  describe(image: RgbImage): Promise<{ box: { x: number; y: number; width: number; height: number }; descriptor: Float32Array }[]>;
  backend: string;
}

/** face-api.js's whole pipeline, as its README runs it in Node (detectAllFaces().withFaceLandmarks().withFaceDescriptors()). */
export async function loadFaceApiPipeline(): Promise<FaceApiPipeline> {
  const { faceapi, tf, modelDir } = await startFaceApi();
  await Promise.all([
    faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir),
    faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir),
    faceapi.nets.faceRecognitionNet.isLoaded ? Promise.resolve() : faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir),
  ]);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  return {
    backend: tf.getBackend(),
    async describe(image) {
      const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
      try {
        const found = await faceapi.detectAllFaces(input as never, options).withFaceLandmarks().withFaceDescriptors();
        return found.map((f) => ({ box: f.detection.box, descriptor: f.descriptor }));
      } finally {
        input.dispose();
      }
    },
  };
}

export function loadFaceApiReference(): Promise<FaceApiReference> {
  loading ??= (async () => {
    const { faceapi, tf, modelDir } = await startFaceApi();
    if (!faceapi.nets.faceRecognitionNet.isLoaded) await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);

    const toTensor = (crop: RgbImage) => tf.tensor3d(new Int32Array(crop.data), [crop.height, crop.width, 3], 'int32');
    return {
      backend: tf.getBackend(),
      async describe(crop) {
        const input = toTensor(crop);
        try {
          return (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(input)) as Float32Array;
        } finally {
          input.dispose();
        }
      },
      async describeBatch(crops) {
        const inputs = crops.map(toTensor);
        try {
          return (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(inputs)) as Float32Array[];
        } finally {
          inputs.forEach((t) => t.dispose());
        }
      },
    };
  })();
  return loading;
}
