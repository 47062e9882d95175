import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { checkHttpUrl, type Config } from '../../config.ts';
import { ConfigError } from '../../core/errors.ts';
import { limitsFromEnv } from '../../bots/shared/limits.ts';
import { exitSoon } from '../../bots/shared/service.ts';
import { logger } from '../../log.ts';
import { metricsPortFromEnv } from '../../metrics.ts';
import { queueSettingsFromEnv } from '../../queue/settings.ts';
import { dataDirOf } from '../options.ts';

// `lookalike worker`: takes match jobs and index-build jobs from the queue in Redis until stopped.

const log = logger('worker-cli');

export function registerWorkerCommand(program: Command, config: Config): void {
  program
    .command('worker')
    .description('run the engine for the bots\' front ends and for index builds, taking jobs from Redis (LOOKALIKE_REDIS_URL) until stopped')
    .addOption(new Option('--redis <url>', 'the queue (default: LOOKALIKE_REDIS_URL)'))
    .addOption(new Option('--concurrency <n>', 'match jobs at once on this process\'s engine, and face threads for index builds (default: LOOKALIKE_CONCURRENCY, else 2)').argParser(positiveInt))
    .action(async (opts: { redis?: string; concurrency?: number }, command: Command) => {
      const queue = queueSettingsFromEnv(process.env, opts.redis);
      if (!queue) throw new ConfigError('lookalike worker needs the queue: set LOOKALIKE_REDIS_URL (redis://host:port) or pass --redis');
      const limits = limitsFromEnv(process.env);
      // Without TELEGRAM_BOT_TOKEN a worker answers Discord requests only (they carry their own interaction token).
      // The queue, the chat clients and the engine are imported here, not when any command starts (bot.ts says why).
      const { telegramSettingsFromEnv } = await import('../../bots/telegram/run.ts');
      const { startWorkerProcess } = await import('../../queue/workerProcess.ts');
      const telegram = process.env.TELEGRAM_BOT_TOKEN?.trim() ? telegramSettingsFromEnv(process.env) : undefined;
      const metricsPort = metricsPortFromEnv();
      const discordApiUrl = process.env.DISCORD_API_URL?.trim().replace(/\/+$/, '') || undefined;
      if (discordApiUrl) checkHttpUrl('DISCORD_API_URL', discordApiUrl);
      const worker = await startWorkerProcess({
        queue,
        dataDir: path.resolve(dataDirOf(command)),
        modelsDir: config.modelsDir,
        device: config.device,
        ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
        concurrency: opts.concurrency ?? limits.concurrency ?? 2,
        limits,
        ...(telegram ? { telegram: { token: telegram.token, maxFileBytes: telegram.maxFileBytes, ...(telegram.apiRoot ? { apiRoot: telegram.apiRoot } : {}) } } : {}),
        ...(discordApiUrl ? { discordApiUrl } : {}),
        ...(metricsPort !== undefined ? { metricsPort } : {}),
      });
      await new Promise<void>((resolve) => {
        const onSignal = (signal: NodeJS.Signals) => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          void worker.stop(signal).finally(resolve);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
      exitSoon(log);
    });
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}
