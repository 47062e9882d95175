import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ChannelType,
  GatewayCloseCodes,
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  MessageType,
  type APIApplicationCommand,
  type APIApplicationCommandInteractionDataOption,
  type APIApplicationCommandOption,
  type APIAttachment,
  type APIEmbed,
  type APIGuildMember,
  type APIGuildTextChannel,
  type APIInteraction,
  type APIInteractionDataResolved,
  type APIMessage,
  type APIUser,
  type ChannelFlags,
  EmbedType,
  type GuildMemberFlags,
  type UserFlags,
} from 'discord.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { sharp } from '../../src/core/runtime/sharp.ts';

// Discord on loopback for tests: the gateway (WebSocket, API v10, JSON encoding: hello, identify,
// ready, guild create, interaction create, heartbeat acks, close codes) and the REST routes a bot
// calls (gateway discovery, users/@me, application command registration, interaction callbacks,
// interaction webhooks with multipart file uploads), plus a CDN serving attachments and avatars.
// Payloads follow discord-api-types (re-exported by discord.js, which is typed against them). The test side
// plays the users: it creates guilds, members and messages, invokes registered commands, and waits
// for what the bot answers (every REST call is recorded; uploaded files keep their bytes).
//
// Deliberate simplifications: one application with one bot user; no permissions model (every member
// may use every command); no zlib or ETF encodings; a resume is always refused (op 9), so a client
// that reconnects identifies again; no per-route rate limits unless a test injects a 429.

const API_VERSION = 10;
const DISCORD_EPOCH = 1_420_070_400_000n;
/** Discord's upload and attachment limit for an unboosted guild, as the issue states it. */
export const ATTACHMENT_LIMIT_BYTES = 25 * 1024 * 1024;
const PRIVILEGED_INTENTS = GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;
const ALL_INTENTS = Object.values(GatewayIntentBits)
  .filter((v): v is number => typeof v === 'number')
  .reduce((a, b) => a | b, 0);
const ALLOWED_MESSAGE_FLAGS = MessageFlags.SuppressEmbeds | MessageFlags.Ephemeral | MessageFlags.SuppressNotifications | MessageFlags.IsComponentsV2;
// Everything but Administrator: what a bot added with a generous invite gets.
const MEMBER_PERMISSIONS = '2248473465835073';
// In a user-installed app's DM: send messages, embed links, attach files, use external emojis.
const DM_PERMISSIONS = '2147633152';

export interface FileSpec {
  bytes: Buffer;
  filename: string;
  /** What the uploader's client declared; Discord does not check it against the bytes. */
  contentType?: string;
}

export interface EmulatedGuild {
  id: string;
  name: string;
  ownerId: string;
  channels: APIGuildTextChannel<ChannelType.GuildText>[];
  /** By user id. */
  members: Map<string, { nick: string | null; avatar: string | null; joinedAt: string }>;
}

/** A file the bot uploaded, with its bytes. */
export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

/** One REST call the bot made, as the emulator answered it. */
export interface RestCall {
  seq: number;
  method: string;
  /** Path after /api/v10, without the query. */
  route: string;
  query: URLSearchParams;
  body: unknown;
  files: UploadedFile[];
  status: number;
  response: unknown;
  interactionId?: string;
}

export type AnswerVia = 'reply' | 'edit' | 'followup';

/** What the user sees of a bot's message about an interaction. */
export interface Answer {
  via: AnswerVia;
  ephemeral: boolean;
  content: string;
  embeds: APIEmbed[];
  files: UploadedFile[];
  message: APIMessage;
  seq: number;
}

export interface InteractionState {
  id: string;
  token: string;
  payload: APIInteraction;
  createdAt: number;
  acknowledged: null | 'deferred' | 'replied';
  /** The original response; null before it exists, 'deleted' once the bot deleted it. */
  original: APIMessage | null | 'deleted';
  answers: Answer[];
  followups: APIMessage[];
}

/**
 * A link in a message that Discord unfurls into an embed: an image link (type 'image', the picture as
 * the embed's thumbnail) or an animated GIF link (type 'gifv', Discord's MP4 of it as the video). The
 * file is served from the emulator's media proxy (proxy_url); the link's own url is never served.
 */
export interface LinkEmbedSpec {
  type: 'image' | 'gifv';
  url: string;
  file: FileSpec;
}

/** Who invokes a command where: a locale other than en-US, or a DM with the bot of a user who installed the app. */
export interface InvokeOptions {
  locale?: string;
  /** In the user's DM with the bot (context 1, user-installed), not in the guild's channel. */
  dm?: boolean;
}

export interface PostedInteraction {
  id: string;
  token: string;
  payload: APIInteraction;
}

export interface InjectedError {
  method?: string;
  /** Matched against the route (path after /api/v10). */
  route: RegExp;
  status: number;
  /** For 429: seconds to wait (Retry-After header and retry_after in the body). */
  retryAfterSec?: number;
  /** How many matching calls fail (default 1). */
  times?: number;
}

export interface EmulatorOptions {
  token?: string;
  botName?: string;
  /** The shard count /gateway/bot recommends (default 1). */
  recommendedShards?: number;
  /** Discord's three seconds to acknowledge an interaction; later callbacks get "Unknown interaction". */
  interactionAckMs?: number;
  /** Privileged intents the application is approved for (default none). */
  approvedPrivilegedIntents?: number;
  /** HELLO's heartbeat_interval (Discord sends about 41 s). */
  heartbeatIntervalMs?: number;
}

export interface OptionInput {
  /** For ATTACHMENT options. */
  file?: FileSpec;
  /** For USER options. */
  user?: APIUser;
  value?: string | number | boolean;
}

class RestError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message));
  }
}

const notFound = (what: string, code: number) => new RestError(404, { message: `Unknown ${what}`, code });
const invalidForm = (errors: Record<string, unknown>) => new RestError(400, { message: 'Invalid Form Body', code: 50035, errors });
const fieldError = (code: string, message: string) => ({ _errors: [{ code, message }] });

interface GatewaySession {
  ws: WebSocket;
  identified: boolean;
  sessionId: string;
  shard: [number, number];
  intents: number;
  seq: number;
  heartbeats: number;
}

interface StoredFile {
  bytes: Buffer;
  contentType: string;
}

export class DiscordEmulator {
  readonly token: string;
  readonly botUser: APIUser;
  readonly applicationId: string;
  readonly calls: RestCall[] = [];
  /** Every IDENTIFY the gateway received (token removed). */
  readonly identifies: { shard: [number, number]; intents: number; properties: unknown }[] = [];
  readonly globalCommands: APIApplicationCommand[] = [];
  readonly guildCommands = new Map<string, APIApplicationCommand[]>();
  readonly guilds = new Map<string, EmulatedGuild>();
  readonly users = new Map<string, APIUser>();
  readonly interactions = new Map<string, InteractionState>();
  /** Discord's three seconds; a test may shorten it to see how the bot copes with expired interactions. */
  interactionAckMs: number;

  private readonly opts: Required<Omit<EmulatorOptions, 'token' | 'botName' | 'interactionAckMs'>>;
  private server!: Server;
  private wss!: WebSocketServer;
  private port = 0;
  private readonly sessions = new Set<GatewaySession>();
  private readonly cdn = new Map<string, StoredFile>();
  private readonly avatars = new Map<string, Buffer>();
  private readonly messages = new Map<string, APIMessage>();
  private readonly dmChannels = new Map<string, string>();
  private readonly byToken = new Map<string, string>();
  private readonly waiters = new Set<() => void>();
  private readonly injected: (InjectedError & { left: number })[] = [];
  private readonly signingKey = randomBytes(16);
  private increment = 0;
  private seq = 0;

  private constructor(opts: EmulatorOptions) {
    this.interactionAckMs = opts.interactionAckMs ?? 3000;
    this.opts = {
      recommendedShards: opts.recommendedShards ?? 1,
      approvedPrivilegedIntents: opts.approvedPrivilegedIntents ?? 0,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 41_250,
    };
    this.applicationId = this.snowflake();
    // Bot tokens are base64(user id).timestamp.hmac.
    this.token = opts.token ?? `${Buffer.from(this.applicationId).toString('base64url')}.${randomBytes(4).toString('base64url')}.${randomBytes(20).toString('base64url')}`;
    this.botUser = {
      id: this.applicationId,
      username: opts.botName ?? 'Lookalike',
      discriminator: '0',
      global_name: null,
      avatar: null,
      bot: true,
      flags: 0 as UserFlags,
      public_flags: 0 as UserFlags,
    };
    this.users.set(this.botUser.id, this.botUser);
  }

  static async start(opts: EmulatorOptions = {}): Promise<DiscordEmulator> {
    const emu = new DiscordEmulator(opts);
    emu.server = createServer((req, res) => void emu.handleHttp(req, res));
    emu.wss = new WebSocketServer({ noServer: true });
    emu.server.on('upgrade', (req, socket, head) => emu.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      emu.server.once('error', reject);
      emu.server.listen(0, '127.0.0.1', () => resolve());
    });
    emu.port = (emu.server.address() as AddressInfo).port;
    return emu;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What a bot takes as its API base (discord.js's rest.api; Discord's is https://discord.com/api). */
  get apiUrl(): string {
    return `${this.baseUrl}/api`;
  }

  /** The CDN base (Discord's is https://cdn.discordapp.com). */
  get cdnUrl(): string {
    return this.baseUrl;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- the test side: world building

  snowflake(atMs = Date.now()): string {
    const ts = BigInt(atMs) - DISCORD_EPOCH;
    return String((ts << 22n) | (1n << 17n) | BigInt(this.increment++ & 0xfff));
  }

  async createUser(opts: { username: string; globalName?: string; avatar?: Buffer }): Promise<APIUser> {
    const user: APIUser = {
      id: this.snowflake(),
      username: opts.username.toLowerCase(),
      discriminator: '0',
      global_name: opts.globalName ?? null,
      avatar: opts.avatar ? await this.storeAvatar(opts.avatar) : null,
      flags: 0 as UserFlags,
      public_flags: 0 as UserFlags,
    };
    this.users.set(user.id, user);
    return user;
  }

  /**
   * A guild with one text channel and the bot in it. shard: [id, count] picks an id that lands on that
   * shard ((guild_id >> 22) % count). Connected shards get GUILD_CREATE, as when a bot is invited.
   */
  createGuild(name: string, opts: { owner?: APIUser; shard?: [number, number] } = {}): EmulatedGuild {
    let at = Date.now();
    let id = this.snowflake(at);
    if (opts.shard) {
      const [shardId, count] = opts.shard;
      while (Number((BigInt(id) >> 22n) % BigInt(count)) !== shardId) id = this.snowflake(++at);
    }
    const channel: APIGuildTextChannel<ChannelType.GuildText> = {
      id: this.snowflake(),
      type: ChannelType.GuildText,
      guild_id: id,
      name: 'general',
      position: 0,
      permission_overwrites: [],
      nsfw: false,
      parent_id: null,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0 as ChannelFlags,
    };
    const guild: EmulatedGuild = { id, name, ownerId: opts.owner?.id ?? this.botUser.id, channels: [channel], members: new Map() };
    this.guilds.set(id, guild);
    guild.members.set(this.botUser.id, { nick: null, avatar: null, joinedAt: new Date().toISOString() });
    if (opts.owner) this.addMember(guild, opts.owner);
    for (const s of this.sessions) {
      if (s.identified && this.shardOf(id, s.shard[1]) === s.shard[0]) this.dispatch(s, GatewayDispatchEvents.GuildCreate, this.guildPayload(guild));
    }
    return guild;
  }

  /** No GUILD_MEMBER_ADD is sent: a bot without the privileged members intent does not get it. */
  async addMember(guild: EmulatedGuild, user: APIUser, opts: { nick?: string; avatar?: Buffer } = {}): Promise<void> {
    guild.members.set(user.id, {
      nick: opts.nick ?? null,
      avatar: opts.avatar ? await this.storeAvatar(opts.avatar, `/guilds/${guild.id}/users/${user.id}/avatars`) : null,
      joinedAt: new Date().toISOString(),
    });
  }

  /** A message in a guild channel, as another user posts it. The bot hears nothing: it has no message intents. */
  async postMessage(guild: EmulatedGuild, author: APIUser, opts: { content?: string; files?: FileSpec[]; embeds?: LinkEmbedSpec[] } = {}): Promise<APIMessage> {
    const channel = guild.channels[0]!;
    const attachments: APIAttachment[] = [];
    for (const file of opts.files ?? []) attachments.push(await this.storeAttachment(`/attachments/${channel.id}`, file));
    const embeds: APIEmbed[] = [];
    for (const link of opts.embeds ?? []) embeds.push(await this.linkEmbed(link));
    const message: APIMessage = {
      id: this.snowflake(),
      channel_id: channel.id,
      author,
      content: opts.content ?? '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments,
      embeds,
      pinned: false,
      type: MessageType.Default,
      flags: 0 as MessageFlags,
      components: [],
    };
    this.messages.set(message.id, message);
    return message;
  }

  /** Invokes a registered chat-input command. Options are checked against the command's definition. */
  async slashCommand(guild: EmulatedGuild, user: APIUser, name: string, options: Record<string, OptionInput> = {}, invoke: InvokeOptions = {}): Promise<PostedInteraction> {
    const command = this.findCommand(guild.id, name, ApplicationCommandType.ChatInput, invoke);
    const resolved: APIInteractionDataResolved = {};
    const given: APIApplicationCommandInteractionDataOption[] = [];
    const defined = (command.options ?? []) as APIApplicationCommandOption[];
    for (const [optName, input] of Object.entries(options)) {
      const def = defined.find((o) => o.name === optName);
      if (!def) throw new Error(`/${name} has no option "${optName}"`);
      given.push(await this.optionValue(guild, def, input, resolved));
    }
    for (const def of defined) {
      if ('required' in def && def.required && !(def.name in options)) throw new Error(`/${name} needs option "${def.name}"`);
    }
    const data = {
      id: command.id,
      name: command.name,
      type: ApplicationCommandType.ChatInput,
      ...(command.guild_id ? { guild_id: command.guild_id } : {}),
      ...(given.length > 0 ? { options: given } : {}),
      ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
    };
    return this.postInteraction(guild, user, data, invoke);
  }

  /** Invokes a registered message context-menu command on a message. */
  async messageCommand(guild: EmulatedGuild, user: APIUser, name: string, target: APIMessage, invoke: InvokeOptions = {}): Promise<PostedInteraction> {
    const command = this.findCommand(guild.id, name, ApplicationCommandType.Message, invoke);
    const data = {
      id: command.id,
      name: command.name,
      type: ApplicationCommandType.Message,
      ...(command.guild_id ? { guild_id: command.guild_id } : {}),
      target_id: target.id,
      resolved: { messages: { [target.id]: target } },
    };
    return this.postInteraction(guild, user, data, invoke);
  }

  // ------------------------------------------------------------------ the test side: observing

  /** Resolves when the predicate holds (checked after every change); rejects after the timeout. */
  waitFor<T>(check: () => T | undefined | false, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise<T>((resolve, reject) => {
      const test = () => {
        const value = check();
        if (value === undefined || value === false) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => void test();
      if (!test()) this.waiters.add(waiter);
    });
  }

  /** The first message the user sees about the interaction (a reply, the edited deferral, or a follow-up). */
  answerTo(ix: PostedInteraction, timeoutMs = 30_000): Promise<Answer> {
    return this.waitFor(() => this.interactions.get(ix.id)?.answers[0], { timeoutMs, what: `an answer to interaction ${ix.id}` });
  }

  /** Resolves once shards connections have identified and received READY (and their guilds). */
  waitForReady(shards = 1, timeoutMs = 60_000): Promise<void> {
    return this.waitFor(() => [...this.sessions].filter((s) => s.identified).length >= shards || undefined, { timeoutMs, what: `${shards} ready shard(s)` }).then(
      () => undefined,
    );
  }

  /** Connected and identified gateway sessions. */
  get connectedShards(): { shard: [number, number]; intents: number; heartbeats: number }[] {
    return [...this.sessions].filter((s) => s.identified).map((s) => ({ shard: s.shard, intents: s.intents, heartbeats: s.heartbeats }));
  }

  /** Makes the next matching REST call(s) fail with the given status (429 carries retry_after). */
  injectError(error: InjectedError): void {
    this.injected.push({ ...error, left: error.times ?? 1 });
  }

  /** The bytes of an uploaded or served CDN file by its URL. */
  cdnFile(url: string): Buffer | undefined {
    return this.cdn.get(new URL(url).pathname)?.bytes;
  }

  // ------------------------------------------------------------------------- internals: world

  private shardOf(guildId: string, count: number): number {
    return Number((BigInt(guildId) >> 22n) % BigInt(count));
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private async storeAvatar(bytes: Buffer, base?: string): Promise<string> {
    const hash = createHash('md5').update(bytes).digest('hex');
    this.avatars.set(`${base ?? ''}:${hash}`, bytes);
    this.avatars.set(hash, bytes);
    return hash;
  }

  private sign(path: string): string {
    const ex = Math.floor(Date.now() / 1000 + 86_400).toString(16);
    const is = Math.floor(Date.now() / 1000).toString(16);
    const hm = createHmac('sha256', this.signingKey).update(`${path}|${ex}|${is}`).digest('hex');
    return `${path}?ex=${ex}&is=${is}&hm=${hm}&`;
  }

  private signatureOk(path: string, query: URLSearchParams): boolean {
    const [ex, is, hm] = [query.get('ex'), query.get('is'), query.get('hm')];
    if (!ex || !is || !hm) return false;
    const expected = createHmac('sha256', this.signingKey).update(`${path}|${ex}|${is}`).digest('hex');
    return expected === hm && parseInt(ex, 16) * 1000 > Date.now();
  }

  private async storeAttachment(base: string, file: FileSpec, opts: { ephemeral?: boolean } = {}): Promise<APIAttachment> {
    const id = this.snowflake();
    const path = `${base}/${id}/${encodeURIComponent(file.filename)}`;
    const contentType = file.contentType ?? 'application/octet-stream';
    this.cdn.set(path, { bytes: file.bytes, contentType });
    const attachment: APIAttachment = {
      id,
      filename: file.filename,
      size: file.bytes.length,
      url: `${this.baseUrl}${this.sign(path)}`,
      proxy_url: `${this.baseUrl}${this.sign(path)}`,
      ...(file.contentType ? { content_type: file.contentType } : {}),
      ...(opts.ephemeral ? { ephemeral: true } : {}),
    };
    // Discord reports dimensions for the images it can read.
    if (contentType.startsWith('image/')) {
      const meta = await sharp(file.bytes)
        .metadata()
        .catch(() => null);
      if (meta?.width && meta.height) Object.assign(attachment, { width: meta.width, height: meta.height, placeholder_version: 1 });
    }
    return attachment;
  }

  private findCommand(guildId: string, name: string, type: ApplicationCommandType, invoke: InvokeOptions = {}): APIApplicationCommand {
    // In a DM only global commands exist, and only those whose contexts include BotDM (1) for a user install (1).
    const command =
      (invoke.dm ? [] : (this.guildCommands.get(guildId) ?? [])).find((c) => c.name === name && c.type === type) ??
      this.globalCommands.find((c) => c.name === name && c.type === type);
    if (!command) throw new Error(`no ${ApplicationCommandType[type]} command "${name}" is registered for ${invoke.dm ? 'DMs' : `guild ${guildId}`}`);
    if (invoke.dm && !(command.contexts?.includes(1) && command.integration_types?.includes(1))) {
      throw new Error(`"${name}" is not offered in DMs of a user install (contexts ${JSON.stringify(command.contexts)}, integration_types ${JSON.stringify(command.integration_types)})`);
    }
    return command;
  }

  /** The id of a user's DM channel with the bot (one per user, made on first use). */
  private dmChannelOf(user: APIUser): string {
    let id = this.dmChannels.get(user.id);
    if (!id) this.dmChannels.set(user.id, (id = this.snowflake()));
    return id;
  }

  private async linkEmbed(link: LinkEmbedSpec): Promise<APIEmbed> {
    const id = this.snowflake();
    const path = `/external/${id}/${encodeURIComponent(link.file.filename)}`;
    this.cdn.set(path, { bytes: link.file.bytes, contentType: link.file.contentType ?? 'application/octet-stream' });
    const proxied = `${this.baseUrl}${this.sign(path)}`;
    if (link.type === 'image') {
      const meta = await sharp(link.file.bytes).metadata();
      return { type: EmbedType.Image, url: link.url, thumbnail: { url: link.url, proxy_url: proxied, width: meta.width, height: meta.height } };
    }
    return { type: EmbedType.GIFV, url: link.url, provider: { name: 'Tenor', url: 'https://tenor.com' }, video: { url: link.url, proxy_url: proxied, width: 480, height: 270 } };
  }

  private memberPayload(guild: EmulatedGuild, userId: string): Omit<APIGuildMember, 'user'> & { permissions: string } {
    const m = guild.members.get(userId);
    if (!m) throw new Error(`user ${userId} is not a member of ${guild.name}`);
    return {
      avatar: m.avatar,
      banner: null,
      communication_disabled_until: null,
      deaf: false,
      mute: false,
      flags: 0 as GuildMemberFlags,
      joined_at: m.joinedAt,
      nick: m.nick,
      pending: false,
      premium_since: null,
      roles: [],
      permissions: MEMBER_PERMISSIONS,
    };
  }

  private async optionValue(
    guild: EmulatedGuild,
    def: APIApplicationCommandOption,
    input: OptionInput,
    resolved: APIInteractionDataResolved,
  ): Promise<APIApplicationCommandInteractionDataOption> {
    switch (def.type) {
      case ApplicationCommandOptionType.Attachment: {
        if (!input.file) throw new Error(`option ${def.name} takes a file`);
        // Files given to a command live at an ephemeral URL until a message uses them.
        const attachment = await this.storeAttachment(`/ephemeral-attachments/${this.applicationId}`, input.file, { ephemeral: true });
        (resolved.attachments ??= {})[attachment.id] = attachment;
        return { name: def.name, type: def.type, value: attachment.id };
      }
      case ApplicationCommandOptionType.User: {
        const user = input.user;
        if (!user) throw new Error(`option ${def.name} takes a user`);
        (resolved.users ??= {})[user.id] = user;
        if (guild.members.has(user.id)) {
          const { deaf: _d, mute: _m, ...member } = this.memberPayload(guild, user.id);
          (resolved.members ??= {})[user.id] = member;
        }
        return { name: def.name, type: def.type, value: user.id };
      }
      case ApplicationCommandOptionType.String:
        return { name: def.name, type: def.type, value: String(input.value) };
      case ApplicationCommandOptionType.Integer:
      case ApplicationCommandOptionType.Number:
        return { name: def.name, type: def.type, value: Number(input.value) };
      case ApplicationCommandOptionType.Boolean:
        return { name: def.name, type: def.type, value: Boolean(input.value) };
      default:
        throw new Error(`option type ${def.type} is not emulated`);
    }
  }

  private async postInteraction(guild: EmulatedGuild, user: APIUser, data: object, invoke: InvokeOptions = {}): Promise<PostedInteraction> {
    // DMs reach shard 0, as Discord sends every DM event there.
    const session = [...this.sessions].find((s) => s.identified && (invoke.dm ? s.shard[0] === 0 : this.shardOf(guild.id, s.shard[1]) === s.shard[0]));
    if (!session) throw new Error(`no gateway connection serves guild ${guild.name}`);
    const channel = guild.channels[0]!;
    const id = this.snowflake();
    // Like Discord's: base64 of "interaction:<id>:<secret>".
    const token = Buffer.from(`interaction:${id}:${randomBytes(48).toString('base64url')}`).toString('base64url');
    const locale = invoke.locale ?? 'en-US';
    const dmPayload = invoke.dm
      ? ({
          id,
          application_id: this.applicationId,
          type: InteractionType.ApplicationCommand,
          data,
          channel: { id: this.dmChannelOf(user), type: ChannelType.DM, recipients: [user], last_message_id: null, flags: 0 },
          channel_id: this.dmChannelOf(user),
          user,
          token,
          version: 1,
          app_permissions: DM_PERMISSIONS,
          locale,
          entitlements: [],
          authorizing_integration_owners: { '1': user.id },
          context: 1,
          attachment_size_limit: ATTACHMENT_LIMIT_BYTES,
        } as unknown as APIInteraction)
      : undefined;
    const inGuild = (): APIInteraction => ({
      id,
      application_id: this.applicationId,
      type: InteractionType.ApplicationCommand,
      data,
      guild: { id: guild.id, locale: 'en-US', features: [] },
      guild_id: guild.id,
      channel: { ...channel, permissions: MEMBER_PERMISSIONS },
      channel_id: channel.id,
      member: { ...this.memberPayload(guild, user.id), user },
      token,
      version: 1,
      app_permissions: MEMBER_PERMISSIONS,
      locale,
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': guild.id },
      context: 0,
      attachment_size_limit: ATTACHMENT_LIMIT_BYTES,
    }) as unknown as APIInteraction;
    const payload = dmPayload ?? inGuild();
    this.interactions.set(id, { id, token, payload, createdAt: Date.now(), acknowledged: null, original: null, answers: [], followups: [] });
    this.byToken.set(token, id);
    this.dispatch(session, GatewayDispatchEvents.InteractionCreate, payload);
    return { id, token, payload };
  }

  // ----------------------------------------------------------------------- internals: gateway

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.openSession(ws, new URL(req.url ?? '/', this.baseUrl).searchParams));
  }

  private openSession(ws: WebSocket, query: URLSearchParams): void {
    const session: GatewaySession = { ws, identified: false, sessionId: randomBytes(16).toString('hex'), shard: [0, 1], intents: 0, seq: 0, heartbeats: 0 };
    if (query.get('v') !== String(API_VERSION)) return ws.close(GatewayCloseCodes.InvalidAPIVersion, 'Invalid API version');
    if ((query.get('encoding') ?? 'json') !== 'json' || query.has('compress')) return ws.close(GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    this.sessions.add(session);
    ws.on('close', () => {
      this.sessions.delete(session);
      this.notify();
    });
    ws.on('message', (raw, isBinary) => this.onGatewayMessage(session, raw as Buffer, isBinary));
    this.send(session, { op: GatewayOpcodes.Hello, d: { heartbeat_interval: this.opts.heartbeatIntervalMs, _trace: ['["emulator",{}]'] } });
  }

  private send(session: GatewaySession, payload: { op: number; d: unknown; s?: number | null; t?: string | null }): void {
    if (session.ws.readyState !== session.ws.OPEN) return;
    session.ws.send(JSON.stringify({ s: null, t: null, ...payload }));
  }

  private dispatch(session: GatewaySession, event: GatewayDispatchEvents, d: unknown): void {
    this.send(session, { op: GatewayOpcodes.Dispatch, t: event, s: ++session.seq, d });
  }

  private onGatewayMessage(session: GatewaySession, raw: Buffer, isBinary: boolean): void {
    let payload: { op?: number; d?: unknown };
    try {
      if (isBinary) throw new Error('binary frames need compression or ETF');
      payload = JSON.parse(raw.toString('utf8')) as { op?: number; d?: unknown };
    } catch {
      return session.ws.close(GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    }
    switch (payload.op) {
      case GatewayOpcodes.Heartbeat:
        session.heartbeats++;
        this.send(session, { op: GatewayOpcodes.HeartbeatAck, d: null });
        this.notify();
        return;
      case GatewayOpcodes.Identify:
        return this.identify(session, payload.d as Record<string, unknown>);
      case GatewayOpcodes.Resume:
        // Sessions are not kept: the client must identify afresh.
        return this.send(session, { op: GatewayOpcodes.InvalidSession, d: false });
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.VoiceStateUpdate:
      case GatewayOpcodes.RequestGuildMembers:
        if (!session.identified) return session.ws.close(GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
        return;
      default:
        return session.ws.close(GatewayCloseCodes.UnknownOpcode, 'Unknown opcode.');
    }
  }

  private identify(session: GatewaySession, d: Record<string, unknown>): void {
    if (session.identified) return session.ws.close(GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
    if (d.token !== this.token) return session.ws.close(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
    const intents = Number(d.intents);
    if (!Number.isInteger(intents) || (intents & ~ALL_INTENTS) !== 0) return session.ws.close(GatewayCloseCodes.InvalidIntents, 'Invalid intent(s).');
    if ((intents & PRIVILEGED_INTENTS & ~this.opts.approvedPrivilegedIntents) !== 0) {
      return session.ws.close(GatewayCloseCodes.DisallowedIntents, 'Disallowed intent(s).');
    }
    const shard = (d.shard as [number, number] | undefined) ?? [0, 1];
    if (!Array.isArray(shard) || !(shard[1] >= 1) || !(shard[0] >= 0 && shard[0] < shard[1])) return session.ws.close(GatewayCloseCodes.InvalidShard, 'Invalid shard.');
    const guildCount = [...this.guilds.values()].length;
    if (shard[1] === 1 && guildCount > 2500) return session.ws.close(GatewayCloseCodes.ShardingRequired, 'Sharding required.');
    session.identified = true;
    session.shard = [shard[0], shard[1]];
    session.intents = intents;
    this.identifies.push({ shard: session.shard, intents, properties: d.properties });
    const guilds = [...this.guilds.values()].filter((g) => this.shardOf(g.id, shard[1]) === shard[0]);
    this.dispatch(session, GatewayDispatchEvents.Ready, {
      v: API_VERSION,
      user: this.botUser,
      user_settings: {},
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      guild_join_requests: [],
      presences: [],
      private_channels: [],
      relationships: [],
      geo_ordered_rtc_regions: [],
      session_id: session.sessionId,
      session_type: 'normal',
      resume_gateway_url: this.gatewayUrl,
      shard: session.shard,
      application: { id: this.applicationId, flags: 0 },
      _trace: ['["emulator",{}]'],
    });
    for (const guild of guilds) this.dispatch(session, GatewayDispatchEvents.GuildCreate, this.guildPayload(guild));
    this.notify();
  }

  private guildPayload(guild: EmulatedGuild): Record<string, unknown> {
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      system_channel_id: guild.channels[0]?.id ?? null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      application_id: null,
      features: [],
      roles: [
        {
          id: guild.id,
          name: '@everyone',
          color: 0,
          colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
          hoist: false,
          icon: null,
          unicode_emoji: null,
          position: 0,
          permissions: MEMBER_PERMISSIONS,
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      emojis: [],
      stickers: [],
      // Without the members intent a bot's GUILD_CREATE lists only itself.
      members: [{ ...this.memberPayload(guild, this.botUser.id), user: this.botUser }],
      member_count: guild.members.size,
      channels: guild.channels,
      threads: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      joined_at: guild.members.get(this.botUser.id)!.joinedAt,
      large: false,
      unavailable: false,
      lazy: true,
      max_members: 500_000,
      max_video_channel_users: 25,
      max_stage_video_channel_users: 50,
    };
  }

  // -------------------------------------------------------------------------- internals: HTTP

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    try {
      const body = await readBody(req);
      if (url.pathname.startsWith(`/api/v${API_VERSION}/`)) return await this.handleApi(req, res, url, body);
      if (url.pathname.startsWith('/api/')) throw new RestError(400, { message: 'Invalid API version', code: 50041 });
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new RestError(405, { message: '405: Method Not Allowed', code: 0 });
      return await this.serveCdn(res, url);
    } catch (err) {
      if (err instanceof RestError) return sendJson(res, err.status, err.body, err.headers);
      sendJson(res, 500, { message: `500: Internal Server Error (${(err as Error).message})`, code: 0 });
    }
  }

  private async serveCdn(res: ServerResponse, url: URL): Promise<void> {
    const path = decodeURIComponent(url.pathname);
    const stored = this.cdn.get(url.pathname) ?? this.cdn.get(path);
    if (stored) {
      if (!this.signatureOk(url.pathname, url.searchParams)) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('This content is no longer available.');
        return;
      }
      res.writeHead(200, { 'content-type': stored.contentType, 'content-length': stored.bytes.length }).end(stored.bytes);
      return;
    }
    // Avatars: /avatars/{user}/{hash}.{png|jpg|webp|gif}, member avatars under /guilds/..., and the
    // default avatars at /embed/avatars/{n}.png. The CDN converts to the extension asked for.
    const avatar = /^\/(?:avatars\/(\d+)|guilds\/(\d+)\/users\/(\d+)\/avatars)\/([0-9a-f_]+)\.(png|jpe?g|webp|gif)$/.exec(url.pathname);
    const fallback = /^\/embed\/avatars\/(\d)\.png$/.exec(url.pathname);
    if (!avatar && !fallback) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const size = Number(url.searchParams.get('size') ?? 128);
    if (![16, 20, 22, 24, 28, 32, 40, 44, 48, 56, 60, 64, 80, 96, 100, 128, 160, 240, 256, 300, 320, 480, 512, 600, 640, 1024, 1280, 1536, 2048, 3072, 4096].includes(size)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid size');
      return;
    }
    let source: Buffer | undefined;
    let format: 'png' | 'jpeg' | 'webp' | 'gif' = 'png';
    if (avatar) {
      source = this.avatars.get(avatar[4]!);
      format = avatar[5] === 'jpg' || avatar[5] === 'jpeg' ? 'jpeg' : (avatar[5] as 'png' | 'webp' | 'gif');
    } else {
      // A flat blurple square: the face-less default avatar.
      source = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 88, g: 101, b: 242 } } })
        .png()
        .toBuffer();
    }
    if (!source) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    // Discord's client crops avatars square before upload; these are whole photos, so nothing is cut off.
    // Like the CDN, never enlarged: asking for 1024 px of a 150 px avatar gets 150 px.
    const bytes = await sharp(source).resize(size, size, { fit: 'inside', withoutEnlargement: true }).toFormat(format).toBuffer();
    res.writeHead(200, { 'content-type': `image/${format}`, 'content-length': bytes.length }).end(bytes);
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const route = decodeURIComponent(url.pathname.slice(`/api/v${API_VERSION}`.length));
    const { body, files } = await parseRequestBody(req, raw);
    const call: RestCall = { seq: ++this.seq, method, route, query: url.searchParams, body, files, status: 0, response: undefined };
    this.calls.push(call);
    const respond = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      call.response = payload;
      if (status === 204) res.writeHead(204, headers).end();
      else sendJson(res, status, payload, headers);
      this.notify();
    };
    try {
      const injected = this.injected.find((e) => e.left > 0 && e.route.test(route) && (!e.method || e.method === method));
      if (injected) {
        injected.left--;
        if (injected.status === 429) {
          const wait = injected.retryAfterSec ?? 1;
          throw new RestError(429, { message: 'You are being rate limited.', retry_after: wait, global: false, code: 0 }, { 'retry-after': String(wait), 'x-ratelimit-scope': 'user' });
        }
        throw new RestError(injected.status, { message: `${injected.status}: injected by the test`, code: 0 });
      }
      const result = await this.route(req, method, route, url.searchParams, body, files, call);
      respond(result.status, result.body);
    } catch (err) {
      if (err instanceof RestError) return respond(err.status, err.body, err.headers);
      respond(500, { message: `500: Internal Server Error (${(err as Error).message})`, code: 0 });
    }
  }

  private requireBotAuth(req: IncomingMessage): void {
    if (req.headers.authorization !== `Bot ${this.token}`) throw new RestError(401, { message: '401: Unauthorized', code: 0 });
  }

  private async route(
    req: IncomingMessage,
    method: string,
    route: string,
    query: URLSearchParams,
    body: unknown,
    files: UploadedFile[],
    call: RestCall,
  ): Promise<{ status: number; body: unknown }> {
    let m: RegExpExecArray | null;
    if (method === 'GET' && route === '/gateway') return { status: 200, body: { url: this.gatewayUrl } };
    if (method === 'GET' && route === '/gateway/bot') {
      this.requireBotAuth(req);
      return {
        status: 200,
        body: {
          url: this.gatewayUrl,
          shards: this.opts.recommendedShards,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
        },
      };
    }
    if (method === 'GET' && route === '/users/@me') {
      this.requireBotAuth(req);
      return { status: 200, body: this.botUser };
    }
    if (method === 'GET' && (route === '/applications/@me' || route === '/oauth2/applications/@me')) {
      this.requireBotAuth(req);
      return { status: 200, body: this.applicationPayload() };
    }
    if ((m = /^\/applications\/(\d+)\/(?:guilds\/(\d+)\/)?commands$/.exec(route))) {
      this.requireBotAuth(req);
      if (m[1] !== this.applicationId) throw new RestError(403, { message: 'Missing Access', code: 50001 });
      const guildId = m[2];
      if (guildId && !this.guilds.has(guildId)) throw new RestError(403, { message: 'Missing Access', code: 50001 });
      if (method === 'GET') return { status: 200, body: guildId ? (this.guildCommands.get(guildId) ?? []) : this.globalCommands };
      if (method === 'PUT') return { status: 200, body: this.overwriteCommands(body, guildId) };
      throw new RestError(405, { message: '405: Method Not Allowed', code: 0 });
    }
    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route))) {
      if (method !== 'POST') throw new RestError(405, { message: '405: Method Not Allowed', code: 0 });
      call.interactionId = m[1];
      return this.interactionCallback(m[1]!, m[2]!, query, body, files);
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|\d+))?$/.exec(route))) {
      const state = this.webhookInteraction(m[1]!, m[2]!);
      call.interactionId = state.id;
      return this.interactionWebhook(state, method, m[3], query, body, files);
    }
    throw new RestError(404, { message: '404: Not Found', code: 0 });
  }

  private applicationPayload(): Record<string, unknown> {
    return {
      id: this.applicationId,
      name: this.botUser.username,
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: randomBytes(32).toString('hex'),
      flags: 0,
      bot: this.botUser,
      owner: this.botUser,
      team: null,
      approximate_guild_count: this.guilds.size,
    };
  }

  // --------------------------------------------------------------- internals: commands

  private overwriteCommands(body: unknown, guildId: string | undefined): APIApplicationCommand[] {
    if (!Array.isArray(body)) throw invalidForm({ _errors: [{ code: 'BASE_TYPE_ARRAY', message: 'Must be an array.' }] });
    const previous = guildId ? (this.guildCommands.get(guildId) ?? []) : this.globalCommands;
    const errors: Record<string, unknown> = {};
    const seen = new Set<string>();
    const commands = body.map((raw: Record<string, unknown>, i) => {
      const type = (raw.type as number | undefined) ?? ApplicationCommandType.ChatInput;
      const problem = commandProblem(raw, type);
      if (problem) errors[i] = problem;
      const key = `${type}:${String(raw.name)}`;
      if (seen.has(key)) errors[i] = { name: fieldError('APPLICATION_COMMANDS_DUPLICATE_NAME', 'Application command names must be unique') };
      seen.add(key);
      // Discord keeps a command's id across overwrites when its name and type stay the same.
      const kept = previous.find((c) => c.name === raw.name && c.type === type);
      return {
        id: kept?.id ?? this.snowflake(),
        application_id: this.applicationId,
        version: this.snowflake(),
        default_member_permissions: (raw.default_member_permissions as string | null | undefined) ?? null,
        type,
        name: String(raw.name),
        name_localizations: (raw.name_localizations as Record<string, string> | null | undefined) ?? null,
        description: String(raw.description ?? ''),
        description_localizations: (raw.description_localizations as Record<string, string> | null | undefined) ?? null,
        ...(guildId ? { guild_id: guildId } : {}),
        dm_permission: (raw.dm_permission as boolean | undefined) ?? true,
        contexts: (raw.contexts as number[] | null | undefined) ?? null,
        integration_types: (raw.integration_types as number[] | undefined) ?? [0],
        nsfw: Boolean(raw.nsfw),
        ...(Array.isArray(raw.options) && raw.options.length > 0 ? { options: raw.options } : {}),
      } as APIApplicationCommand;
    });
    if (Object.keys(errors).length > 0) throw invalidForm(errors);
    const counts = { chat: 0, user: 0, message: 0 };
    for (const c of commands) {
      if (c.type === ApplicationCommandType.ChatInput) counts.chat++;
      if (c.type === ApplicationCommandType.User) counts.user++;
      if (c.type === ApplicationCommandType.Message) counts.message++;
    }
    if (counts.chat > 100 || counts.user > 15 || counts.message > 15) throw new RestError(400, { message: 'Maximum number of application commands reached', code: 30032 });
    if (guildId) this.guildCommands.set(guildId, commands);
    else this.globalCommands.splice(0, this.globalCommands.length, ...commands);
    return commands;
  }

  // ------------------------------------------------------------ internals: interactions

  private interactionCallback(id: string, token: string, query: URLSearchParams, body: unknown, files: UploadedFile[]): { status: number; body: unknown } {
    const state = this.interactions.get(id);
    if (!state || state.token !== token) throw notFound('interaction', 10062);
    if (Date.now() - state.createdAt > this.interactionAckMs) throw notFound('interaction', 10062);
    if (state.acknowledged) throw new RestError(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
    const { type, data } = (body ?? {}) as { type?: number; data?: Record<string, unknown> };
    let message: APIMessage;
    if (type === InteractionResponseType.DeferredChannelMessageWithSource) {
      const flags = Number(data?.flags ?? 0);
      if ((flags & ~MessageFlags.Ephemeral) !== 0) throw invalidForm({ data: { flags: fieldError('INTERACTION_RESPONSE_FLAGS_INVALID', 'Invalid flags') } });
      message = this.responseMessage(state, { flags: flags | MessageFlags.Loading, content: '', embeds: [], attachments: [] });
      state.acknowledged = 'deferred';
      state.original = message;
    } else if (type === InteractionResponseType.ChannelMessageWithSource) {
      const payload = this.messagePayload(data ?? {}, files, [], state);
      message = this.responseMessage(state, payload);
      state.acknowledged = 'replied';
      state.original = message;
      this.addAnswer(state, 'reply', message, files);
    } else {
      // PONG, component updates, modals and the rest are not for slash commands here.
      throw invalidForm({ type: fieldError('INTERACTION_RESPONSE_TYPE_INVALID', 'Interaction response type is invalid for this interaction') });
    }
    if (query.get('with_response') !== 'true') return { status: 204, body: undefined };
    return {
      status: 200,
      body: {
        interaction: {
          id: state.id,
          type: state.payload.type,
          response_message_id: message.id,
          response_message_loading: type === InteractionResponseType.DeferredChannelMessageWithSource,
          response_message_ephemeral: Boolean(message.flags! & MessageFlags.Ephemeral),
        },
        resource: { type, message },
      },
    };
  }

  private webhookInteraction(applicationId: string, token: string): InteractionState {
    const id = this.byToken.get(token);
    const state = id ? this.interactions.get(id) : undefined;
    if (applicationId !== this.applicationId || !state) throw notFound('Webhook', 10015);
    // Until the interaction is acknowledged, its webhook does not exist.
    if (!state.acknowledged) throw notFound('Webhook', 10015);
    return state;
  }

  private interactionWebhook(
    state: InteractionState,
    method: string,
    messageRef: string | undefined,
    query: URLSearchParams,
    body: unknown,
    files: UploadedFile[],
  ): { status: number; body: unknown } {
    if (!messageRef) {
      if (method !== 'POST') throw new RestError(405, { message: '405: Method Not Allowed', code: 0 });
      const payload = this.messagePayload((body ?? {}) as Record<string, unknown>, files, [], state);
      const message = this.responseMessage(state, payload, { followup: true });
      state.followups.push(message);
      this.addAnswer(state, 'followup', message, files);
      return query.get('wait') === 'true' ? { status: 200, body: message } : { status: 204, body: undefined };
    }
    const target = messageRef === '@original' ? state.original : (state.followups.find((f) => f.id === messageRef) ?? null);
    if (!target || target === 'deleted') throw notFound('Message', 10008);
    if (method === 'GET') return { status: 200, body: target };
    if (method === 'DELETE') {
      if (messageRef === '@original') state.original = 'deleted';
      else state.followups = state.followups.filter((f) => f.id !== messageRef);
      return { status: 204, body: undefined };
    }
    if (method !== 'PATCH') throw new RestError(405, { message: '405: Method Not Allowed', code: 0 });
    const edit = (body ?? {}) as Record<string, unknown>;
    const payload = this.messagePayload(
      { content: target.content, embeds: target.embeds, ...edit, flags: (Number(edit.flags ?? 0) & MessageFlags.SuppressEmbeds) | (target.flags! & MessageFlags.Ephemeral) },
      files,
      target.attachments,
      state,
    );
    const edited: APIMessage = { ...target, ...payload, edited_timestamp: new Date().toISOString() };
    if (messageRef === '@original') state.original = edited;
    else state.followups = state.followups.map((f) => (f.id === messageRef ? edited : f));
    if (messageRef === '@original' && target.flags! & MessageFlags.Loading) this.addAnswer(state, 'edit', edited, files);
    return { status: 200, body: edited };
  }

  private addAnswer(state: InteractionState, via: AnswerVia, message: APIMessage, files: UploadedFile[]): void {
    state.answers.push({
      via,
      ephemeral: Boolean(message.flags! & MessageFlags.Ephemeral),
      content: message.content,
      embeds: message.embeds,
      files,
      message,
      seq: this.seq,
    });
  }

  /** Validates a message body the way Discord does, and resolves its files into attachments. */
  private messagePayload(
    data: Record<string, unknown>,
    files: UploadedFile[],
    existing: APIAttachment[],
    state: InteractionState,
  ): Pick<APIMessage, 'content' | 'embeds' | 'attachments' | 'flags'> {
    const content = data.content === undefined || data.content === null ? '' : String(data.content);
    const embeds = (Array.isArray(data.embeds) ? data.embeds : []) as APIEmbed[];
    const flags = Number(data.flags ?? 0);
    const errors: Record<string, unknown> = {};
    if (content.length > 2000) errors.content = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    if (embeds.length > 10) errors.embeds = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    if ((flags & ~ALLOWED_MESSAGE_FLAGS) !== 0) errors.flags = fieldError('MESSAGE_FLAGS_INVALID', 'Invalid flags');
    let total = 0;
    embeds.forEach((e, i) => {
      const problems = embedProblems(e);
      if (problems) errors.embeds = { ...(errors.embeds as object | undefined), [i]: problems };
      total += embedLength(e);
    });
    if (total > 6000) errors.embeds = fieldError('MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
    if (Object.keys(errors).length > 0) throw invalidForm(errors);
    for (const f of files) {
      if (f.bytes.length > ATTACHMENT_LIMIT_BYTES) throw new RestError(413, { message: 'Request entity too large', code: 40005 });
    }

    // attachments: the ones to keep (by snowflake) and the new uploads (by files[n] index).
    const declared = Array.isArray(data.attachments) ? (data.attachments as { id: string | number; filename?: string; description?: string }[]) : undefined;
    const channelId = state.payload.channel?.id ?? 'dm';
    const attachments: APIAttachment[] = [];
    const uploads = new Map(files.map((f) => [/^files\[(\d+)\]$/.exec(f.field)?.[1] ?? f.field, f]));
    const keepAndAdd: { id: string | number; filename?: string; description?: string }[] = declared ?? [...existing.map((a) => ({ id: a.id })), ...[...uploads.keys()].map((id) => ({ id }))];
    for (const ref of keepAndAdd) {
      const upload = uploads.get(String(ref.id));
      if (upload) {
        const id = this.snowflake();
        const filename = ref.filename ?? upload.filename;
        const path = `/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
        this.cdn.set(path, { bytes: upload.bytes, contentType: upload.contentType });
        attachments.push({
          id,
          filename,
          size: upload.bytes.length,
          url: `${this.baseUrl}${this.sign(path)}`,
          proxy_url: `${this.baseUrl}${this.sign(path)}`,
          content_type: upload.contentType,
          ...(ref.description ? { description: ref.description } : {}),
          ...(flags & MessageFlags.Ephemeral ? { ephemeral: true } : {}),
        });
        continue;
      }
      const kept = existing.find((a) => a.id === String(ref.id));
      if (!kept) throw invalidForm({ attachments: { [String(ref.id)]: fieldError('ATTACHMENT_NOT_FOUND', 'Unknown attachment') } });
      attachments.push(kept);
    }
    // "attachment://name" in an embed becomes the uploaded file's CDN URL.
    const resolveUrl = (u: string | undefined) => {
      if (!u?.startsWith('attachment://')) return u;
      return attachments.find((a) => a.filename === u.slice('attachment://'.length))?.url ?? u;
    };
    const resolvedEmbeds = embeds.map((e) => ({
      ...e,
      type: 'rich' as EmbedType,
      ...(e.image ? { image: { ...e.image, url: resolveUrl(e.image.url)!, proxy_url: resolveUrl(e.image.url)! } } : {}),
      ...(e.thumbnail ? { thumbnail: { ...e.thumbnail, url: resolveUrl(e.thumbnail.url)! } } : {}),
    }));
    const loading = flags & MessageFlags.Loading;
    if (!loading && content === '' && embeds.length === 0 && attachments.length === 0 && !(Array.isArray(data.components) && data.components.length > 0)) {
      throw new RestError(400, { message: 'Cannot send an empty message', code: 50006 });
    }
    return { content, embeds: resolvedEmbeds, attachments, flags: flags as MessageFlags };
  }

  private responseMessage(
    state: InteractionState,
    payload: Pick<APIMessage, 'content' | 'embeds' | 'attachments' | 'flags'>,
    opts: { followup?: boolean } = {},
  ): APIMessage {
    const ix = state.payload as APIInteraction & { data: { type: ApplicationCommandType; name: string; target_id?: string }; member?: { user: APIUser } };
    const user = ix.member?.user ?? (ix as { user?: APIUser }).user!;
    const message: APIMessage = {
      id: this.snowflake(),
      channel_id: ix.channel?.id ?? '0',
      author: this.botUser,
      content: payload.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: payload.attachments,
      embeds: payload.embeds,
      pinned: false,
      type: opts.followup ? MessageType.Default : ix.data.type === ApplicationCommandType.ChatInput ? MessageType.ChatInputCommand : MessageType.ContextMenuCommand,
      flags: (payload.flags ?? 0) as MessageFlags,
      components: [],
      webhook_id: this.applicationId,
      application_id: this.applicationId,
      interaction_metadata: {
        id: state.id,
        type: InteractionType.ApplicationCommand,
        user,
        authorizing_integration_owners: { '0': ix.guild_id ?? '0' },
        ...(ix.data.target_id ? { target_message_id: ix.data.target_id } : {}),
      },
    };
    this.messages.set(message.id, message);
    return message;
  }
}

// ------------------------------------------------------------------------------ helpers

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > 4 * ATTACHMENT_LIMIT_BYTES) throw new RestError(413, { message: 'Request entity too large', code: 40005 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** JSON, or multipart/form-data with payload_json and files[n] (what Discord accepts with uploads). */
async function parseRequestBody(req: IncomingMessage, raw: Buffer): Promise<{ body: unknown; files: UploadedFile[] }> {
  const type = req.headers['content-type'] ?? '';
  if (raw.length === 0) return { body: undefined, files: [] };
  if (type.startsWith('application/json')) {
    try {
      return { body: JSON.parse(raw.toString('utf8')), files: [] };
    } catch {
      throw new RestError(400, { message: '400: Bad Request', code: 50109 });
    }
  }
  if (type.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    let body: unknown;
    const files: UploadedFile[] = [];
    for (const [field, value] of form.entries()) {
      if (field === 'payload_json') {
        body = JSON.parse(String(value));
      } else if (typeof value !== 'string') {
        files.push({ field, filename: value.name, contentType: value.type || 'application/octet-stream', bytes: Buffer.from(await value.arrayBuffer()) });
      }
    }
    return { body, files };
  }
  throw new RestError(400, { message: '400: Bad Request', code: 0 });
}

const CHAT_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function commandProblem(raw: Record<string, unknown>, type: number): Record<string, unknown> | undefined {
  const name = raw.name;
  const description = raw.description ?? '';
  if (typeof name !== 'string') return { name: fieldError('BASE_TYPE_REQUIRED', 'This field is required') };
  if (type === ApplicationCommandType.ChatInput) {
    if (!CHAT_NAME.test(name) || name !== name.toLowerCase()) return { name: fieldError('APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid') };
    if (typeof description !== 'string' || description.length < 1 || description.length > 100) {
      return { description: fieldError('BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.') };
    }
    const options = (raw.options ?? []) as Record<string, unknown>[];
    if (options.length > 25) return { options: fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.') };
    let optionalSeen = false;
    for (const [i, o] of options.entries()) {
      const t = Number(o.type);
      if (!(t >= ApplicationCommandOptionType.Subcommand && t <= ApplicationCommandOptionType.Attachment)) return { options: { [i]: { type: fieldError('BASE_TYPE_CHOICES', 'Value must be one of the option types.') } } };
      if (typeof o.name !== 'string' || !CHAT_NAME.test(o.name) || o.name !== o.name.toLowerCase()) return { options: { [i]: { name: fieldError('APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid') } } };
      if (typeof o.description !== 'string' || o.description.length < 1 || o.description.length > 100) {
        return { options: { [i]: { description: fieldError('BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.') } } };
      }
      if (o.required) {
        if (optionalSeen) return { options: fieldError('APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options') };
      } else optionalSeen = true;
    }
  } else if (type === ApplicationCommandType.User || type === ApplicationCommandType.Message) {
    if (name.length < 1 || name.length > 32) return { name: fieldError('BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.') };
    if (description !== '') return { description: fieldError('APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', 'Context menu commands cannot have description') };
    if (raw.options !== undefined && (raw.options as unknown[]).length > 0) return { options: fieldError('APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS', 'Context menu commands cannot have options') };
  } else {
    return { type: fieldError('BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.') };
  }
  for (const ctx of (raw.contexts ?? []) as unknown[]) {
    if (ctx !== 0 && ctx !== 1 && ctx !== 2) return { contexts: fieldError('BASE_TYPE_CHOICES', 'Value must be one of {0, 1, 2}.') };
  }
  for (const it of (raw.integration_types ?? []) as unknown[]) {
    if (it !== 0 && it !== 1) return { integration_types: fieldError('BASE_TYPE_CHOICES', 'Value must be one of {0, 1}.') };
  }
  const chat = type === ApplicationCommandType.ChatInput;
  const names = localizationProblem(raw.name_localizations, (v) => (chat ? CHAT_NAME.test(v) && v === v.toLowerCase() : v.length >= 1 && v.length <= 32));
  if (names) return { name_localizations: names };
  const descriptions = localizationProblem(raw.description_localizations, (v) => v.length >= 1 && v.length <= 100);
  if (descriptions) return { description_localizations: descriptions };
  for (const [i, o] of ((raw.options ?? []) as Record<string, unknown>[]).entries()) {
    const optionNames = localizationProblem(o.name_localizations, (v) => CHAT_NAME.test(v) && v === v.toLowerCase());
    const optionDescriptions = localizationProblem(o.description_localizations, (v) => v.length >= 1 && v.length <= 100);
    if (optionNames || optionDescriptions) return { options: { [i]: { ...(optionNames ? { name_localizations: optionNames } : {}), ...(optionDescriptions ? { description_localizations: optionDescriptions } : {}) } } };
    for (const [j, c] of ((o.choices ?? []) as Record<string, unknown>[]).entries()) {
      const choiceNames = localizationProblem(c.name_localizations, (v) => v.length >= 1 && v.length <= 100);
      if (choiceNames) return { options: { [i]: { choices: { [j]: { name_localizations: choiceNames } } } } };
    }
  }
  return undefined;
}

/** Discord's locales (https://discord.com/developers/docs/reference#locales). */
const LOCALES = new Set([
  'id', 'da', 'de', 'en-GB', 'en-US', 'es-ES', 'es-419', 'fr', 'hr', 'it', 'lt', 'hu', 'nl', 'no', 'pl', 'pt-BR', 'ro', 'fi', 'sv-SE',
  'vi', 'tr', 'cs', 'el', 'bg', 'ru', 'uk', 'hi', 'th', 'zh-CN', 'ja', 'zh-TW', 'ko',
]);

function localizationProblem(map: unknown, valid: (value: string) => boolean): Record<string, unknown> | undefined {
  if (map === undefined || map === null) return undefined;
  if (typeof map !== 'object') return fieldError('DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
  for (const [locale, value] of Object.entries(map as Record<string, unknown>)) {
    if (!LOCALES.has(locale)) return { [locale]: fieldError('LOCALE_INVALID', `Invalid locale: ${locale}`) };
    if (typeof value !== 'string' || !valid(value)) return { [locale]: fieldError('APPLICATION_COMMAND_INVALID_NAME', 'Invalid localized value') };
  }
  return undefined;
}

function embedProblems(e: APIEmbed): Record<string, unknown> | undefined {
  const errors: Record<string, unknown> = {};
  const max = (field: string, value: string | undefined, limit: number) => {
    if (value !== undefined && value.length > limit) errors[field] = fieldError('BASE_TYPE_MAX_LENGTH', `Must be ${limit} or fewer in length.`);
  };
  max('title', e.title, 256);
  max('description', e.description, 4096);
  if (e.footer) max('footer', e.footer.text, 2048);
  if (e.author) max('author', e.author.name, 256);
  if ((e.fields ?? []).length > 25) errors.fields = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  (e.fields ?? []).forEach((f, i) => {
    if (!f.name || f.name.length > 256 || !f.value || f.value.length > 1024) {
      errors.fields = { ...(errors.fields as object | undefined), [i]: fieldError('BASE_TYPE_BAD_LENGTH', 'Field name 1-256 and value 1-1024 characters.') };
    }
  });
  for (const u of [e.image?.url, e.thumbnail?.url, e.url]) {
    if (u !== undefined && !/^(https?|attachment):\/\//.test(u)) errors.url = fieldError('URL_TYPE_INVALID_URL', 'Not a well formed URL.');
  }
  return Object.keys(errors).length > 0 ? errors : undefined;
}

function embedLength(e: APIEmbed): number {
  return (
    (e.title?.length ?? 0) +
    (e.description?.length ?? 0) +
    (e.footer?.text.length ?? 0) +
    (e.author?.name.length ?? 0) +
    (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}
