import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { logger } from '../../log.ts';
import { fail, ok, type Result } from '../result.ts';
import type { RgbImage } from '../types.ts';
import { planInput, type InputPlan } from './mp4Layout.ts';
import type { VideoInput } from './types.ts';

// Video bytes in, sampled RGB frames out, through an ffmpeg child process. The bytes are piped into
// ffmpeg as they arrive, so frames come out while the upload is still going; only an MP4 whose index
// sits at its end is written to a temporary file first (see mp4Layout.ts).

const log = logger('video-decode');

export interface FrameDecodeOptions {
  fps: number;
  maxSeconds: number;
  maxBytes: number;
  maxWidth: number;
  /** Path of the ffmpeg binary (default "ffmpeg" on PATH). */
  ffmpegPath?: string;
}

export interface DecodedFrame {
  image: RgbImage;
  /** 0-based, in sampled frames. */
  index: number;
  /** Seconds into the video. */
  timeSec: number;
}

export interface DecodeSummary {
  frames: number;
  spooled: boolean;
  /** From the container, when it says. */
  durationSec: number | null;
}

function toAsyncIterable(input: VideoInput): AsyncIterable<Uint8Array> {
  if (input instanceof Uint8Array) {
    return (async function* () {
      yield input;
    })();
  }
  return input;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function looksLikeContainer(prefix: Uint8Array): boolean {
  const text = Buffer.from(prefix.subarray(0, 12)).toString('latin1');
  return text.slice(4, 8) === 'ftyp' || text.startsWith('\x1aE\xdf\xa3') || text.startsWith('RIFF') || text.startsWith('GIF8');
}

/** Turns ffmpeg's complaint into a failure a user can be told about. */
function classify(stderr: string, prefix: Uint8Array): Result<never> {
  if (/matches no streams|does not contain any stream/i.test(stderr)) {
    return fail('no_video_stream', 'That file has no video in it.');
  }
  if (/moov atom not found|partial file|error reading header|truncat/i.test(stderr) || (looksLikeContainer(prefix) && /Invalid data found/i.test(stderr))) {
    return fail('corrupt_video', 'That video seems to be damaged or cut short.');
  }
  if (/Invalid data found when processing input|could not find codec parameters|Unknown input format/i.test(stderr)) {
    return fail('not_a_video', "That file isn't a video I can read.");
  }
  return fail('corrupt_video', 'That video could not be decoded.');
}

const DURATION = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/;
const OUTPUT_SIZE = /Video: rawvideo[^\n]*?, (\d{1,5})x(\d{1,5})[ ,\n]/;

/**
 * Yields frames as ffmpeg decodes them; returns a summary or a typed failure. Returning early (break
 * out of the loop) stops ffmpeg and removes any temporary file.
 */
export async function* decodeFrames(input: VideoInput, opts: FrameDecodeOptions): AsyncGenerator<DecodedFrame, Result<DecodeSummary>> {
  const source = toAsyncIterable(input)[Symbol.asyncIterator]();
  const prefixChunks: Uint8Array[] = [];
  let received = 0;
  let plan: InputPlan = 'need_more';
  let ended = false;
  while (plan === 'need_more') {
    const next = await source.next();
    if (next.done) ended = true;
    else {
      prefixChunks.push(next.value);
      received += next.value.length;
      if (received > opts.maxBytes) return tooLarge(opts.maxBytes);
    }
    plan = planInput(concat(prefixChunks), ended);
  }
  const prefix = concat(prefixChunks);
  if (received === 0) return fail('empty_file', 'That file is empty.');

  let tempDir: string | null = null;
  let inputArg = 'pipe:0';
  if (plan === 'spool') {
    tempDir = await mkdtemp(path.join(tmpdir(), 'lookalike-video-'));
    inputArg = path.join(tempDir, 'input');
    const out = createWriteStream(inputArg);
    try {
      out.write(prefix);
      while (!ended) {
        const next = await source.next();
        if (next.done) {
          ended = true;
          break;
        }
        received += next.value.length;
        if (received > opts.maxBytes) {
          out.destroy();
          await rm(tempDir, { recursive: true, force: true });
          return tooLarge(opts.maxBytes);
        }
        if (!out.write(next.value)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
    } catch (err) {
      out.destroy();
      await rm(tempDir, { recursive: true, force: true });
      throw err;
    }
  }

  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'info',
    ...(plan === 'spool' ? ['-nostdin'] : []),
    '-i', inputArg,
    '-map', '0:v:0', '-an', '-sn', '-dn',
    '-vf', `fps=${opts.fps},scale='min(${opts.maxWidth},iw)':-2`,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
  const proc = spawn(opts.ffmpegPath ?? 'ffmpeg', args, { stdio: [plan === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);

  let stderr = '';
  // Filled in by the stderr listener; an object so the compiler does not narrow it away.
  const info: { size: { width: number; height: number } | null; durationSec: number | null } = { size: null, durationSec: null };
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (text: string) => {
    if (stderr.length < 64 * 1024) stderr += text;
    if (info.durationSec === null) {
      const d = DURATION.exec(stderr);
      if (d) info.durationSec = Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]);
      // Known too long from the container's header: no need to decode any of it.
      if (info.durationSec !== null && info.durationSec > opts.maxSeconds) proc.kill('SIGKILL');
    }
    if (!info.size) {
      const outAt = stderr.indexOf('Output #0');
      const m = outAt >= 0 ? OUTPUT_SIZE.exec(stderr.slice(outAt)) : null;
      if (m) info.size = { width: Number(m[1]), height: Number(m[2]) };
    }
  });

  let inputFailure: Result<never> | null = null;
  if (plan === 'pipe') {
    const stdin = proc.stdin!;
    // ffmpeg may stop reading early (an error, or we stopped it): later writes then fail with EPIPE.
    stdin.on('error', () => undefined);
    void (async () => {
      try {
        if (!stdin.write(prefix)) await once(stdin, 'drain');
        while (!ended && !stdin.destroyed) {
          const next = await source.next();
          if (next.done) {
            ended = true;
            break;
          }
          received += next.value.length;
          if (received > opts.maxBytes) {
            inputFailure = tooLarge(opts.maxBytes);
            proc.kill('SIGKILL');
            return;
          }
          if (!stdin.write(next.value)) await Promise.race([once(stdin, 'drain'), once(stdin, 'close')]);
        }
      } catch (err) {
        log.warn({ err }, 'video input stream failed');
        inputFailure = fail('corrupt_video', 'The video could not be read to the end.');
      } finally {
        stdin.end();
      }
    })();
  }

  let frames = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let finished = false;
  const takeFrames = (): DecodedFrame[] => {
    const size = info.size;
    if (!size) return [];
    const frameBytes = size.width * size.height * 3;
    const out: DecodedFrame[] = [];
    while (pendingBytes >= frameBytes) {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      const data = Buffer.from(all.subarray(0, frameBytes));
      pending = all.length > frameBytes ? [all.subarray(frameBytes)] : [];
      pendingBytes -= frameBytes;
      const index = frames++;
      out.push({ image: { data, width: size.width, height: size.height }, index, timeSec: index / opts.fps });
    }
    return out;
  };
  try {
    const maxFrames = Math.floor(opts.maxSeconds * opts.fps) + 1;
    for await (const chunk of proc.stdout! as AsyncIterable<Buffer>) {
      if (info.durationSec !== null && info.durationSec > opts.maxSeconds) return tooLong(opts.maxSeconds);
      pending.push(chunk);
      pendingBytes += chunk.length;
      for (const frame of takeFrames()) {
        if (frames > maxFrames) return tooLong(opts.maxSeconds);
        yield frame;
      }
    }
    const code = await exited;
    finished = true;
    // The size line can come after the last bytes of a very short video.
    for (const frame of takeFrames()) {
      if (frames > maxFrames) return tooLong(opts.maxSeconds);
      yield frame;
    }
    if (inputFailure) return inputFailure;
    if (info.durationSec !== null && info.durationSec > opts.maxSeconds) return tooLong(opts.maxSeconds);
    if (frames === 0) {
      log.debug({ code, stderr: stderr.slice(-2000) }, 'ffmpeg produced no frames');
      return classify(stderr, prefix);
    }
    if (code !== 0) log.warn({ code, frames }, 'ffmpeg ended with an error after some frames; using those');
    return ok({ frames, spooled: plan === 'spool', durationSec: info.durationSec });
  } finally {
    if (!finished) {
      proc.kill('SIGKILL');
      await exited.catch(() => undefined);
    }
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    // Stop an upload or download still arriving: nobody will read the rest.
    if (!ended) void source.return?.(undefined)?.catch(() => undefined);
  }
}

function tooLarge(maxBytes: number): Result<never> {
  return fail('file_too_large', `That video is over ${Math.round(maxBytes / (1024 * 1024))} MB.`);
}

function tooLong(maxSeconds: number): Result<never> {
  return fail('video_too_long', `That video is longer than ${maxSeconds} seconds.`);
}
