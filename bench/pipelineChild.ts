import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { DEFAULT_LIMITS } from '../src/bots/shared/limits.ts';
import { loadConfig } from '../src/config.ts';
import { decodeImage } from '../src/core/decode.ts';
import { intraOpThreadsFor, tryOpenEngine } from '../src/core/engine.ts';
import { setImageThreads } from '../src/core/runtime/sharp.ts';
import { loadFaceApiPipeline } from '../tests/support/faceApiTfjs.ts';
import { cpuMs } from './stats.ts';

// One side of bench/pipeline.ts's comparison in a process of its own, as each would run deployed:
//   match <dataDir>     the engine as `lookalike match` opens it
//   bot <dataDir>       the engine as a bot opens it (threads shared out among its requests)
//   face-api            face-api.js's pipeline on tfjs's wasm backend
// In one process the sides disturbed each other: tfjs's WebAssembly memory (~400 MB, which V8
// counts as external memory) and the parent's other work made V8 run a full collection after most
// of our photos, which a `match` process does not. The parent sends a photo's path; the time covers
// the photo's bytes to the answer (for face-api: sharp's decode, with every core as `match` has,
// then detection, landmarks and descriptors).

export type Role = 'match' | 'bot' | 'face-api';

export interface ChildRequest {
  file: string;
  /** match and bot: draw the reply picture (default true). */
  composite?: boolean;
}

export interface ChildAnswer {
  wall: number;
  cpu: number;
  ok: boolean;
  faces: number;
}

const [role, dataDir] = process.argv.slice(2) as [Role, string | undefined];

async function open(): Promise<{ name: string; run(bytes: Buffer, composite: boolean): Promise<{ ok: boolean; faces: number }> }> {
  if (role === 'face-api') {
    setImageThreads(availableParallelism());
    const peer = await loadFaceApiPipeline();
    return {
      name: peer.backend,
      async run(bytes) {
        const decoded = await decodeImage(bytes);
        return { ok: decoded.ok, faces: decoded.ok ? (await peer.describe(decoded.value)).length : 0 };
      },
    };
  }
  const threads = role === 'bot' ? intraOpThreadsFor(DEFAULT_LIMITS.concurrency) : undefined;
  const opened = await tryOpenEngine({ dataDir: dataDir!, modelsDir: loadConfig({ ...process.env, LOOKALIKE_DEVICE: 'cpu' }).modelsDir, device: 'cpu', ...(threads ? { intraOpThreads: threads, imageThreads: threads } : {}) });
  if (!opened.ok) throw new Error(opened.error.message);
  const engine = opened.value;
  return {
    name: role,
    async run(bytes, composite) {
      const result = await engine.match(bytes, { composite });
      return { ok: result.ok, faces: result.ok ? result.value.faces.length : 0 };
    },
  };
}

const side = await open();
process.send!({ ready: true, name: side.name });
process.on('message', (message: ChildRequest) => {
  void (async () => {
    const bytes = readFileSync(message.file);
    const timed = await cpuMs(() => side.run(bytes, message.composite !== false));
    const answer: ChildAnswer = { wall: timed.wall, cpu: timed.cpu, ...timed.value };
    process.send!(answer);
  })();
});
process.on('disconnect', () => process.exit(0));
