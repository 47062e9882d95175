import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LookalikeEngine } from '../../src/core/engineTypes.ts';
import type { Store } from '../../src/db/types.ts';
import { openStore } from '../../src/db/store.ts';
import { RequestLimits, type LimitsOptions } from '../../src/bots/shared/limits.ts';
import { runTelegramBot, type RunningTelegramBot, type TelegramSettings } from '../../src/bots/telegram/run.ts';
import { TelegramEmulator, type ApiCall, type EmulatorOptions, type Message } from './telegramEmulator.ts';

// The real bot (runTelegramBot, telegraf, long polling) against the emulator, with a real SQLite store.

export interface Harness {
  emu: TelegramEmulator;
  store: Store;
  dataDir: string;
  running: RunningTelegramBot;
  /** Stops the bot and reopens it on the same data directory (a restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  engine: LookalikeEngine;
  limits?: Partial<LimitsOptions>;
  maxFileBytes?: number | null;
  dataDir?: string;
  emulator?: EmulatorOptions;
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const emu = await TelegramEmulator.start(opts.emulator);
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'lookalike-telegram-'));
  const settings: TelegramSettings = {
    token: emu.token,
    apiRoot: emu.apiRoot,
    maxFileBytes: opts.maxFileBytes === undefined ? null : opts.maxFileBytes,
    limits: {},
  };
  const start = async () => {
    const store = await openStore({ dataDir });
    const running = await runTelegramBot(settings, { engine: opts.engine, store, limits: new RequestLimits(opts.limits) });
    return { store, running };
  };
  let current = await start();
  const harness: Harness = {
    emu,
    dataDir,
    get store() {
      return current.store;
    },
    get running() {
      return current.running;
    },
    async restart() {
      await current.running.stop('restart');
      await current.store.close();
      current = await start();
    },
    async close() {
      await current.running.stop('test over');
      await current.store.close();
      await emu.close();
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/**
 * A harness for one test, closed however the test ends. (Per test rather than in a suite's before/after:
 * with --test-name-pattern, node 20 runs a suite's before hook but not its after hook when every test
 * in it is filtered out, and a bot left polling keeps the process alive.)
 */
export async function withHarness<T>(opts: HarnessOptions, fn: (h: Harness) => Promise<T>): Promise<T> {
  const h = await startHarness(opts);
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

const ANSWERS = new Set(['sendMessage', 'sendPhoto', 'sendAnimation']);

/** The bot's answer to a message: its first sendMessage, sendPhoto or sendAnimation that quotes it. */
export function answerTo(emu: TelegramEmulator, message: Message, timeoutMs = 30_000): Promise<ApiCall> {
  return emu.waitFor((c) => c.ok && ANSWERS.has(c.method) && c.chatId === message.chat.id && c.replyToMessageId === message.message_id, {
    timeoutMs,
  });
}

/** Every answer (successful sendMessage or sendPhoto) quoting this message so far. */
export function answersTo(emu: TelegramEmulator, message: Message): ApiCall[] {
  return emu.calls.filter((c) => c.ok && ANSWERS.has(c.method) && c.chatId === message.chat.id && c.replyToMessageId === message.message_id);
}

/** An engine for tests whose inputs must be refused before matching: reaching it fails the test. */
export const unreachableEngine: LookalikeEngine = {
  modelId: 'unreachable',
  gallerySize: 0,
  async match() {
    throw new Error('the engine was called in a test where the bot must refuse the input first');
  },
  async *matchVideo() {
    throw new Error('the engine was called in a test where the bot must refuse the video first');
  },
  async close() {},
};
