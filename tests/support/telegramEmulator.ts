import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import type { BotCommand, Document, File as TgFile, PhotoSize, User, WebhookInfo } from 'telegraf/types';
import { sharp } from '../../src/core/runtime/sharp.ts';
import { EntityParseError, parseEntities, parseHtml, type MessageEntity } from './telegramText.ts';

// A Bot API server on loopback for tests. It speaks the real protocol at /bot<token>/<method> (JSON,
// urlencoded and multipart bodies; {ok, result} or {ok:false, error_code, description, parameters}),
// serves files at /file/bot<token>/<file_path>, long-polls and delivers webhooks. The test side plays
// the users: it creates people and chats, sends messages, photos and documents, and waits for what the
// bot sends back (every bot call is recorded, uploads with their bytes).
//
// Deliberate differences from Telegram: webhook URLs may be plain http on any port (the bot under test
// listens on loopback), and there is no privacy mode: the bot gets every group message and must filter.

export const DOWNLOAD_LIMIT_BYTES = 20 * 1024 * 1024;
const UPLOAD_PHOTO_LIMIT_BYTES = 10 * 1024 * 1024;
const UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024;
// Telegram keeps a photo in several sizes, each its own file; the largest side of each.
const PHOTO_SIDES = [90, 320, 800, 1280, 2560];
const CHAT_ACTIONS = new Set([
  'typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note',
]);

export interface Chat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  first_name?: string;
  last_name?: string;
  username?: string;
}

/** A message as the Bot API serialises it (only the fields this emulator produces). */
export interface Message {
  message_id: number;
  from?: User;
  chat: Chat;
  date: number;
  edit_date?: number;
  text?: string;
  entities?: MessageEntity[];
  caption?: string;
  caption_entities?: MessageEntity[];
  photo?: PhotoSize[];
  document?: Document;
  video?: VideoFile;
  video_note?: VideoNoteFile;
  animation?: VideoFile;
  reply_to_message?: Message;
  reply_markup?: InlineKeyboardMarkup;
}

export interface InlineKeyboardButton {
  text: string;
  callback_data?: string;
}

export interface InlineKeyboardMarkup {
  inline_keyboard: InlineKeyboardButton[][];
}

/** A press of an inline button, as the Bot API sends it. */
export interface CallbackQuery {
  id: string;
  from: User;
  message?: Message;
  chat_instance: string;
  data?: string;
}

/** Video, animation and video note fields as the Bot API sends them (durations in seconds). */
export interface VideoFile {
  file_id: string;
  file_unique_id: string;
  width: number;
  height: number;
  duration: number;
  mime_type?: string;
  file_name?: string;
  file_size?: number;
}

export interface VideoNoteFile {
  file_id: string;
  file_unique_id: string;
  length: number;
  duration: number;
  file_size?: number;
}

export interface Update {
  update_id: number;
  message?: Message;
  callback_query?: CallbackQuery;
}

export interface UploadedFile {
  bytes: Buffer;
  filename: string;
  mimeType: string;
}

/** One call the bot made, as the emulator understood and answered it. */
export interface ApiCall {
  seq: number;
  method: string;
  params: Record<string, unknown>;
  /** Multipart file parts by field name. */
  files: Record<string, UploadedFile>;
  chatId?: number;
  /** What the user sees: text or caption with HTML markup resolved. */
  text?: string;
  replyToMessageId?: number;
  /** For sendPhoto, sendDocument, sendAnimation and editMessageMedia: the bytes of the picture or file sent. */
  media?: Buffer;
  ok: boolean;
  result?: unknown;
  errorCode?: number;
  description?: string;
}

export interface InjectedError {
  method: string;
  errorCode: number;
  description?: string;
  retryAfter?: number;
  /** How many matching calls fail (default 1). */
  times?: number;
}

interface StoredFile {
  fileId: string;
  fileUniqueId: string;
  filePath: string;
  bytes: Buffer;
  /** Local mode: where the file lies on disk (its size may be anything; `bytes` is then empty). */
  localPath?: string;
}

interface Waiter {
  res: ServerResponse;
  offset: number;
  limit: number;
  timer: NodeJS.Timeout;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number },
  ) {
    super(description);
  }
}

const bad = (what: string) => new ApiError(400, `Bad Request: ${what}`);
const nowSec = () => Math.floor(Date.now() / 1000);
const randomId = (bytes: number) => randomBytes(bytes).toString('base64url');

export interface EmulatorOptions {
  token?: string;
  botUsername?: string;
  botName?: string;
  /** The getFile limit (20 MB like Telegram's; a self-hosted server lifts it). */
  downloadLimitBytes?: number;
  /**
   * A self-hosted Bot API server in --local mode: getFile answers with an absolute path on this machine
   * (files are written there) instead of a path to download.
   */
  localFilesDir?: string;
}

/** One file download the bot made, and whether it read the whole file. */
export interface DownloadRecord {
  filePath: string;
  size: number;
  /** Bytes handed to the connection before it closed. */
  sent: number;
  completed: boolean;
}

export class TelegramEmulator {
  readonly token: string;
  readonly bot: User;
  readonly calls: ApiCall[] = [];
  readonly downloads: DownloadRecord[] = [];
  private readonly photoSizes = new Map<string, PhotoSize[]>();
  readonly commands = new Map<string, BotCommand[]>();
  private readonly downloadLimit: number;
  private readonly localFilesDir: string | undefined;
  private server!: Server;
  private port = 0;
  private nextUserId = 5_000_001;
  private nextGroupId = 4_000_001;
  private nextUpdateId = 700_000_001;
  private nextFileSeq = 1;
  private nextCallbackId = 4_000_000_000_001;
  private readonly callbackQueries = new Map<string, CallbackQuery>();
  private readonly answeredQueries = new Set<string>();
  private readonly chats = new Map<number, Chat>();
  private readonly messages = new Map<number, Map<number, Message>>();
  private readonly lastMessageId = new Map<number, number>();
  private readonly files = new Map<string, StoredFile>();
  private readonly filesByPath = new Map<string, StoredFile>();
  private pending: Update[] = [];
  private waiter: Waiter | undefined;
  private flushScheduled = false;
  private held = 0;
  private injected: (InjectedError & { left: number })[] = [];
  private callListeners = new Set<() => void>();
  private webhook: { url: string; secret?: string; maxConnections: number; lastErrorDate?: number; lastErrorMessage?: string } | undefined;
  private webhookInFlight = new Set<number>();
  private webhookTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(opts: EmulatorOptions) {
    const botId = 7_000_000_000 + Math.floor(Math.random() * 1_000_000);
    this.token = opts.token ?? `${botId}:AA${randomId(24)}`;
    this.bot = {
      id: Number(this.token.split(':')[0]),
      is_bot: true,
      first_name: opts.botName ?? 'Lookalike Test',
      username: opts.botUsername ?? 'lookalike_test_bot',
    };
    this.downloadLimit = opts.downloadLimitBytes ?? DOWNLOAD_LIMIT_BYTES;
    this.localFilesDir = opts.localFilesDir;
  }

  static async start(opts: EmulatorOptions = {}): Promise<TelegramEmulator> {
    const emu = new TelegramEmulator(opts);
    emu.server = createServer((req, res) => void emu.handle(req, res));
    // Long polls stay open for up to 50 s; keep-alive sockets must not hold the test process open.
    emu.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => emu.server.listen(0, '127.0.0.1', resolve));
    // A test that forgets close() must not keep the process alive by the listening socket alone.
    emu.server.unref();
    emu.port = (emu.server.address() as AddressInfo).port;
    return emu;
  }

  /** What to pass as telegraf's `telegram.apiRoot` (TELEGRAM_API_ROOT). */
  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.webhookTimer);
    if (this.waiter) this.answerWaiter([]);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- the users' side

  createUser(opts: { firstName: string; lastName?: string; username?: string; languageCode?: string }): User {
    return {
      id: this.nextUserId++,
      is_bot: false,
      first_name: opts.firstName,
      ...(opts.lastName ? { last_name: opts.lastName } : {}),
      ...(opts.username ? { username: opts.username } : {}),
      language_code: opts.languageCode ?? 'en',
    };
  }

  /** The private chat between a user and the bot (its id is the user's id, as in Telegram). */
  privateChat(user: User): Chat {
    const existing = this.chats.get(user.id);
    if (existing) return existing;
    const chat: Chat = {
      id: user.id,
      type: 'private',
      first_name: user.first_name,
      ...(user.last_name ? { last_name: user.last_name } : {}),
      ...(user.username ? { username: user.username } : {}),
    };
    this.chats.set(chat.id, chat);
    return chat;
  }

  /** A group the bot is a member of: basic groups have small negative ids, supergroups -100... */
  createGroup(title: string, opts: { supergroup?: boolean } = {}): Chat {
    const n = this.nextGroupId++;
    const chat: Chat = opts.supergroup ? { id: -(1_000_000_000_000 + n), type: 'supergroup', title } : { id: -n, type: 'group', title };
    this.chats.set(chat.id, chat);
    return chat;
  }

  /** A text message; commands and mentions in it get their entities, as a Telegram client sets them. */
  sendText(from: User, chat: Chat, text: string, opts: { replyTo?: Message } = {}): Message {
    const entities = parseEntities(text);
    return this.userMessage(from, chat, { text, ...(entities.length ? { entities } : {}) }, opts.replyTo);
  }

  /**
   * A photo, as Telegram stores it: re-encoded as JPEG in several sizes (each size its own file_id),
   * the largest no more than 2560 px on its longest side.
   */
  async sendPhoto(from: User, chat: Chat, bytes: Uint8Array, opts: { caption?: string; replyTo?: Message } = {}): Promise<Message> {
    const photo = await this.storePhoto(Buffer.from(bytes));
    return this.userMessage(from, chat, { photo, ...this.captionFields(opts.caption) }, opts.replyTo);
  }

  /** A file sent as a document: the bytes are kept as they are. */
  sendDocument(
    from: User,
    chat: Chat,
    bytes: Uint8Array,
    opts: { fileName: string; mimeType?: string; caption?: string; replyTo?: Message; declareSize?: boolean },
  ): Message {
    const stored = this.storeFile(Buffer.from(bytes), 'documents', extension(opts.fileName));
    return this.documentMessage(from, chat, stored, stored.bytes.length, opts);
  }

  /**
   * Local mode only: a document whose file is already on this machine's disk (of any size, sparse or
   * not), never read by the emulator. Telegram's file_size is optional; declareSize: false leaves it out.
   */
  sendLocalDocument(from: User, chat: Chat, file: string, opts: { fileName: string; mimeType?: string; size: number; declareSize?: boolean }): Message {
    return this.documentMessage(from, chat, this.localFile(file), opts.size, opts);
  }

  /** Local mode only: a video whose file is already on this machine's disk (see sendLocalDocument). */
  sendLocalVideo(from: User, chat: Chat, file: string, opts: { duration: number; size: number; declareSize?: boolean }): Message {
    const stored = this.localFile(file);
    const video: VideoFile = {
      file_id: stored.fileId,
      file_unique_id: stored.fileUniqueId,
      width: 640,
      height: 360,
      duration: opts.duration,
      mime_type: 'video/mp4',
      ...(opts.declareSize === false ? {} : { file_size: opts.size }),
    };
    return this.userMessage(from, chat, { video }, undefined);
  }

  private localFile(file: string): StoredFile {
    if (!this.localFilesDir) throw new Error('local files need the localFilesDir option');
    const seq = this.nextFileSeq++;
    const stored: StoredFile = { fileId: `BQACAgIAAxkBAA${randomId(48)}`, fileUniqueId: `AQAD${randomId(12)}`, filePath: `documents/file_${seq}`, bytes: Buffer.alloc(0), localPath: file };
    this.files.set(stored.fileId, stored);
    return stored;
  }

  private documentMessage(
    from: User,
    chat: Chat,
    stored: StoredFile,
    size: number,
    opts: { fileName: string; mimeType?: string; caption?: string; replyTo?: Message; declareSize?: boolean },
  ): Message {
    const document: Document = {
      file_id: stored.fileId,
      file_unique_id: stored.fileUniqueId,
      file_name: opts.fileName,
      ...(opts.mimeType ? { mime_type: opts.mimeType } : {}),
      ...(opts.declareSize === false ? {} : { file_size: size }),
    };
    return this.userMessage(from, chat, { document, ...this.captionFields(opts.caption) }, opts.replyTo);
  }

  /** A round video note, as recorded in the app: stored as sent (Telegram keeps it as MP4). */
  sendVideoNote(from: User, chat: Chat, bytes: Uint8Array, opts: { duration: number; length?: number; replyTo?: Message }): Message {
    const stored = this.storeFile(Buffer.from(bytes), 'video_notes', 'mp4');
    const video_note: VideoNoteFile = {
      file_id: stored.fileId,
      file_unique_id: stored.fileUniqueId,
      length: opts.length ?? 384,
      duration: opts.duration,
      file_size: stored.bytes.length,
    };
    return this.userMessage(from, chat, { video_note }, opts.replyTo);
  }

  /** A video (or, with animation: true, a GIF-like animation, which Telegram also lists as a document). */
  sendVideo(
    from: User,
    chat: Chat,
    bytes: Uint8Array,
    opts: { duration: number; width?: number; height?: number; caption?: string; animation?: boolean; replyTo?: Message },
  ): Message {
    const stored = this.storeFile(Buffer.from(bytes), opts.animation ? 'animations' : 'videos', 'mp4');
    const file: VideoFile = {
      file_id: stored.fileId,
      file_unique_id: stored.fileUniqueId,
      width: opts.width ?? 640,
      height: opts.height ?? 360,
      duration: opts.duration,
      mime_type: 'video/mp4',
      file_size: stored.bytes.length,
    };
    const fields = opts.animation
      ? { animation: file, document: { file_id: file.file_id, file_unique_id: file.file_unique_id, file_name: 'animation.mp4', mime_type: 'video/mp4', file_size: file.file_size } }
      : { video: file };
    return this.userMessage(from, chat, { ...fields, ...this.captionFields(opts.caption) }, opts.replyTo);
  }

  /**
   * A user presses an inline keyboard button of a bot message: a callback_query update with the button's
   * data, as the app sends it. Throws if the message has no such button.
   */
  pressButton(from: User, message: Message, text: string | RegExp): CallbackQuery {
    const current = this.messages.get(message.chat.id)?.get(message.message_id) ?? message;
    const button = current.reply_markup?.inline_keyboard.flat().find((b) => (typeof text === 'string' ? b.text === text : text.test(b.text)));
    if (!button?.callback_data) throw new Error(`message ${message.message_id} has no button ${String(text)}`);
    const query: CallbackQuery = {
      id: String(this.nextCallbackId++),
      from,
      message: current,
      chat_instance: String(message.chat.id),
      data: button.callback_data,
    };
    this.callbackQueries.set(query.id, query);
    this.sendUpdate({ callback_query: query });
    return query;
  }

  /** Queues any update the helpers above do not build (update_id is assigned here). */
  sendUpdate(update: Omit<Update, 'update_id'>): Update {
    const full = { update_id: this.nextUpdateId++, ...update };
    this.pending.push(full);
    this.scheduleFlush();
    return full;
  }

  /** Everything sent inside `fn` reaches the bot in one getUpdates answer (or one burst of webhooks). */
  async batch<T>(fn: () => Promise<T> | T): Promise<T> {
    this.held++;
    try {
      return await fn();
    } finally {
      this.held--;
      this.scheduleFlush();
    }
  }

  /** The next `times` calls of `method` fail with this error instead of running (e.g. 429 with retry_after). */
  injectError(error: InjectedError): void {
    this.injected.push({ ...error, left: error.times ?? 1 });
  }

  /** The stored bytes behind a file_id (what getFile and a download would give the bot). */
  fileBytes(fileId: string): Buffer | undefined {
    return this.files.get(fileId)?.bytes;
  }

  message(chatId: number, messageId: number): Message | undefined {
    return this.messages.get(chatId)?.get(messageId);
  }

  get pendingUpdateCount(): number {
    return this.pending.length;
  }

  /** The first call (from `since` on) that satisfies `match`, waiting for it if need be. */
  waitFor(match: (call: ApiCall) => boolean, opts: { since?: number; timeoutMs?: number } = {}): Promise<ApiCall> {
    return this.waitForCount(match, 1, opts).then((calls) => calls[0]!);
  }

  /** The first `count` calls (from `since` on) that satisfy `match`. */
  waitForCount(match: (call: ApiCall) => boolean, count: number, opts: { since?: number; timeoutMs?: number } = {}): Promise<ApiCall[]> {
    const since = opts.since ?? 0;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const found = () => this.calls.slice(since).filter(match);
    return new Promise((resolve, reject) => {
      const check = () => {
        const calls = found();
        if (calls.length < count) return false;
        cleanup();
        resolve(calls.slice(0, count));
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.calls.slice(since).map((c) => `${c.method}${c.ok ? '' : ` (${c.errorCode})`}${c.text ? `: ${c.text.slice(0, 60)}` : ''}`);
        reject(new Error(`waited ${timeoutMs} ms for ${count} matching call(s), got ${found().length}; calls since #${since}:\n  ${seen.join('\n  ')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.callListeners.delete(listener);
      };
      const listener = () => void check();
      if (check()) return;
      this.callListeners.add(listener);
    });
  }

  /** Index to pass as `since` so that only calls made from now on count. */
  mark(): number {
    return this.calls.length;
  }

  // ---------------------------------------------------------------- building messages and files

  private captionFields(caption: string | undefined): Pick<Message, 'caption' | 'caption_entities'> {
    if (caption === undefined) return {};
    const entities = parseEntities(caption);
    return { caption, ...(entities.length ? { caption_entities: entities } : {}) };
  }

  private userMessage(from: User, chat: Chat, content: Partial<Message>, replyTo: Message | undefined): Message {
    if (!this.chats.has(chat.id)) throw new Error(`unknown chat ${chat.id}`);
    const message = this.addMessage(chat, { from, ...content, ...(replyTo ? { reply_to_message: stripReply(replyTo) } : {}) });
    this.sendUpdate({ message });
    return message;
  }

  private addMessage(chat: Chat, content: Partial<Message>): Message {
    const id = (this.lastMessageId.get(chat.id) ?? 0) + 1;
    this.lastMessageId.set(chat.id, id);
    const message: Message = { message_id: id, ...content, chat, date: nowSec() };
    if (!this.messages.has(chat.id)) this.messages.set(chat.id, new Map());
    this.messages.get(chat.id)!.set(id, message);
    return message;
  }

  private storeFile(bytes: Buffer, folder: string, ext: string): StoredFile {
    const seq = this.nextFileSeq++;
    const stored: StoredFile = {
      fileId: `${folder === 'photos' ? 'AgAC' : 'BQAC'}AgIAAxkBAA${randomId(48)}`,
      fileUniqueId: `AQAD${randomId(12)}`,
      filePath: `${folder}/file_${seq}${ext ? `.${ext}` : ''}`,
      bytes,
    };
    this.files.set(stored.fileId, stored);
    this.filesByPath.set(stored.filePath, stored);
    if (this.localFilesDir) {
      stored.localPath = path.join(this.localFilesDir, stored.filePath);
      mkdirSync(path.dirname(stored.localPath), { recursive: true });
      writeFileSync(stored.localPath, bytes);
    }
    return stored;
  }

  private async storePhoto(bytes: Buffer): Promise<PhotoSize[]> {
    if (bytes.length === 0) throw bad('file must be non-empty');
    // The same picture sent again reuses its stored sizes (as a forwarded photo keeps its file_id), so
    // that a load test can send hundreds of photos in a few seconds.
    const digest = createHash('sha1').update(bytes).digest('hex');
    const cached = this.photoSizes.get(digest);
    if (cached) return cached;
    const sizes = await this.encodePhoto(bytes);
    this.photoSizes.set(digest, sizes);
    return sizes;
  }

  private async encodePhoto(bytes: Buffer): Promise<PhotoSize[]> {
    let meta;
    try {
      meta = await sharp(bytes).rotate().metadata();
    } catch {
      throw bad('IMAGE_PROCESS_FAILED');
    }
    const upright = (meta.orientation ?? 1) >= 5;
    const width = upright ? meta.height : meta.width;
    const height = upright ? meta.width : meta.height;
    const longest = Math.max(width, height);
    const sides = PHOTO_SIDES.filter((s) => s < longest);
    if (longest <= PHOTO_SIDES.at(-1)!) sides.push(longest);
    const sizes: PhotoSize[] = [];
    for (const side of sides) {
      const jpeg = await sharp(bytes)
        .rotate()
        .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 87 })
        .toBuffer({ resolveWithObject: true });
      const stored = this.storeFile(jpeg.data, 'photos', 'jpg');
      sizes.push({ file_id: stored.fileId, file_unique_id: stored.fileUniqueId, file_size: jpeg.data.length, width: jpeg.info.width, height: jpeg.info.height });
    }
    return sizes;
  }

  // ---------------------------------------------------------------- updates: long polling and webhooks

  private scheduleFlush(): void {
    if (this.held > 0 || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.webhook) this.deliverWebhooks();
      else if (this.waiter) {
        const updates = this.available(this.waiter.offset, this.waiter.limit);
        if (updates.length > 0) this.answerWaiter(updates);
      }
    });
  }

  private available(offset: number, limit: number): Update[] {
    return this.pending.filter((u) => u.update_id >= offset).slice(0, limit);
  }

  private answerWaiter(updates: Update[]): void {
    const waiter = this.waiter!;
    this.waiter = undefined;
    clearTimeout(waiter.timer);
    send(waiter.res, 200, { ok: true, result: updates });
  }

  private getUpdates(p: Params, res: ServerResponse): 'deferred' | Update[] {
    if (this.webhook) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    const offset = p.int('offset') ?? 0;
    const limit = Math.min(Math.max(p.int('limit') ?? 100, 1), 100);
    const timeout = Math.max(p.int('timeout') ?? 0, 0);
    // An offset confirms every update before it; a negative one counts from the end.
    if (offset > 0) this.pending = this.pending.filter((u) => u.update_id >= offset);
    const from = offset < 0 ? (this.pending.at(offset)?.update_id ?? 0) : offset;
    if (this.waiter) {
      const older = this.waiter;
      this.waiter = undefined;
      clearTimeout(older.timer);
      sendError(older.res, new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    }
    const updates = this.available(from, limit);
    if (updates.length > 0 || timeout === 0 || this.closed) return updates;
    const waiter: Waiter = {
      res,
      offset: from,
      limit,
      timer: setTimeout(() => this.waiter === waiter && this.answerWaiter([]), timeout * 1000),
    };
    this.waiter = waiter;
    // A client that gives up (telegraf aborts its poll on stop) must not keep the slot.
    res.on('close', () => {
      if (this.waiter === waiter) {
        clearTimeout(waiter.timer);
        this.waiter = undefined;
      }
    });
    return 'deferred';
  }

  private deliverWebhooks(): void {
    const hook = this.webhook;
    if (!hook || this.closed) return;
    for (const update of this.pending) {
      if (this.webhookInFlight.size >= hook.maxConnections) break;
      if (this.webhookInFlight.has(update.update_id)) continue;
      this.webhookInFlight.add(update.update_id);
      void this.postUpdate(hook, update);
    }
  }

  private async postUpdate(hook: NonNullable<TelegramEmulator['webhook']>, update: Update): Promise<void> {
    let delivered = false;
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(hook.secret ? { 'x-telegram-bot-api-secret-token': hook.secret } : {}) },
        body: JSON.stringify(update),
      });
      const body = await res.text();
      if (res.ok) {
        delivered = true;
        // A webhook may answer with one method call in its response body.
        const reply = body ? safeJson(body) : undefined;
        if (reply && typeof reply === 'object' && 'method' in reply) {
          await this.execute(String((reply as { method: unknown }).method), new Params(reply as Record<string, unknown>, {}), undefined);
        }
      } else {
        hook.lastErrorMessage = `Wrong response from the webhook: ${res.status} ${res.statusText}`;
      }
    } catch (err) {
      hook.lastErrorMessage = `Connection refused: ${(err as Error).message}`;
    }
    this.webhookInFlight.delete(update.update_id);
    if (delivered) {
      this.pending = this.pending.filter((u) => u !== update);
    } else {
      hook.lastErrorDate = nowSec();
    }
    if (this.webhook !== hook || this.closed) return;
    if (delivered) this.deliverWebhooks();
    else if (!this.webhookTimer) {
      this.webhookTimer = setTimeout(() => {
        this.webhookTimer = undefined;
        this.deliverWebhooks();
      }, 200);
    }
  }

  // ---------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const fileRoute = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileRoute) return this.download(fileRoute[1]!, decodeURIComponent(fileRoute[2]!), res);
    const route = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!route) return sendError(res, new ApiError(404, 'Not Found'));
    if (route[1] !== this.token) return sendError(res, new ApiError(401, 'Unauthorized'));
    let params: Params;
    try {
      params = await readParams(req, url);
    } catch (err) {
      return sendError(res, err instanceof ApiError ? err : bad((err as Error).message));
    }
    try {
      const result = await this.execute(route[2]!, params, res);
      if (result !== 'deferred') send(res, 200, { ok: true, result });
    } catch (err) {
      if (err instanceof ApiError) return sendError(res, err);
      send(res, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${(err as Error).message}` });
    }
  }

  private download(token: string, filePath: string, res: ServerResponse): void {
    const file = token === this.token ? this.filesByPath.get(filePath) : undefined;
    if (!file) return sendError(res, new ApiError(404, 'Not Found'));
    const record: DownloadRecord = { filePath, size: file.bytes.length, sent: 0, completed: false };
    this.downloads.push(record);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.bytes.length });
    // In 64 KB pieces, each after the client took the last: a client that stops reading closes the
    // connection with most of a large file unsent (what reaches the kernel's buffers counts as sent).
    let closed = false;
    let wake: (() => void) | undefined;
    res.on('close', () => {
      closed = true;
      wake?.();
    });
    res.on('drain', () => wake?.());
    void (async () => {
      const piece = 64 * 1024;
      for (let at = 0; at < file.bytes.length && !closed; at += piece) {
        const chunk = file.bytes.subarray(at, at + piece);
        const more = res.write(chunk);
        record.sent += chunk.length;
        if (!more && !closed) await new Promise<void>((resolve) => (wake = resolve));
      }
      if (!closed) {
        res.end();
        record.completed = true;
      }
    })();
  }

  /** Runs one method; records it unless it is a getUpdates poll. */
  private async execute(rawMethod: string, p: Params, res: ServerResponse | undefined): Promise<unknown> {
    const method = METHOD_NAMES.get(rawMethod.toLowerCase()) ?? rawMethod;
    if (method === 'getUpdates') {
      if (!res) throw bad('getUpdates can not be used in a webhook reply');
      return this.getUpdates(p, res);
    }
    const call: ApiCall = { seq: this.calls.length, method, params: p.values, files: p.files, ok: false };
    const chatId = p.int('chat_id');
    if (chatId !== undefined) call.chatId = chatId;
    try {
      const injected = this.injected.find((e) => e.method === method && e.left > 0);
      if (injected) {
        injected.left--;
        this.injected = this.injected.filter((e) => e.left > 0);
        const description = injected.description ?? (injected.errorCode === 429 ? `Too Many Requests: retry after ${injected.retryAfter ?? 1}` : 'Injected error');
        throw new ApiError(injected.errorCode, description, injected.retryAfter !== undefined ? { retry_after: injected.retryAfter } : undefined);
      }
      const result = await this.run(method, p, call);
      call.ok = true;
      call.result = result;
      return result;
    } catch (err) {
      if (err instanceof ApiError) {
        call.errorCode = err.code;
        call.description = err.description;
      }
      throw err;
    } finally {
      this.calls.push(call);
      for (const listener of [...this.callListeners]) listener();
    }
  }

  private async run(method: string, p: Params, call: ApiCall): Promise<unknown> {
    switch (method) {
      case 'getMe':
        return { ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false, can_connect_to_business: false, has_main_web_app: false };
      case 'setWebhook':
        return this.setWebhook(p);
      case 'deleteWebhook':
        this.webhook = undefined;
        clearTimeout(this.webhookTimer);
        this.webhookTimer = undefined;
        if (p.bool('drop_pending_updates')) this.pending = [];
        return true;
      case 'getWebhookInfo':
        return this.webhookInfo();
      case 'setMyCommands':
        return this.setMyCommands(p);
      case 'getMyCommands':
        return this.commands.get(scopeKey(p)) ?? [];
      case 'deleteMyCommands':
        this.commands.delete(scopeKey(p));
        return true;
      case 'sendChatAction': {
        this.chat(p);
        const action = p.str('action');
        if (!action || !CHAT_ACTIONS.has(action)) throw bad('wrong parameter action in request');
        return true;
      }
      case 'sendMessage': {
        const chat = this.chat(p);
        const { text, entities } = this.formatted(p, 'text', 4096);
        if (!text.trim()) throw bad('message text is empty');
        return this.botMessage(chat, p, call, { text, ...(entities.length ? { entities } : {}) });
      }
      case 'sendPhoto': {
        const chat = this.chat(p);
        const bytes = this.inputFile(p, 'photo', UPLOAD_PHOTO_LIMIT_BYTES);
        call.media = bytes;
        const photo = await this.storePhoto(bytes);
        return this.botMessage(chat, p, call, { photo, ...this.caption(p) });
      }
      case 'sendAnimation': {
        const chat = this.chat(p);
        const bytes = this.inputFile(p, 'animation', UPLOAD_LIMIT_BYTES);
        if (bytes.length === 0) throw bad('file must be non-empty');
        call.media = bytes;
        const upload = p.files.animation;
        const stored = this.storeFile(bytes, 'animations', extension(upload?.filename ?? '') || 'mp4');
        const animation: VideoFile = {
          file_id: stored.fileId,
          file_unique_id: stored.fileUniqueId,
          width: p.int('width') ?? 0,
          height: p.int('height') ?? 0,
          duration: p.int('duration') ?? 0,
          mime_type: upload?.mimeType === 'image/gif' ? 'image/gif' : 'video/mp4',
          ...(upload ? { file_name: upload.filename } : {}),
          file_size: bytes.length,
        };
        return this.botMessage(chat, p, call, { animation, ...this.caption(p) });
      }
      case 'sendDocument': {
        const chat = this.chat(p);
        const bytes = this.inputFile(p, 'document', UPLOAD_LIMIT_BYTES);
        if (bytes.length === 0) throw bad('file must be non-empty');
        call.media = bytes;
        const upload = p.files.document;
        const stored = this.storeFile(bytes, 'documents', extension(upload?.filename ?? ''));
        const document: Document = {
          file_id: stored.fileId,
          file_unique_id: stored.fileUniqueId,
          ...(upload ? { file_name: upload.filename, mime_type: upload.mimeType } : {}),
          file_size: bytes.length,
        };
        return this.botMessage(chat, p, call, { document, ...this.caption(p) });
      }
      case 'editMessageText': {
        const message = this.editable(p);
        if (message.text === undefined) throw bad('there is no text in the message to edit');
        const { text, entities } = this.formatted(p, 'text', 4096);
        if (!text.trim()) throw bad('message text is empty');
        const markup = this.replyMarkup(p);
        if (text === message.text && JSON.stringify(markup) === JSON.stringify(message.reply_markup)) {
          throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
        }
        call.text = text;
        return this.edit(message, { text, ...(entities.length ? { entities } : { entities: undefined }), reply_markup: markup });
      }
      case 'editMessageCaption': {
        const message = this.editable(p);
        if (!message.photo && !message.document) throw bad('there is no caption in the message to edit');
        const fields = this.caption(p);
        if (fields.caption === message.caption) throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
        call.text = fields.caption ?? '';
        return this.edit(message, { caption: fields.caption, caption_entities: fields.caption_entities });
      }
      case 'editMessageMedia': {
        const message = this.editable(p);
        const media = p.json('media') as { type?: string; media?: string; caption?: string; parse_mode?: string } | undefined;
        if (!media || typeof media.media !== 'string') throw bad('media not specified');
        if (media.type !== 'photo' && media.type !== 'document') throw bad(`unsupported media type ${media.type ?? ''}`);
        const attach = /^attach:\/\/(.+)$/.exec(media.media);
        const bytes = attach ? p.files[attach[1]!]?.bytes : this.files.get(media.media)?.bytes;
        if (!bytes) throw bad(attach ? 'wrong attach specified' : 'wrong file identifier/HTTP URL specified');
        call.media = bytes;
        const captionParams = new Params({ caption: media.caption, parse_mode: media.parse_mode }, {});
        const captionFields = this.caption(captionParams);
        if (captionFields.caption !== undefined) call.text = captionFields.caption;
        if (media.type === 'photo') {
          return this.edit(message, { photo: await this.storePhoto(bytes), document: undefined, ...captionFields });
        }
        const stored = this.storeFile(bytes, 'documents', '');
        return this.edit(message, { document: { file_id: stored.fileId, file_unique_id: stored.fileUniqueId, file_size: bytes.length }, photo: undefined, ...captionFields });
      }
      case 'getFile': {
        const fileId = p.str('file_id');
        const file = fileId ? this.files.get(fileId) : undefined;
        if (!file) throw bad('invalid file_id');
        const size = file.localPath ? statSync(file.localPath).size : file.bytes.length;
        if (size > this.downloadLimit) throw bad('file is too big');
        // In --local mode the path is the file's absolute path on the server's disk.
        const result: TgFile = { file_id: file.fileId, file_unique_id: file.fileUniqueId, file_size: size, file_path: file.localPath ?? file.filePath };
        return result;
      }
      case 'answerCallbackQuery': {
        const id = p.str('callback_query_id');
        if (!id || !this.callbackQueries.has(id)) throw bad('query is too old and response timeout expired or query ID is invalid');
        if (this.answeredQueries.has(id)) throw bad('query is too old and response timeout expired or query ID is invalid');
        this.answeredQueries.add(id);
        const text = p.str('text');
        if (text !== undefined && text.length > 200) throw bad('MESSAGE_TOO_LONG');
        if (text !== undefined) call.text = text;
        return true;
      }
      default:
        throw new ApiError(404, 'Not Found');
    }
  }

  private chat(p: Params): Chat {
    const id = p.int('chat_id');
    if (id === undefined) throw bad('chat_id is empty');
    const chat = this.chats.get(id);
    if (!chat) throw bad('chat not found');
    return chat;
  }

  private formatted(p: Params, field: 'text' | 'caption', max: number): { text: string; entities: MessageEntity[] } {
    const raw = p.str(field) ?? '';
    let parsed: { text: string; entities: MessageEntity[] } = { text: raw, entities: [] };
    const mode = p.str('parse_mode');
    if (mode === 'HTML') {
      try {
        parsed = parseHtml(raw);
      } catch (err) {
        if (err instanceof EntityParseError) throw bad(`can't parse entities: ${err.message}`);
        throw err;
      }
    } else if (mode) {
      throw bad(`unsupported parse_mode ${mode} in this emulator`);
    }
    if (parsed.text.length > max) throw bad(field === 'text' ? 'message is too long' : 'message caption is too long');
    return parsed;
  }

  private caption(p: Params): Pick<Message, 'caption' | 'caption_entities'> {
    if (p.str('caption') === undefined) return {};
    const { text, entities } = this.formatted(p, 'caption', 1024);
    return { caption: text, ...(entities.length ? { caption_entities: entities } : {}) };
  }

  private inputFile(p: Params, field: string, limit: number): Buffer {
    const upload = p.files[field];
    if (upload) {
      if (upload.bytes.length > limit) throw new ApiError(413, 'Request Entity Too Large');
      return upload.bytes;
    }
    const ref = p.str(field);
    if (!ref) throw bad(`there is no ${field} in the request`);
    const stored = this.files.get(ref);
    if (!stored) throw bad('wrong file identifier/HTTP URL specified');
    return stored.bytes;
  }

  private botMessage(chat: Chat, p: Params, call: ApiCall, content: Partial<Message>): Message {
    // Bot API 7: reply_parameters (a JSON object, a string in form bodies); reply_to_message_id before it.
    const replyParams = p.json('reply_parameters') as { message_id?: number; allow_sending_without_reply?: boolean } | undefined;
    const replyTo = replyParams?.message_id ?? p.int('reply_to_message_id');
    let reply: Message | undefined;
    if (replyTo !== undefined) {
      call.replyToMessageId = replyTo;
      reply = this.messages.get(chat.id)?.get(replyTo);
      const allow = replyParams?.allow_sending_without_reply ?? p.bool('allow_sending_without_reply');
      if (!reply && !allow) throw bad('message to be replied not found');
    }
    call.text = content.text ?? content.caption;
    const markup = this.replyMarkup(p);
    return this.addMessage(chat, { from: this.bot, ...content, ...(reply ? { reply_to_message: stripReply(reply) } : {}), ...(markup ? { reply_markup: markup } : {}) });
  }

  /** An inline keyboard, checked as the Bot API checks it (callback_data of 1 to 64 bytes). */
  private replyMarkup(p: Params): InlineKeyboardMarkup | undefined {
    const markup = p.json('reply_markup') as InlineKeyboardMarkup | undefined;
    if (markup === undefined) return undefined;
    if (!Array.isArray(markup?.inline_keyboard)) throw bad("can't parse reply keyboard markup JSON object");
    for (const row of markup.inline_keyboard) {
      for (const button of row) {
        if (typeof button.text !== 'string' || button.text === '') throw bad('BUTTON_TEXT_INVALID');
        const size = Buffer.byteLength(button.callback_data ?? '');
        if (size < 1 || size > 64) throw bad('BUTTON_DATA_INVALID');
      }
    }
    return markup;
  }

  private editable(p: Params): Message {
    if (p.str('inline_message_id')) throw bad('inline messages are not supported by this emulator');
    const chat = this.chat(p);
    const id = p.int('message_id');
    const message = id === undefined ? undefined : this.messages.get(chat.id)?.get(id);
    if (!message) throw bad('message to edit not found');
    if (message.from?.id !== this.bot.id) throw bad("message can't be edited");
    return message;
  }

  private edit(message: Message, changes: Partial<Message>): Message {
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) delete (message as unknown as Record<string, unknown>)[key];
      else (message as unknown as Record<string, unknown>)[key] = value;
    }
    message.edit_date = nowSec();
    return message;
  }

  private setWebhook(p: Params): true {
    const url = p.str('url') ?? '';
    if (url === '') {
      this.webhook = undefined;
      return true;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw bad('invalid webhook URL specified');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw bad('bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443');
    const secret = p.str('secret_token');
    if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw bad('secret token contains unallowed characters');
    if (p.bool('drop_pending_updates')) this.pending = [];
    if (this.waiter) this.answerWaiter([]);
    this.webhook = { url, ...(secret ? { secret } : {}), maxConnections: Math.min(Math.max(p.int('max_connections') ?? 40, 1), 100) };
    this.scheduleFlush();
    return true;
  }

  private webhookInfo(): WebhookInfo {
    const hook = this.webhook;
    return {
      url: hook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: this.pending.length,
      ...(hook ? { max_connections: hook.maxConnections } : {}),
      ...(hook?.lastErrorDate ? { last_error_date: hook.lastErrorDate, last_error_message: hook.lastErrorMessage ?? '' } : {}),
    };
  }

  private setMyCommands(p: Params): true {
    const commands = p.json('commands');
    if (!Array.isArray(commands)) throw bad('commands not specified');
    if (commands.length > 100) throw bad('too many commands');
    for (const c of commands as BotCommand[]) {
      if (typeof c?.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw bad('BOT_COMMAND_INVALID');
      if (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 256) throw bad('BOT_COMMAND_DESCRIPTION_INVALID');
    }
    this.commands.set(scopeKey(p), commands as BotCommand[]);
    return true;
  }
}

// ---------------------------------------------------------------- request parameters

const METHOD_NAMES = new Map(
  [
    'getMe', 'getUpdates', 'setWebhook', 'deleteWebhook', 'getWebhookInfo', 'setMyCommands', 'getMyCommands',
    'deleteMyCommands', 'sendChatAction', 'sendMessage', 'sendPhoto', 'sendDocument', 'editMessageText',
    'editMessageCaption', 'editMessageMedia', 'getFile', 'answerCallbackQuery', 'sendAnimation',
  ].map((m) => [m.toLowerCase(), m]),
);

/** Parameters from the query string and body, whatever the encoding; form values arrive as strings. */
class Params {
  constructor(
    readonly values: Record<string, unknown>,
    readonly files: Record<string, UploadedFile>,
  ) {}

  str(key: string): string | undefined {
    const v = this.values[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'string' ? v : JSON.stringify(v);
  }

  int(key: string): number | undefined {
    const v = this.values[key];
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isInteger(n)) throw bad(`field "${key}" must be an integer`);
    return n;
  }

  bool(key: string): boolean {
    const v = this.values[key];
    return v === true || v === 'true' || v === '1';
  }

  /** Fields that are JSON objects: objects in a JSON body, JSON-serialised strings in form bodies. */
  json(key: string): unknown {
    const v = this.values[key];
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      throw bad(`can't parse ${key} JSON object`);
    }
  }
}

async function readParams(req: IncomingMessage, url: URL): Promise<Params> {
  const values: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const files: Record<string, UploadedFile> = {};
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (body.length === 0) return new Params(values, files);
  if (type.startsWith('application/json')) {
    const parsed = safeJson(body.toString('utf8'));
    if (!parsed || typeof parsed !== 'object') throw bad("can't parse JSON");
    Object.assign(values, parsed);
  } else if (type.startsWith('application/x-www-form-urlencoded')) {
    Object.assign(values, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
  } else if (type.startsWith('multipart/form-data')) {
    // undici's multipart parser, the one behind fetch's Response.formData().
    const form = await new Response(body, { headers: { 'content-type': req.headers['content-type']! } }).formData();
    for (const [key, value] of form) {
      if (typeof value === 'string') values[key] = value;
      else files[key] = { bytes: Buffer.from(await value.arrayBuffer()), filename: value.name, mimeType: value.type || 'application/octet-stream' };
    }
  } else {
    throw bad(`unsupported content type ${type}`);
  }
  return new Params(values, files);
}

function scopeKey(p: Params): string {
  return JSON.stringify(p.json('scope') ?? { type: 'default' }) + (p.str('language_code') ?? '');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function sendError(res: ServerResponse, err: ApiError): void {
  send(res, err.code, { ok: false, error_code: err.code, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) });
}

/** A message as it appears in reply_to_message: without its own reply, as Telegram sends it. */
function stripReply(message: Message): Message {
  const { reply_to_message: _dropped, ...rest } = message;
  return rest;
}

function extension(fileName: string): string {
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(fileName);
  return m ? m[1]!.toLowerCase() : '';
}
