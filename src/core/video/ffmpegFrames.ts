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
  /** Frames are scaled down further when width x height would pass this (a tall video is capped too). */
  maxPixels: number;
  /** Kills ffmpeg and stops reading: the generator then throws the signal's reason. */
  signal?: AbortSignal;
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
/**
 * ffmpeg's scale filter for both caps: at most maxWidth wide and maxPixels in all, aspect kept, even
 * sides (rgb24 does not need them, but yuv intermediates do), never enlarged.
 */
export function scaleFilter(maxWidth: number, maxPixels: number): string {
  return `scale=w='max(2,trunc(min(min(iw,${maxWidth}),iw*sqrt(${maxPixels}/(iw*ih)))/2)*2)':h=-2`;
}

export async function* decodeFrames(input: VideoInput, opts: FrameDecodeOptions): AsyncGenerator<DecodedFrame, Result<DecodeSummary>> {
  opts.signal?.throwIfAborted();
  const source = toAsyncIterable(input)[Symbol.asyncIterator]();
  // Stop an upload or download still arriving: nobody will read the rest.
  const dropSource = () => void source.return?.(undefined)?.catch(() => undefined);
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
      if (received > opts.maxBytes) {
        dropSource();
        return tooLarge(opts.maxBytes);
      }
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
        opts.signal?.throwIfAborted();
        const next = await source.next();
        if (next.done) {
          ended = true;
          break;
        }
        received += next.value.length;
        if (received > opts.maxBytes) {
          out.destroy();
          dropSource();
          await rm(tempDir, { recursive: true, force: true });
          return tooLarge(opts.maxBytes);
        }
        if (!out.write(next.value)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
    } catch (err) {
      out.destroy();
      dropSource();
      await rm(tempDir, { recursive: true, force: true });
      throw err;
    }
  }

  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'info',
    ...(plan === 'spool' ? ['-nostdin'] : []),
    '-i', inputArg,
    '-map', '0:v:0', '-an', '-sn', '-dn',
    // eof_action=pass: a still GIF or a clip shorter than one sampling interval still gives its frame
    // (without it ffmpeg 5.1 outputs nothing, and the file would be called damaged).
    '-vf', `fps=${opts.fps}:eof_action=pass,${scaleFilter(opts.maxWidth, opts.maxPixels)}`,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
  const proc = spawn(opts.ffmpegPath ?? 'ffmpeg', args, { stdio: [plan === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);

  // Why we killed ffmpeg, when we did: this, not what the kill broke (a pipe, the output), is the answer.
  let stopped: Result<never> | null = null;
  const stop = (why: Result<never>) => {
    stopped ??= why;
    proc.kill('SIGKILL');
  };
  const onAbort = () => proc.kill('SIGKILL');
  opts.signal?.addEventListener('abort', onAbort, { once: true });

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
      if (info.durationSec !== null && info.durationSec > opts.maxSeconds) stop(tooLong(opts.maxSeconds));
    }
    if (!info.size) {
      const outAt = stderr.indexOf('Output #0');
      const m = outAt >= 0 ? OUTPUT_SIZE.exec(stderr.slice(outAt)) : null;
      if (m) info.size = { width: Number(m[1]), height: Number(m[2]) };
    }
  });

  // Reading the input failed (a broken download); ffmpeg refusing more input is not this.
  let inputFailure: Result<never> | null = null;
  if (plan === 'pipe') {
    const stdin = proc.stdin!;
    // ffmpeg may stop reading early (an error, or we stopped it): later writes then fail with EPIPE.
    stdin.on('error', () => undefined);
    /** False once ffmpeg no longer takes input. */
    const write = async (chunk: Uint8Array): Promise<boolean> => {
      if (stdin.destroyed) return false;
      if (stdin.write(chunk)) return true;
      try {
        await Promise.race([once(stdin, 'drain'), once(stdin, 'close')]);
      } catch {
        return false;
      }
      return !stdin.destroyed;
    };
    void (async () => {
      try {
        if (!(await write(prefix))) return;
        while (!ended) {
          let next: IteratorResult<Uint8Array>;
          try {
            next = await source.next();
          } catch (err) {
            if (!stopped && !opts.signal?.aborted) {
              log.warn({ err }, 'video input stream failed');
              inputFailure = fail('corrupt_video', 'The video could not be read to the end.');
            }
            return;
          }
          if (next.done) {
            ended = true;
            break;
          }
          received += next.value.length;
          if (received > opts.maxBytes) {
            stop(tooLarge(opts.maxBytes));
            return;
          }
          if (!(await write(next.value))) return;
        }
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
      if (stopped) break;
      pending.push(chunk);
      pendingBytes += chunk.length;
      for (const frame of takeFrames()) {
        if (frames > maxFrames) return tooLong(opts.maxSeconds);
        yield frame;
      }
    }
    const code = await exited;
    finished = true;
    opts.signal?.throwIfAborted();
    if (stopped) return stopped;
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
    opts.signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      proc.kill('SIGKILL');
      await exited.catch(() => undefined);
    }
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    if (!ended) dropSource();
  }
}

function tooLarge(maxBytes: number): Result<never> {
  return fail('file_too_large', `That video is over ${Math.round(maxBytes / (1024 * 1024))} MB.`);
}

function tooLong(maxSeconds: number): Result<never> {
  return fail('video_too_long', `That video is longer than ${maxSeconds} seconds.`);
}
