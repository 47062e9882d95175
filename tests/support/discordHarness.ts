import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LookalikeEngine, MatchOptions } from '../../src/core/engineTypes.ts';
import type { VideoInput, VideoMatchOptions } from '../../src/core/video/types.ts';
import type { Store } from '../../src/db/types.ts';
import { openStore } from '../../src/db/store.ts';
import { RequestLimits, type LimitsOptions } from '../../src/bots/shared/limits.ts';
import { runDiscordBot, type RunningDiscordBot } from '../../src/bots/discord/run.ts';
import type { DiscordSettings } from '../../src/bots/discord/settings.ts';
import { DiscordEmulator, type EmulatorOptions, type RestCall } from './discordEmulator.ts';

// The real Discord bot (runDiscordBot: discord.js Client, gateway, REST) against the emulator, with a
// real SQLite store.

export interface DiscordHarness {
  emu: DiscordEmulator;
  store: Store;
  dataDir: string;
  running: RunningDiscordBot;
  close(): Promise<void>;
}

export interface DiscordHarnessOptions {
  engine: LookalikeEngine;
  limits?: Partial<LimitsOptions>;
  settings?: Partial<DiscordSettings>;
  emulator?: EmulatorOptions;
}

export async function startDiscordHarness(opts: DiscordHarnessOptions): Promise<DiscordHarness> {
  const emu = await DiscordEmulator.start({ heartbeatIntervalMs: 2000, ...opts.emulator });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lookalike-discord-'));
  const store = await openStore({ dataDir });
  const settings: DiscordSettings = { token: emu.token, apiUrl: emu.apiUrl, cdnUrl: emu.cdnUrl, limits: {}, ...opts.settings };
  let running: RunningDiscordBot;
  try {
    running = await runDiscordBot(settings, { engine: opts.engine, store, limits: new RequestLimits(opts.limits) });
  } catch (err) {
    await store.close();
    await emu.close();
    throw err;
  }
  return {
    emu,
    store,
    dataDir,
    running,
    async close() {
      await running.stop('test over');
      await store.close();
      await emu.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The REST calls made about one interaction, in order. */
export function callsAbout(emu: DiscordEmulator, interactionId: string): RestCall[] {
  return emu.calls.filter((c) => c.interactionId === interactionId);
}

/** Wraps an engine to count the photos (and videos) that reach it; it matches videos when the engine does. */
export function countingEngine(engine: LookalikeEngine): LookalikeEngine & { calls: number; videoCalls: number } {
  const counted = {
    calls: 0,
    videoCalls: 0,
    get modelId() {
      return engine.modelId;
    },
    get gallerySize() {
      return engine.gallerySize;
    },
    match(bytes: Uint8Array, opts?: MatchOptions) {
      counted.calls++;
      return engine.match(bytes, opts);
    },
    ...(engine.matchVideo
      ? {
          matchVideo(input: VideoInput, opts?: VideoMatchOptions) {
            counted.videoCalls++;
            return engine.matchVideo!(input, opts);
          },
        }
      : {}),
    close: () => Promise.resolve(),
  };
  return counted;
}

/** An engine whose every match throws: what an unexpected failure looks like to the bot. */
export const brokenEngine: LookalikeEngine = {
  modelId: 'broken',
  gallerySize: 1,
  async match() {
    throw new Error('simulated engine crash');
  },
  async close() {},
};
