import sharp from 'sharp';

// The one place that imports sharp. Settings that apply to the whole process are made here once:
// no operation cache (each request is a new photo, and the cache only holds memory). libvips threads
// are set by whoever opens the engine (setImageThreads).
sharp.cache(false);

/**
 * libvips threads per image operation, for the whole process. sharp's own default on glibc Linux is
 * one (to keep malloc's arenas few). A process matching one photo at a time gains from every core:
 * the JPEG decode and the detector's level resizes overlap their work (`match` 3-4 ms faster in
 * interleaved A/Bs on the 2-core VM); a service running a request per core gains nothing.
 */
export function setImageThreads(threads: number): void {
  sharp.concurrency(Math.max(1, Math.floor(threads)));
}

// Loaders the project never uses stay blocked: bytes that got past the checks in decode.ts still reach
// only the photo decoders. SVG is read from a buffer for the reply picture's text (compose.ts), never
// from a user (decode.ts sniffs the first bytes before sharp sees them). Blocking a class blocks its
// subclasses (file, buffer and source loaders).
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({
  operation: [
    'VipsForeignLoadJpeg',
    'VipsForeignLoadPng',
    'VipsForeignLoadWebp',
    'VipsForeignLoadNsgif',
    'VipsForeignLoadHeif',
    'VipsForeignLoadTiff',
    'VipsForeignLoadSvgBuffer',
  ],
});

export { sharp };
export type { Sharp, OverlayOptions } from 'sharp';
