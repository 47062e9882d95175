import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_MAX_BYTES } from '../src/core/decode.ts';
import { answerTo, unreachableEngine, withHarness } from './support/telegramHarness.ts';

// Every download has a limit, also against a self-hosted Bot API server (TELEGRAM_API_ROOT), where
// Telegram's 20 MB getFile limit does not apply and the bot is told no limit of its own: a photo may
// take the decoder's byte limit, a video the video limit, and nothing past that is read. The engine is
// never reached: these files must be refused before.

const overLimit = DEFAULT_MAX_BYTES + 1024 * 1024;
const tooLargeReply = /That file is over 25 MB/;

test('self-hosted server, files by URL: an image file over the decoder limit is refused from its size, or its download cut short', () =>
  withHarness({ engine: unreachableEngine, maxFileBytes: null, emulator: { downloadLimitBytes: Number.MAX_SAFE_INTEGER } }, async ({ emu }) => {
    const ann = emu.createUser({ firstName: 'Ann' });
    const chat = emu.privateChat(ann);
    const big = Buffer.alloc(overLimit, 0xff);
    // The message says how large it is: refused without a download.
    const declared = emu.sendDocument(ann, chat, big, { fileName: 'huge.jpg', mimeType: 'image/jpeg' });
    assert.match((await answerTo(emu, declared)).text!, tooLargeReply);
    assert.equal(emu.downloads.length, 0, 'nothing was downloaded');
    // The message does not say (file_size is optional): the download stops at the limit.
    const undeclared = emu.sendDocument(ann, chat, big, { fileName: 'huge.jpg', mimeType: 'image/jpeg', declareSize: false });
    assert.match((await answerTo(emu, undeclared)).text!, tooLargeReply);
    assert.equal(emu.downloads.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [download] = emu.downloads;
    assert.equal(download!.completed, false, `the ${overLimit}-byte file was not read to its end`);
    assert.ok(download!.sent < DEFAULT_MAX_BYTES, `${download!.sent} bytes sent before the bot hung up`);
  }));

test('self-hosted server in --local mode: a photo or video on its disk is sized before it is read, whatever its size', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lookalike-local-bot-api-'));
  try {
    // A sparse 3 GB file: reading it whole would take 3 GB of memory (or fail past Node's 2 GB read limit).
    const huge = path.join(dir, 'huge.jpg');
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, 3 * 1024 ** 3);
    closeSync(fd);
    await withHarness({ engine: unreachableEngine, maxFileBytes: null, emulator: { downloadLimitBytes: Number.MAX_SAFE_INTEGER, localFilesDir: dir } }, async ({ emu }) => {
      const bo = emu.createUser({ firstName: 'Bo' });
      const chat = emu.privateChat(bo);
      const photo = emu.sendLocalDocument(bo, chat, huge, { fileName: 'huge.jpg', mimeType: 'image/jpeg', size: 3 * 1024 ** 3, declareSize: false });
      assert.match((await answerTo(emu, photo)).text!, tooLargeReply);
      // A video: its limit is the video limit (20 MB); "Watching..." goes out, then the refusal.
      const video = emu.sendLocalVideo(bo, chat, huge, { duration: 10, size: 3 * 1024 ** 3, declareSize: false });
      assert.equal((await answerTo(emu, video)).text, 'Watching...');
      const refusal = await emu.waitFor((c) => c.ok && c.method === 'editMessageText' && c.chatId === chat.id, { timeoutMs: 30_000 });
      assert.match(refusal.text!, /That file is over 20 MB/);
      assert.equal(emu.downloads.length, 0, 'local files are read from disk, not downloaded');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
