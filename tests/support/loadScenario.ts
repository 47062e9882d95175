import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { peopleDir, repoRoot } from './paths.ts';
import type { ApiCall, Message } from './telegramEmulator.ts';
import { TelegramEmulator } from './telegramEmulator.ts';
import { NODE_FLAGS } from '../../src/nodeFlags.ts';

// The Telegram bot as an operator runs it (`lookalike bot telegram`, its own process, default limits
// unless told otherwise) against the emulator, flooded with photos: many users, a few photos each, all
// sent within a few seconds. Shared by the load test (every photo answered once, the process up, its
// memory bounded) and bench/load.ts (latencies and peak memory).

export type AnswerKind = 'picture' | 'rate_limited' | 'busy' | 'timeout' | 'other';

export interface LoadAnswer {
  userId: number;
  /** Whose photo it was (an entry of LoadOptions.people). */
  person: string;
  kind: AnswerKind;
  text: string;
  /** From the photo's update being queued to the answer reaching the emulator. */
  latencyMs: number;
  /** Answers quoting the photo (one expected). */
  count: number;
}

export interface LoadResult {
  photos: number;
  users: number;
  /** How long sending every photo took. */
  sendSeconds: number;
  answers: LoadAnswer[];
  /** The bot process: peak resident memory (VmHWM) and resident memory at the end (VmRSS), in MiB. */
  peakRssMb: number;
  endRssMb: number;
  /** Whether the bot process was still running when every photo had been answered. */
  stayedUp: boolean;
  exitCode: number | null;
  stderrTail: string;
}

export interface LoadOptions {
  dataDir: string;
  users: number;
  photosPerUser: number;
  /** Seconds over which the photos are sent. */
  spreadSeconds: number;
  /** Extra environment for the bot (LOOKALIKE_RATE_LIMIT_PER_MINUTE, ...). */
  env?: Record<string, string>;
  /** People whose held-out photos are sent (their first file by name); they should be in the index. */
  people: string[];
  answerTimeoutMs?: number;
}

function memoryMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

export function kindOf(call: ApiCall): AnswerKind {
  if (call.method === 'sendPhoto') return 'picture';
  const text = call.text ?? '';
  if (/^Easy there!/.test(text)) return 'rate_limited';
  if (/busy/.test(text)) return 'busy';
  if (/took too long/.test(text)) return 'timeout';
  return 'other';
}

export async function runTelegramLoad(opts: LoadOptions): Promise<LoadResult> {
  const photos = await Promise.all(
    opts.people.map(async (person) => readFile(path.join(peopleDir, person, (await readdir(path.join(peopleDir, person))).sort()[0]!))),
  );
  const emu = await TelegramEmulator.start();
  const child = spawn(process.execPath, [...NODE_FLAGS, path.join(repoRoot, 'bin', 'lookalike.js'), 'bot', 'telegram'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'warn',
      TELEGRAM_BOT_TOKEN: emu.token,
      TELEGRAM_API_ROOT: emu.apiRoot,
      LOOKALIKE_DATA_DIR: opts.dataDir,
      LOOKALIKE_DEVICE: 'cpu',
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await Promise.race([
      emu.waitFor((c) => c.method === 'deleteWebhook', { timeoutMs: 120_000 }),
      exited.then((code) => {
        throw new Error(`the bot exited (${code}) before polling:\n${stderr}`);
      }),
    ]);
    // (The emulator stores each distinct photo's sizes once, so that sending stays fast.)
    const users = Array.from({ length: opts.users }, (_, i) => emu.createUser({ firstName: `Load${i}` }));
    const sent: { message: Message; userId: number; person: string; at: number }[] = [];
    const total = opts.users * opts.photosPerUser;
    const started = performance.now();
    for (let n = 0; n < total; n++) {
      const user = users[n % opts.users]!;
      const message = await emu.sendPhoto(user, emu.privateChat(user), photos[n % photos.length]!);
      sent.push({ message, userId: user.id, person: opts.people[n % photos.length]!, at: performance.now() });
      const due = started + ((n + 1) / total) * opts.spreadSeconds * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const sendSeconds = (performance.now() - started) / 1000;
    const answered = new Map<string, { call: ApiCall; at: number }>();
    const key = (chatId: number | undefined, messageId: number | undefined) => `${chatId}:${messageId}`;
    const isAnswer = (c: ApiCall) => c.ok && (c.method === 'sendMessage' || c.method === 'sendPhoto') && c.replyToMessageId !== undefined;
    // Answer times as the calls arrive: the recorded calls are looked at every few milliseconds.
    let seen = 0;
    const deadline = performance.now() + (opts.answerTimeoutMs ?? 300_000);
    while (answered.size < sent.length) {
      if (performance.now() > deadline) throw new Error(`${sent.length - answered.size} of ${sent.length} photos unanswered:\n${stderr}`);
      if (child.exitCode !== null) throw new Error(`the bot exited (${child.exitCode}) under load:\n${stderr}`);
      for (; seen < emu.calls.length; seen++) {
        const c = emu.calls[seen]!;
        if (isAnswer(c) && !answered.has(key(c.chatId, c.replyToMessageId))) answered.set(key(c.chatId, c.replyToMessageId), { call: c, at: performance.now() });
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Late duplicates would show up here.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const memory = memoryMb(child.pid!);
    const answers: LoadAnswer[] = sent.map(({ message, userId, person, at }) => {
      const a = answered.get(key(message.chat.id, message.message_id))!;
      const count = emu.calls.filter((c) => isAnswer(c) && c.chatId === message.chat.id && c.replyToMessageId === message.message_id).length;
      return { userId, person, kind: kindOf(a.call), text: a.call.text ?? '', latencyMs: a.at - at, count };
    });
    const stayedUp = child.exitCode === null;
    child.kill('SIGTERM');
    const exitCode = await exited;
    return { photos: total, users: opts.users, sendSeconds, answers, peakRssMb: memory.peak, endRssMb: memory.now, stayedUp, exitCode, stderrTail: stderr.slice(-3000) };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await emu.close();
  }
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
