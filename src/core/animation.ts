import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LookalikeError } from './errors.ts';
import { sharp } from './runtime/sharp.ts';

// Animated pictures from RGB frames: GIF through sharp (Discord plays GIFs inline), H.264 MP4 through
// ffmpeg (what Telegram's sendAnimation plays; it turns GIFs into MP4 itself, at a larger size).

export interface Frames {
  size: number;
  frames: Buffer[];
  /** Milliseconds per frame. */
  delays: number[];
}

export class AnimationEncodeError extends LookalikeError {}

export async function encodeGif({ size, frames, delays }: Frames): Promise<Buffer> {
  const strip = Buffer.concat(frames);
  return sharp(strip, { raw: { width: size, height: size * frames.length, channels: 3, pageHeight: size } })
    .gif({ delay: delays.map((d) => Math.round(d)), loop: 0, effort: 4, dither: 0.5 })
    .toBuffer();
}

/**
 * H.264 in MP4 with the index first (fast start), yuv420p so that every player takes it. Variable frame
 * delays become a constant 50 fps stream with frames repeated (the delays here are multiples of 10 ms).
 */
export async function encodeMp4({ size, frames, delays }: Frames, opts: { ffmpegPath?: string; signal?: AbortSignal } = {}): Promise<Buffer> {
  const FPS = 50;
  const { signal } = opts;
  signal?.throwIfAborted();
  const dir = await mkdtemp(path.join(tmpdir(), 'lookalike-mp4-'));
  const out = path.join(dir, 'morph.mp4');
  // A timed-out request's encoder is killed, so that it stops using the slot's CPU.
  let onAbort: (() => void) | undefined;
  try {
    const args = [
      '-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${size}x${size}`, '-r', String(FPS), '-i', 'pipe:0',
      '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', out,
    ];
    const proc = spawn(opts.ffmpegPath ?? 'ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()).length > 4000 && (stderr = stderr.slice(-4000)));
    // A killed ffmpeg closes its stdin: the write fails, which the exit code below reports.
    proc.stdin.on('error', () => {});
    let closed = false;
    const exited = new Promise<number>((resolve, reject) => {
      proc.on('error', reject);
      proc.on('close', (code) => {
        closed = true;
        resolve(code ?? -1);
      });
    });
    onAbort = () => proc.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    for (let i = 0; i < frames.length && !closed && !signal?.aborted; i++) {
      const repeats = Math.max(1, Math.round((delays[i]! * FPS) / 1000));
      for (let r = 0; r < repeats && !closed && !signal?.aborted; r++) {
        if (!proc.stdin.write(frames[i]!)) await Promise.race([new Promise((resolve) => proc.stdin.once('drain', resolve)), exited]);
      }
    }
    proc.stdin.end();
    const code = await exited;
    signal?.throwIfAborted();
    if (code !== 0) throw new AnimationEncodeError(`ffmpeg could not encode the MP4 (exit ${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`);
    return await readFile(out);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    await rm(dir, { recursive: true, force: true });
  }
}
