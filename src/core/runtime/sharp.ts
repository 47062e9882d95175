import sharp from 'sharp';

// The one place that imports sharp. Settings that apply to the whole process are made here once:
// no operation cache (each request is a new photo, and the cache only holds memory), and libvips
// threads left to its default of one per core.
sharp.cache(false);

export { sharp };
export type { Sharp, OverlayOptions } from 'sharp';
