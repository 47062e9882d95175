import { isMainThread } from 'node:worker_threads';

// onnxruntime-node 1.30 starts a telemetry system when it creates its environment (the first session in
// a process): it reads /proc/self/cmdline and matches it with a recursive std::regex, which needs about
// 290 bytes of stack per character. A command line past ~30 KB (`lookalike match` over a few hundred
// photos) overflows the main thread's 8 MB stack and the process dies with SIGSEGV before printing
// anything; a worker thread's smaller stack dies sooner. The telemetry also writes a database under
// ~/.cache and may upload it, and nothing here may reach the network. ORT reads ORT_DISABLE_TELEMETRY
// once, with getenv, when it creates that environment, so it must be in the process environment first.
//
// Only the main thread can change the process environment (a worker's process.env is its own copy),
// so this runs on import in ort.ts and in the face pool before it starts workers.

export const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/** True when ORT will start without telemetry in this process. */
export function disableOrtTelemetry(): boolean {
  if (isMainThread) process.env[ORT_TELEMETRY_VARIABLE] = '1';
  return process.env[ORT_TELEMETRY_VARIABLE] === '1';
}
