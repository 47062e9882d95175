import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import decode, { init } from '@jsquash/jpeg/decode.js';
import type { RgbImage } from '../types.ts';

// The one place that imports @jsquash/jpeg: libjpeg's (mozjpeg's) decoder compiled to WebAssembly, for
// the gallery's own small thumbnails only (never a user's file: those go through sharp, decode.ts).
// A sharp call costs 1-2 ms whatever the image's size on the bench VM (its threads hand work over
// through 100-180 futex calls); this decodes a 208 px thumbnail in about 0.6 ms on the
// main thread, with the same pixels.

let ready: Promise<void> | null = null;

/** Compiles the decoder (about 170 KB of WebAssembly) ahead of the first reply; idempotent. */
export function startJpegDecoder(): Promise<void> {
  ready ??= (async () => {
    const file = createRequire(import.meta.url).resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm');
    // Compiled here from the package's file: left to itself the Emscripten loader fetches a URL.
    const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<unknown> } };
    // libjpeg's warnings would go straight to stderr; a thumbnail it refuses goes to libvips instead.
    const quiet = () => undefined;
    const initWith = init as unknown as (module: unknown, overrides: { print(): void; printErr(): void }) => Promise<void>;
    await initWith(await wasm.compile(readFileSync(file)), { print: quiet, printErr: quiet });
  })();
  return ready;
}

/** Decoded pixels as libjpeg hands them over: 4 bytes a pixel (RGBA, alpha unused). */
export interface RgbaPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 4;
}

/**
 * A baseline or progressive JPEG as RGBA, the decoder's own layout (a caller that resamples anyway
 * reads it as it is, without a pass to pack it). Throws on a file it cannot decode (libjpeg's exit
 * becomes an exception, and the decoder goes on working); a truncated file decodes, its end grey.
 */
export async function decodeJpegRgba(jpeg: Uint8Array): Promise<RgbaPixels> {
  await startJpegDecoder();
  const { data, width, height } = await decode(jpeg.buffer.slice(jpeg.byteOffset, jpeg.byteOffset + jpeg.byteLength) as ArrayBuffer);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels: 4 };
}

/** A baseline or progressive JPEG as packed RGB (see decodeJpegRgba). */
export async function decodeJpegRgb(jpeg: Uint8Array): Promise<RgbImage> {
  return packRgb(await decodeJpegRgba(jpeg));
}

/** RGBA pixels packed to RGB, alpha dropped. */
export function packRgb({ data: rgba, width, height }: RgbaPixels): RgbImage {
  const data = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    data[o] = rgba[i]!;
    data[o + 1] = rgba[i + 1]!;
    data[o + 2] = rgba[i + 2]!;
  }
  return { data, width, height };
}
