import sharp from 'sharp';

// The one place that imports sharp. Settings that apply to the whole process are made here once:
// no operation cache (each request is a new photo, and the cache only holds memory), and libvips
// threads left to its default of one per core.
sharp.cache(false);

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
