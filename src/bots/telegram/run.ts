import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TelegramError, type Telegraf } from 'telegraf';
import { checkHttpUrl, requireEnv } from '../../config.ts';
import type { LookalikeEngine } from '../../core/engineTypes.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Store } from '../../db/types.ts';
import { logger, type Logger } from '../../log.ts';
import { DEFAULT_LANGUAGE, LANGUAGES } from '../shared/i18n.ts';
import { TELEGRAM_COMMANDS, telegramCommands } from './commands.ts';
import { boundedStep, DISCONNECT_TIMEOUT_MS, serveUntilSignal, startBotService, stopBudgetMs, type BotService, type ServiceOptions } from '../shared/service.ts';
import { limitsFromEnv, type LimitsOptions, type RequestLimits } from '../shared/limits.ts';
import type { RequestRouter } from '../shared/router.ts';
import { createTelegramBot, defaultMaxFileBytes, type TelegramBot } from './bot.ts';

// Starting the Telegram bot the way an operator runs it: settings from the environment, long polling by
// default, a webhook server when TELEGRAM_WEBHOOK_URL is set.

const log = logger('telegram-run');

export interface TelegramWebhookSettings {
  /** The public URL Telegram posts to (a reverse proxy usually terminates TLS in front of the bot). */
  url: string;
  /** Sent back by Telegram in X-Telegram-Bot-Api-Secret-Token; requests without it are refused. */
  secret: string;
  /** Where the bot's own HTTP server listens; 0 picks a free port. */
  port: number;
  host: string;
}

export interface TelegramSettings {
  token: string;
  apiRoot?: string;
  webhook?: TelegramWebhookSettings;
  /** null: the Bot API server decides (see createTelegramBot). */
  maxFileBytes: number | null;
  limits: Partial<LimitsOptions>;
}

/** The default list, then one per catalogue language (Telegram shows each user the list for their app's language). */
async function setCommandLists(telegram: Telegraf['telegram'], log: Logger): Promise<void> {
  try {
    await telegram.setMyCommands(TELEGRAM_COMMANDS);
    for (const language of LANGUAGES) {
      if (language !== DEFAULT_LANGUAGE) await telegram.setMyCommands(telegramCommands(language), { language_code: language });
    }
  } catch (err) {
    log.warn({ err }, 'could not set the command list');
  }
}

export { TELEGRAM_COMMANDS, telegramCommands };

/** The updates the bot handles: messages, and presses of its inline buttons (/settings). */
export const ALLOWED_UPDATES = ['message', 'callback_query'] as const;

const SECRET_CHARS = /^[A-Za-z0-9_-]{1,256}$/;

/** Reads and checks the Telegram settings; every error names the variable (never its value). */
export function telegramSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TelegramSettings {
  const token = requireEnv(env, 'TELEGRAM_BOT_TOKEN', 'the Telegram bot needs the token @BotFather gave you');
  if (!/^\d+:[A-Za-z0-9_-]+$/.test(token)) throw new ConfigError('TELEGRAM_BOT_TOKEN does not look like a bot token (digits:letters, from @BotFather)');

  const apiRoot = env.TELEGRAM_API_ROOT?.trim() || undefined;
  if (apiRoot !== undefined) checkHttpUrl('TELEGRAM_API_ROOT', apiRoot);

  let maxFileBytes = defaultMaxFileBytes(apiRoot);
  const maxMb = env.TELEGRAM_MAX_FILE_MB?.trim();
  if (maxMb) {
    const mb = Number(maxMb);
    if (!(mb > 0)) throw new ConfigError('TELEGRAM_MAX_FILE_MB must be a positive number of megabytes');
    maxFileBytes = Math.floor(mb * 1024 * 1024);
  }

  let webhook: TelegramWebhookSettings | undefined;
  const url = env.TELEGRAM_WEBHOOK_URL?.trim();
  if (url) {
    checkHttpUrl('TELEGRAM_WEBHOOK_URL', url);
    const secret = env.TELEGRAM_WEBHOOK_SECRET?.trim() || randomBytes(32).toString('hex');
    if (!SECRET_CHARS.test(secret)) throw new ConfigError('TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - (1 to 256 characters)');
    const port = Number(env.TELEGRAM_WEBHOOK_PORT?.trim() || 8080);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('TELEGRAM_WEBHOOK_PORT must be a port number');
    webhook = { url, secret, port, host: env.TELEGRAM_WEBHOOK_HOST?.trim() || '0.0.0.0' };
  }
  return { token, ...(apiRoot ? { apiRoot } : {}), ...(webhook ? { webhook } : {}), maxFileBytes, limits: limitsFromEnv(env) };
}

export interface RunningTelegramBot {
  readonly bot: TelegramBot;
  readonly username: string;
  readonly mode: 'polling' | 'webhook';
  /** The port the webhook server listens on (webhook mode). */
  readonly webhookPort?: number;
  /** Settles when the bot stops: resolves after stop(), rejects if polling fails for good (401, 409). */
  readonly stopped: Promise<void>;
  /**
   * Stops taking updates, then waits until every accepted photo is answered; each step bounded, so that
   * it ends within stopBudgetMs whatever Telegram does. Engine and store stay open.
   */
  stop(reason?: string): Promise<void>;
  readonly stopBudgetMs: number;
}

export interface TelegramRunDeps {
  engine: LookalikeEngine;
  store: Store;
  limits?: RequestLimits;
  /** Where admitted requests run (the queue, for a front end); default: this process. */
  router?: RequestRouter;
}

/** Starts the bot; resolves once it is receiving updates. */
export async function runTelegramBot(settings: TelegramSettings, deps: TelegramRunDeps): Promise<RunningTelegramBot> {
  const bot = createTelegramBot({
    token: settings.token,
    ...(settings.apiRoot ? { apiRoot: settings.apiRoot } : {}),
    engine: deps.engine,
    store: deps.store,
    limits: deps.limits ?? settings.limits,
    ...(deps.router ? { router: deps.router } : {}),
    maxFileBytes: settings.maxFileBytes,
  });
  const { telegraf } = bot;
  try {
    telegraf.botInfo = await telegraf.telegram.getMe();
  } catch (err) {
    if (err instanceof TelegramError && (err.code === 401 || err.code === 404)) {
      throw new ConfigError('TELEGRAM_BOT_TOKEN was refused by the Bot API (Unauthorized): check the token with @BotFather');
    }
    throw err;
  }
  const username = telegraf.botInfo.username;
  const requestTimeoutMs = bot.deps.limits.options.timeoutMs;
  const drain = () => boundedStep(bot.drain(), requestTimeoutMs + DISCONNECT_TIMEOUT_MS, 'answer accepted requests', log);
  await setCommandLists(telegraf.telegram, log);

  if (settings.webhook) return startWebhook(bot, username, settings.webhook, drain);

  // telegraf.launch() would ask getMe again and resolve only when polling ends; with botInfo set it
  // goes straight to deleteWebhook and polling.
  let stopping = false;
  const stopped = telegraf.launch({ allowedUpdates: [...ALLOWED_UPDATES] }).catch((err: unknown) => {
    throw pollingFailure(err);
  });
  stopped.catch(() => {});
  log.info({ username, apiRoot: settings.apiRoot ?? 'telegram' }, 'telegram bot polling');
  return {
    bot,
    username,
    mode: 'polling',
    stopped,
    stopBudgetMs: stopBudgetMs(requestTimeoutMs),
    async stop(reason = 'stop') {
      if (!stopping) {
        stopping = true;
        telegraf.stop(reason);
      }
      // Polling ends when its long poll is aborted; a Bot API that hangs up badly must not hold the stop.
      await boundedStep(stopped, DISCONNECT_TIMEOUT_MS, 'stop polling', log);
      await drain();
    },
  };
}

/** Why polling ended for good, in words an operator can act on. */
function pollingFailure(err: unknown): unknown {
  if (err instanceof TelegramError && err.code === 409) {
    return new ConfigError(
      'another process is receiving the updates of this TELEGRAM_BOT_TOKEN (409 Conflict): stop the other instance, or its webhook',
    );
  }
  if (err instanceof TelegramError && err.code === 401) {
    return new ConfigError('TELEGRAM_BOT_TOKEN was refused by the Bot API (Unauthorized): check the token with @BotFather');
  }
  return err;
}

async function startWebhook(bot: TelegramBot, username: string, webhook: TelegramWebhookSettings, drain: () => Promise<void>): Promise<RunningTelegramBot> {
  const { telegraf } = bot;
  const path = new URL(webhook.url).pathname || '/';
  // telegraf's callback checks method, path and the secret-token header; anything else gets 403.
  const callback = telegraf.webhookCallback(path, { secretToken: webhook.secret });
  const server: Server = createServer((req, res) => void callback(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(webhook.port, webhook.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  await telegraf.telegram.setWebhook(webhook.url, { secret_token: webhook.secret, allowed_updates: [...ALLOWED_UPDATES] });
  log.info({ username, port, path }, 'telegram bot receiving webhooks');

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<void> | undefined;
  return {
    bot,
    username,
    mode: 'webhook',
    webhookPort: port,
    stopped,
    stopBudgetMs: stopBudgetMs(bot.deps.limits.options.timeoutMs),
    stop() {
      // The webhook stays registered: Telegram keeps updates for the next start.
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await boundedStep(closed, DISCONNECT_TIMEOUT_MS, 'close the webhook server', log);
        server.closeAllConnections();
        await drain();
        resolveStopped();
      })();
      return stopping;
    },
  };
}

export interface TelegramServiceOptions extends ServiceOptions {
  settings: TelegramSettings;
}

export type TelegramService = BotService<RunningTelegramBot>;

/** Everything `lookalike bot telegram` needs: the engine on the data directory's index, the store, the bot. */
export function startTelegramService(opts: TelegramServiceOptions): Promise<TelegramService> {
  return startBotService({ limits: opts.settings.limits, ...opts }, (deps) => runTelegramBot(opts.settings, deps), log);
}

/**
 * Runs the Telegram bot until SIGINT or SIGTERM (or until polling fails for good), then shuts down
 * cleanly. What the CLI command calls.
 */
export async function serveTelegram(opts: TelegramServiceOptions): Promise<void> {
  await serveUntilSignal(await startTelegramService(opts), log);
}
