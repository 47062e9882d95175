import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ModelLoadError } from '../errors.ts';
import type { Box } from '../types.ts';

// The one place that imports @techstark/opencv-js (OpenCV compiled to WebAssembly). Callers see plain
// pixels in and boxes out: every cv.Mat and vector lives and dies inside one function here, because
// WASM heap memory is never garbage-collected and a leaked Mat per request would exhaust the heap.

/** Debian's opencv-data puts the cascades here. */
export const DEFAULT_HAARCASCADES_DIR = '/usr/share/opencv4/haarcascades';

// The subset of the opencv.js API used here. The package's own typings (mirada) type most of it `any`.
interface CvMat {
  data: Uint8Array;
  rows: number;
  cols: number;
  delete(): void;
}
interface CvRect {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface CvRectVector {
  size(): number;
  get(i: number): CvRect;
  delete(): void;
}
interface CvSize {
  width: number;
  height: number;
}
interface CvCascadeClassifier {
  load(path: string): boolean;
  empty(): boolean;
  detectMultiScale(
    image: CvMat,
    objects: CvRectVector,
    scaleFactor: number,
    minNeighbors: number,
    flags: number,
    minSize: CvSize,
    maxSize: CvSize,
  ): void;
  delete(): void;
}
interface OpenCvModule {
  Mat: new (rows: number, cols: number, type: number) => CvMat;
  RectVector: new () => CvRectVector;
  Size: new (width: number, height: number) => CvSize;
  CascadeClassifier: new () => CvCascadeClassifier;
  CV_8UC1: number;
  equalizeHist(src: CvMat, dst: CvMat): void;
  FS_createDataFile(parent: string, name: string, data: Uint8Array, canRead: boolean, canWrite: boolean, canOwn: boolean): void;
  FS_unlink(path: string): void;
  HEAP8: Int8Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  onRuntimeInitialized?: () => void;
  then?: unknown;
}

let modulePromise: Promise<OpenCvModule> | undefined;

/** Starts (once) and waits for the WASM runtime. The first call costs about half a second. */
function openCv(): Promise<OpenCvModule> {
  modulePromise ??= initialise();
  return modulePromise;
}

async function initialise(): Promise<OpenCvModule> {
  const require = createRequire(import.meta.url);
  const exported: unknown = require('@techstark/opencv-js');
  // Newer builds export a promise of the module; 4.5.x exports the Emscripten module object itself,
  // which carries its own `then`. That `then` calls back with the module, which is again a thenable,
  // so handing the module to a promise resolver loops forever: it travels inside a wrapper instead,
  // and its `then` is removed once the runtime is up.
  const cv = await new Promise<{ module: OpenCvModule }>((resolve, reject) => {
    if (exported instanceof Promise) {
      exported.then((m: OpenCvModule) => resolve({ module: m }), reject);
      return;
    }
    const m = exported as OpenCvModule;
    if (typeof m.Mat === 'function') {
      resolve({ module: m });
      return;
    }
    const previous = m.onRuntimeInitialized;
    m.onRuntimeInitialized = () => {
      previous?.();
      resolve({ module: m });
    };
  });
  delete cv.module.then;
  return cv.module;
}

/** Where cascade XML files are looked up: OPENCV_HAARCASCADES_DIR, else Debian's location. */
export function haarcascadesDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.OPENCV_HAARCASCADES_DIR?.trim();
  return path.resolve(fromEnv || DEFAULT_HAARCASCADES_DIR);
}

export interface CascadeParams {
  /** Step between scales of the detection window (> 1). */
  scaleFactor: number;
  /** Overlapping raw hits a detection needs to be kept. */
  minNeighbors: number;
  /** Smallest object side, in pixels of the image passed in. */
  minSize: number;
  /** Largest object side, in pixels of the image passed in (0: no limit). */
  maxSize?: number;
  /** Equalise the histogram before detection. */
  equalize?: boolean;
}

/** 8-bit single-channel pixels, rows top to bottom. */
export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A loaded Haar cascade. Held for the life of the process; it is small (about 1 MB of WASM heap). */
export class HaarCascade {
  readonly file: string;
  readonly #cv: OpenCvModule;
  readonly #classifier: CvCascadeClassifier;

  private constructor(cv: OpenCvModule, classifier: CvCascadeClassifier, file: string) {
    this.#cv = cv;
    this.#classifier = classifier;
    this.file = file;
  }

  /** @internal use loadHaarCascade */
  static create(cv: OpenCvModule, classifier: CvCascadeClassifier, file: string): HaarCascade {
    return new HaarCascade(cv, classifier, file);
  }

  /** Runs detectMultiScale and returns the raw boxes in the grey image's coordinates. */
  detect(grey: GreyImage, params: CascadeParams): Box[] {
    const cv = this.#cv;
    if (grey.data.length !== grey.width * grey.height) {
      throw new RangeError(`grey image is ${grey.data.length} bytes, expected ${grey.width}x${grey.height}`);
    }
    const mat = new cv.Mat(grey.height, grey.width, cv.CV_8UC1);
    const objects = new cv.RectVector();
    try {
      mat.data.set(grey.data);
      if (params.equalize) cv.equalizeHist(mat, mat);
      const maxSide = params.maxSize ?? 0;
      this.#classifier.detectMultiScale(
        mat,
        objects,
        params.scaleFactor,
        params.minNeighbors,
        0,
        new cv.Size(params.minSize, params.minSize),
        new cv.Size(maxSide, maxSide),
      );
      const boxes: Box[] = [];
      for (let i = 0; i < objects.size(); i++) {
        const r = objects.get(i);
        boxes.push({ x: r.x, y: r.y, width: r.width, height: r.height });
      }
      return boxes;
    } finally {
      mat.delete();
      objects.delete();
    }
  }
}

const cascades = new Map<string, Promise<HaarCascade>>();

/**
 * Loads a cascade file (e.g. 'haarcascade_frontalface_default.xml') from haarcascadesDir(), once
 * per path. Throws ModelLoadError naming the Debian package when the file is not there.
 */
export function loadHaarCascade(fileName: string, dir: string = haarcascadesDir()): Promise<HaarCascade> {
  const file = path.join(dir, fileName);
  let pending = cascades.get(file);
  if (!pending) {
    pending = readCascade(file);
    cascades.set(file, pending);
    // A failed load is not cached: installing the package and retrying should work without a restart.
    pending.catch(() => cascades.delete(file));
  }
  return pending;
}

let virtualFileCounter = 0;

async function readCascade(file: string): Promise<HaarCascade> {
  if (!existsSync(file)) {
    throw new ModelLoadError(
      `Haar cascade not found: ${file}. Install Debian's opencv-data package (apt-get install opencv-data) ` +
        'or set OPENCV_HAARCASCADES_DIR to a folder that holds it.',
    );
  }
  const xml = readFileSync(file);
  const cv = await openCv();
  // CascadeClassifier.load reads from the module's in-memory file system, not from the disk.
  const virtualName = `cascade-${++virtualFileCounter}-${path.basename(file)}`;
  cv.FS_createDataFile('/', virtualName, xml, true, false, false);
  const classifier = new cv.CascadeClassifier();
  try {
    if (!classifier.load(`/${virtualName}`) || classifier.empty()) {
      throw new ModelLoadError(`OpenCV could not parse the Haar cascade ${file}; the file is damaged or not a cascade.`);
    }
  } catch (err) {
    classifier.delete();
    throw err instanceof ModelLoadError ? err : new ModelLoadError(`OpenCV failed to load ${file}`, { cause: err });
  } finally {
    cv.FS_unlink(`/${virtualName}`);
  }
  return HaarCascade.create(cv, classifier, file);
}

/**
 * Leak check for tests and benchmarks: the heap size, and where a fresh 8 MB block would land. The
 * allocator is deterministic, so after a warm-up call both stay put across repeated identical calls;
 * any Mat left undeleted pushes the mark upwards.
 */
export async function openCvHeapMark(): Promise<{ heapBytes: number; freeBlockAt: number }> {
  const cv = await openCv();
  const pointer = cv._malloc(8 << 20);
  cv._free(pointer);
  return { heapBytes: cv.HEAP8.length, freeBlockAt: pointer };
}
