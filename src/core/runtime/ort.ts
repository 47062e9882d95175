import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ConfigError, InferenceError } from '../errors.ts';
import { logger } from '../../log.ts';
import { disableOrtTelemetry, ORT_TELEMETRY_VARIABLE } from './ortEnv.ts';

// The one place that imports onnxruntime-node. Sessions are created here with the execution
// provider the user asked for; 'cuda' never quietly turns into CPU.

const log = logger('ort');

// Before any session exists (see ortEnv.ts: a long command line otherwise crashes the process).
const telemetryOff = disableOrtTelemetry();

export type ExecutionDevice = 'cpu' | 'cuda' | 'auto';
export type ExecutionProvider = 'cpu' | 'cuda';
export type OrtSession = ort.InferenceSession;

export interface SessionOptions {
  device: ExecutionDevice;
  /**
   * Threads one inference may use. ORT's default (0) is one per physical core as ORT counts them,
   * which was one on the 2-core bench VM: pass a number where a model needs the cores.
   */
  intraOpThreads?: number;
  /** Defaults to 'all' (constant folding, conv/activation fusion and the NCHWc layout on x86). */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let idle intra-op threads busy-wait for work (ORT's default). Off by default here: on a small
   * machine shared with other processes spinning threads steal the cores the work needs.
   */
  spinWait?: boolean;
  /**
   * The input's shape changes from run to run (the detector's levels). ORT's memory pattern, planned
   * per shape, then costs a second allocation on each new shape instead of saving one: off.
   */
  shapesVary?: boolean;
}

export interface CreatedSession {
  session: OrtSession;
  provider: ExecutionProvider;
}

export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

const CUDA_PROVIDER_LIBRARY: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'libonnxruntime_providers_cuda.so',
  win32: 'onnxruntime_providers_cuda.dll',
};

/**
 * Whether this onnxruntime-node can run the CUDA provider. The npm package knows the provider but
 * ships its library separately (its install script fetches it), so the library file must be present
 * beside the native binding as well.
 */
export function cudaAvailable(): boolean {
  const cuda = ort.listSupportedBackends().find((b) => b.name === 'cuda');
  if (!cuda) return false;
  if (cuda.bundled) return true;
  const library = CUDA_PROVIDER_LIBRARY[process.platform];
  if (!library) return false;
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  const bindingDir = path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(path.join(bindingDir, library));
}

function sessionOptions(opts: SessionOptions, provider: ExecutionProvider): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    executionMode: 'sequential',
    intraOpNumThreads: opts.intraOpThreads ?? 0,
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    enableMemPattern: !opts.shapesVary,
    // ORT's own log goes straight to stderr; keep it to errors and report through pino instead.
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: opts.spinWait ? '1' : '0' } } },
  };
}

export async function createSession(file: string, opts: SessionOptions): Promise<CreatedSession> {
  if (!telemetryOff) {
    // A worker started by code that did not go through ortEnv.ts: ORT would read the command line.
    log.warn({ variable: ORT_TELEMETRY_VARIABLE }, 'ONNX Runtime telemetry could not be switched off from this thread; set the variable in the parent first');
  }
  let provider: ExecutionProvider;
  if (opts.device === 'cpu') {
    provider = 'cpu';
  } else if (cudaAvailable()) {
    provider = 'cuda';
  } else if (opts.device === 'cuda') {
    throw new ConfigError(
      'device cuda was requested but this onnxruntime-node has no CUDA execution provider ' +
        `(${CUDA_PROVIDER_LIBRARY[process.platform] ?? 'the CUDA provider library'} is not installed beside its binding); ` +
        'install the CUDA build of onnxruntime-node or set LOOKALIKE_DEVICE=cpu',
    );
  } else {
    provider = 'cpu';
  }

  try {
    const session = await ort.InferenceSession.create(file, sessionOptions(opts, provider));
    log.info({ file: path.basename(file), provider, intraOpThreads: opts.intraOpThreads ?? 'default' }, 'inference session ready');
    return { session, provider };
  } catch (err) {
    if (provider === 'cuda' && opts.device === 'cuda') {
      throw new ConfigError(`device cuda was requested but the CUDA execution provider failed to start: ${(err as Error).message}`, { cause: err });
    }
    if (provider === 'cuda') {
      log.warn({ err: (err as Error).message }, 'CUDA execution provider failed to start; device auto falls back to CPU');
      const session = await ort.InferenceSession.create(file, sessionOptions(opts, 'cpu'));
      log.info({ file: path.basename(file), provider: 'cpu' }, 'inference session ready');
      return { session, provider: 'cpu' };
    }
    throw err;
  }
}

/**
 * Runs a session on one float32 batch and returns the requested outputs (all by default)
 * as float32 arrays with their shapes.
 */
export async function runFloat32(
  session: OrtSession,
  input: { name: string; data: Float32Array; dims: readonly number[] },
  outputNames: readonly string[] = session.outputNames,
): Promise<Record<string, OutputTensor>> {
  let results: ort.InferenceSession.ReturnType;
  try {
    const feeds = { [input.name]: new ort.Tensor('float32', input.data, input.dims) };
    results = await session.run(feeds, outputNames);
  } catch (err) {
    throw new InferenceError(`inference failed on a [${input.dims.join(', ')}] batch: ${(err as Error).message}`, { cause: err });
  }
  const out: Record<string, OutputTensor> = {};
  for (const name of outputNames) {
    const tensor = results[name] as ort.Tensor | undefined;
    if (!tensor || tensor.type !== 'float32') throw new InferenceError(`model output ${name} is missing or not float32`);
    out[name] = { data: tensor.data as Float32Array, dims: tensor.dims };
  }
  return out;
}
