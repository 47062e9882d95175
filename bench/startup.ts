import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TelegramEmulator } from '../tests/support/telegramEmulator.ts';
import { peopleDir, repoRoot } from '../tests/support/paths.ts';
import { startService } from '../tests/support/services.ts';
import { loadNow, machine, median } from './stats.ts';
import { writeSyntheticIndex, type SyntheticIndex } from './syntheticIndex.ts';
import { NODE_FLAGS } from '../src/nodeFlags.ts';

// Start-up with an index of IMDB's size (460,723 faces of 20,284 people, bench/syntheticIndex.ts):
// in fresh processes, the index's load time and the memory it holds, the engine's start and its
// first photo; then the Telegram bot as an operator runs it (`lookalike bot telegram`, the built
// program) against the emulator with a photo already waiting: from the process's start to the reply
// picture. Thumbnails stay in thumbs.bin, read per hit. For comparison, in the same run: the same
// faces as format 1 wrote them (rows in gallery.json), and faces.hnsw through hnswlib's own loader.
// Needs `npm run build` first.
// `node --import tsx bench/startup.ts [runs]`

export interface StartupBench {
  machine: string;
  index: SyntheticIndex;
  /** Medians over the runs. */
  galleryLoadMs: number;
  galleryRssMb: number;
  /** The same, the faces as rows in gallery.json (index format 1, before this benchmark). */
  format1LoadMs: number;
  format1RssMb: number;
  /** faces.hnsw loaded by hnswlib's own loader (what opened indexes before hnswFile.ts). */
  hnswlibLoadMs: number;
  hnswlibRssMb: number;
  engineOpenMs: number;
  firstMatchMs: number;
  engineRssMb: number;
  /** The bot process: from spawn to the reply picture of a photo sent at spawn. */
  botFirstAnswerMs: number;
  /** The bot process: from spawn to its log line 'engine ready' (index and models loaded). */
  botEngineReadyMs: number;
  botRssMb: number;
  runs: number;
  load: [string, string];
}

const run = promisify(execFile);

async function child<T>(args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [...NODE_FLAGS, '--expose-gc', '--import', 'tsx', path.join(repoRoot, 'bench', 'startupChild.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    maxBuffer: 4 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

async function botFirstAnswer(dataDir: string, photo: Buffer): Promise<{ ms: number; engineReadyMs: number; rssMb: number }> {
  const emu = await TelegramEmulator.start();
  try {
    const user = emu.createUser({ firstName: 'First' });
    // Waiting before the bot starts: its first getUpdates takes it.
    const message = await emu.sendPhoto(user, emu.privateChat(user), photo);
    const started = performance.now();
    const startedAt = Date.now();
    // Info: its 'engine ready' line times the start's first part.
    const bot = startService('bot', ['bot', 'telegram'], { TELEGRAM_BOT_TOKEN: emu.token, TELEGRAM_API_ROOT: emu.apiRoot, LOOKALIKE_DATA_DIR: dataDir });
    try {
      await emu.waitFor((c) => c.method === 'sendPhoto' && c.replyToMessageId === message.message_id, { timeoutMs: 120_000 });
      const ms = performance.now() - started;
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${bot.child.pid}/status`, 'utf8'))?.[1] ?? 0);
      const ready = bot.lines.find((l) => l.msg === 'engine ready')?.time;
      return { ms, engineReadyMs: typeof ready === 'number' ? ready - startedAt : Number.NaN, rssMb: rssKb / 1024 };
    } catch (err) {
      throw new Error(`no answer from the bot: ${(err as Error).message}\n${bot.stderr().slice(-5000)}`);
    } finally {
      await bot.stop();
    }
  } finally {
    await emu.close();
  }
}

export async function benchStartup(runs = 3): Promise<StartupBench> {
  const load0 = loadNow();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lookalike-startup-'));
  try {
    const index = await writeSyntheticIndex(dataDir);
    const photoFile = path.join(peopleDir, 'Barack_Obama', readdirSync(path.join(peopleDir, 'Barack_Obama')).sort()[0]!);
    const g: { loadMs: number; rssMb: number; rssBeforeMb: number }[] = [];
    const g1: { loadMs: number; rssMb: number; rssBeforeMb: number }[] = [];
    const h: { loadMs: number; rssMb: number; rssBeforeMb: number }[] = [];
    const e: { openMs: number; firstMatchMs: number; rssMb: number }[] = [];
    const b: { ms: number; engineReadyMs: number; rssMb: number }[] = [];
    for (let i = 0; i < runs; i++) {
      g.push(await child(['gallery', dataDir]));
      g1.push(await child(['gallery-dir', index.format1Dir]));
      h.push(await child(['hnswlib', dataDir]));
      e.push(await child(['engine', dataDir, photoFile]));
      b.push(await botFirstAnswer(dataDir, readFileSync(photoFile)));
    }
    return {
      machine: machine(),
      index,
      galleryLoadMs: Math.round(median(g.map((x) => x.loadMs))),
      galleryRssMb: Math.round(median(g.map((x) => x.rssMb - x.rssBeforeMb))),
      format1LoadMs: Math.round(median(g1.map((x) => x.loadMs))),
      format1RssMb: Math.round(median(g1.map((x) => x.rssMb - x.rssBeforeMb))),
      hnswlibLoadMs: Math.round(median(h.map((x) => x.loadMs))),
      hnswlibRssMb: Math.round(median(h.map((x) => x.rssMb - x.rssBeforeMb))),
      engineOpenMs: Math.round(median(e.map((x) => x.openMs))),
      firstMatchMs: Math.round(median(e.map((x) => x.firstMatchMs))),
      engineRssMb: Math.round(median(e.map((x) => x.rssMb))),
      botFirstAnswerMs: Math.round(median(b.map((x) => x.ms))),
      botEngineReadyMs: Math.round(median(b.map((x) => x.engineReadyMs))),
      botRssMb: Math.round(median(b.map((x) => x.rssMb))),
      runs,
      load: [load0, loadNow()],
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const s = await benchStartup(Number(process.argv[2] ?? 3));
  console.log(JSON.stringify(s, null, 1));
}
