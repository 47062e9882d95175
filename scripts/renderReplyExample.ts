// Renders docs/reply-example.jpg: the reply picture's layout with drawn silhouettes in place of faces
// (photos of real people are never committed). Run: node --import tsx scripts/renderReplyExample.ts
import { writeFileSync } from 'node:fs';
import { composeReply, type ComposeMatch } from '../src/core/compose.ts';
import { sharp } from '../src/core/runtime/sharp.ts';
import type { RgbImage } from '../src/core/types.ts';

async function silhouette(hue: number, size = 320): Promise<RgbImage> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">
    <defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="hsl(${hue},45%,62%)"/><stop offset="1" stop-color="hsl(${hue + 30},45%,38%)"/></linearGradient></defs>
    <rect width="100" height="100" fill="url(#g)"/>
    <circle cx="50" cy="40" r="21" fill="hsl(${hue},25%,88%)"/>
    <path d="M12 100 C14 72 32 64 50 64 C68 64 86 72 88 100 Z" fill="hsl(${hue},25%,88%)"/></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const match = async (name: string, similarity: number, hue: number): Promise<ComposeMatch> => ({ name, similarity, face: await silhouette(hue) });
const jpeg = await composeReply([
  {
    userFace: await silhouette(210),
    best: { ...(await match('Celebrity Name', 82.4, 330)), photoYear: 1993, age: 37 },
    runnersUp: [await match('Runner Up', 71.0, 20), await match('Another Actor', 64.2, 140), await match('A Very Long Celebrity Name', 58.9, 260)],
  },
]);
writeFileSync(new URL('../docs/reply-example.jpg', import.meta.url), jpeg);
console.log(`docs/reply-example.jpg: ${jpeg.length} bytes`);
