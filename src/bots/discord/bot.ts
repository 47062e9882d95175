import { Events, type Client, type CommandInteraction, type Interaction } from 'discord.js';
import type { LookalikeEngine } from '../../core/engineTypes.ts';
import type { Store } from '../../db/types.ts';
import { logger, type Logger } from '../../log.ts';
import { BackgroundJobs } from '../shared/backgroundJobs.ts';
import { RequestLimits, type LimitsOptions } from '../shared/limits.ts';
import { reportInternalError } from '../shared/replies.ts';
import { LocalRouter, type RequestRouter } from '../shared/router.ts';
import { messageCommands, slashCommands, type Command } from './commands/index.ts';
import { DISCORD_FILE_LIMIT_BYTES, type DiscordBotDeps } from './deps.ts';
import { refuse } from './respond.ts';
import { tFor } from './language.ts';
import { discordReplyText } from './texts.ts';

// The one place where the Discord bot is put together: interactions in, the matching command's
// execute() called, anything it throws answered with an apology and an error id.

export interface DiscordBotOptions {
  engine: LookalikeEngine;
  store: Store;
  /** Ready-made limits (shared with another bot in the same process) or options for new ones. */
  limits?: RequestLimits | Partial<LimitsOptions>;
  /** Where admitted requests run; default: in this process, under `limits`. */
  router?: RequestRouter;
  maxFileBytes?: number;
  runnersUp?: number;
  log?: Logger;
}

export interface DiscordBot {
  readonly client: Client;
  readonly deps: DiscordBotDeps;
  /** From now on new interactions are turned away ("restarting"); running ones carry on. */
  stopAccepting(): void;
  /** Resolves once every accepted photo has been answered. */
  drain(): Promise<void>;
}

/** What the commands use, for a bot or for a worker answering the bot's requests (worker.ts). */
export function discordBotDeps(opts: DiscordBotOptions): DiscordBotDeps {
  const log = opts.log ?? logger('discord');
  const limits = opts.limits instanceof RequestLimits ? opts.limits : new RequestLimits(opts.limits);
  return {
    engine: opts.engine,
    store: opts.store,
    limits,
    router: opts.router ?? new LocalRouter(limits, log),
    jobs: new BackgroundJobs(),
    maxFileBytes: opts.maxFileBytes ?? DISCORD_FILE_LIMIT_BYTES,
    runnersUp: opts.runnersUp ?? 3,
    log,
  };
}

export function attachDiscordBot(client: Client, opts: DiscordBotOptions): DiscordBot {
  const deps = discordBotDeps(opts);
  const log = deps.log;
  const slash = new Map(slashCommands.map((c) => [c.data.name, c]));
  const message = new Map(messageCommands.map((c) => [c.data.name, c]));
  let accepting = true;

  const handle = async (interaction: Interaction): Promise<void> => {
    if (!interaction.isChatInputCommand() && !interaction.isMessageContextMenuCommand()) return;
    const context = { interactionId: interaction.id, command: interaction.commandName, guildId: interaction.guildId, userId: interaction.user.id };
    try {
      if (!accepting) return await refuse(interaction, discordReplyText(tFor(interaction), 'restarting'));
      // Each map holds its own interaction type; the lookup keeps the pair together.
      const command = (interaction.isChatInputCommand() ? slash.get(interaction.commandName) : message.get(interaction.commandName)) as
        | Command<CommandInteraction>
        | undefined;
      if (!command) {
        log.warn(context, 'interaction for a command this bot does not have (stale registration?)');
        return await refuse(interaction, discordReplyText(tFor(interaction), 'unknown_command'));
      }
      await command.execute(interaction, deps);
    } catch (err) {
      const text = reportInternalError(log, err, context, tFor(interaction));
      await refuse(interaction, text).catch((sendErr: unknown) => log.warn({ ...context, err: sendErr }, 'could not send the error reply'));
    }
  };

  client.on(Events.InteractionCreate, (interaction) => void handle(interaction));
  client.on(Events.Error, (err) => log.error({ err }, 'discord client error'));
  client.on(Events.Warn, (message) => log.warn({ message }, 'discord client warning'));

  return {
    client,
    deps,
    stopAccepting: () => {
      accepting = false;
    },
    drain: () => deps.jobs.drain(),
  };
}
