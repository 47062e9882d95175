import { REST, Routes, type CommandInteraction } from 'discord.js';
import { metrics } from '../../metrics.ts';
import type { MatchJobContext, MatchJobHandler } from '../../queue/matchWorker.ts';
import { DISCORD_API_URL } from './client.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import type { DiscordJob } from './jobs.ts';
import { answer as answerPhoto } from './photoRequest.ts';
import { answer as answerVideo } from './videoRequest.ts';
import { answerMorph } from './commands/morph.ts';
import { tFor } from './language.ts';

// A worker answering Discord requests: the front end deferred the reply, and the worker finishes the
// interaction through its webhook (the interaction token; no gateway, no bot token), with the same code
// as the bot in one process. What that code uses of an interaction is given by RemoteInteraction below.
// The answer (the picture, a refusal, an apology) goes through the reply ledger; edits of the reply's
// text ("Watching...") are the same edit made again.

export interface DiscordWorkerOptions {
  /** DISCORD_API_URL (default Discord's). */
  apiUrl?: string;
}

export function discordJobHandler(deps: DiscordBotDeps, opts: DiscordWorkerOptions): MatchJobHandler {
  // Interaction webhooks need no authorisation: the token in the path is the credential.
  const rest = new REST({ api: opts.apiUrl ?? DISCORD_API_URL });
  return async (data, ctx) => {
    const job = data as DiscordJob;
    const interaction = new RemoteInteraction(job, rest, ctx) as unknown as CommandInteraction;
    // Texts in the language of the user's Discord client, as the front end would have written them.
    const t = tFor(job);
    if (job.kind === 'photo') {
      const req = { interaction, source: job.source, subject: job.subject, ...(job.face !== undefined ? { face: job.face } : {}), genderOption: job.genderOption ?? null };
      await answerPhoto(req, ctx.admitted, deps, t);
    } else if (job.kind === 'video') {
      await answerVideo(interaction, job.source, job.maxBytes, ctx.admitted, deps, t, { genderOption: job.genderOption ?? null, ...(job.subject ? { subject: job.subject } : {}) });
    } else {
      await answerMorph(interaction, job.source, job.face, ctx.admitted, deps, t);
    }
  };
}

interface ReplyOptions {
  content?: string;
  flags?: number;
  embeds?: ({ toJSON(): unknown } | Record<string, unknown>)[];
  files?: { attachment: Buffer; name: string }[];
  allowedMentions?: { parse?: string[] };
}

/**
 * The part of a deferred CommandInteraction that the answering code uses, over REST: editReply,
 * followUp and deleteReply on the interaction's webhook, and the ids and names the logs and the
 * leaderboard need.
 */
class RemoteInteraction {
  readonly deferred = true;
  readonly replied = false;
  readonly ephemeral = false;
  readonly id: string;
  readonly guildId: string | null;
  readonly channelId: string | null;
  readonly applicationId: string;
  readonly locale: string;
  readonly guildLocale: string | null;
  readonly user: DiscordJob['user'];
  /** Not a GuildMember: displayNameOf() then reads the nickname given here. */
  readonly member: { nick: string };

  constructor(
    private readonly job: DiscordJob,
    private readonly rest: REST,
    private readonly ctx: MatchJobContext,
  ) {
    this.id = job.interactionId;
    this.guildId = job.guildId;
    this.channelId = job.channelId;
    this.applicationId = job.applicationId;
    this.locale = job.locale;
    this.guildLocale = job.guildLocale;
    this.user = job.user;
    this.member = { nick: job.displayName };
  }

  inGuild(): boolean {
    return this.guildId !== null;
  }

  async editReply(options: ReplyOptions | string): Promise<void> {
    const opts = typeof options === 'string' ? { content: options } : options;
    const edit = () => this.rest.patch(Routes.webhookMessage(this.job.applicationId, this.job.token, '@original'), { ...payload(opts), auth: false });
    // A text edit is the same edit made again; the answer itself (a picture, an embed) is sent once.
    if (!opts.embeds && !opts.files) await edit();
    else await this.answer(edit);
  }

  async followUp(options: ReplyOptions | string): Promise<void> {
    const opts = typeof options === 'string' ? { content: options } : options;
    await this.answer(() => this.rest.post(Routes.webhook(this.job.applicationId, this.job.token), { ...payload(opts), auth: false }));
  }

  async deleteReply(): Promise<void> {
    await this.rest.delete(Routes.webhookMessage(this.job.applicationId, this.job.token, '@original'), { auth: false });
  }

  async reply(): Promise<void> {
    throw new Error('a queued interaction was deferred by its front end; it is answered with editReply or followUp');
  }

  private async answer(send: () => Promise<unknown>): Promise<void> {
    const t = performance.now();
    await this.ctx.sendOnce(send);
    metrics.stage(PLATFORM, 'reply', (performance.now() - t) / 1000);
  }
}

/** A message body as Discord takes it: JSON, with uploads as files[n] named in `attachments`. */
function payload(opts: ReplyOptions): { body: Record<string, unknown>; files?: { name: string; data: Buffer }[] } {
  const body: Record<string, unknown> = {};
  if (opts.content !== undefined) body.content = opts.content;
  if (opts.flags !== undefined) body.flags = opts.flags;
  if (opts.allowedMentions) body.allowed_mentions = opts.allowedMentions;
  if (opts.embeds) body.embeds = opts.embeds.map((e) => (typeof e.toJSON === 'function' ? (e.toJSON as () => unknown)() : e));
  if (!opts.files) return { body };
  body.attachments = opts.files.map((f, i) => ({ id: i, filename: f.name }));
  return { body, files: opts.files.map((f) => ({ name: f.name, data: f.attachment })) };
}
