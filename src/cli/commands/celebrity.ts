import type { Gallery } from '../../core/gallery.ts';
import { fail, ok, type Result } from '../../core/result.ts';
import { l2Normalise, toPercent } from '../../core/similarity.ts';

// Celebrity against celebrity: which other people in the index look most like one of its people.
// 'mean' compares the person's average face (the normalised mean of their descriptors) with every
// face; 'best' takes, for each other person, the closest pair of faces between the two. The person's
// own faces never count.

export type CelebrityMode = 'mean' | 'best';

export interface CelebrityLookalike {
  name: string;
  /** 0..100, as `match` shows it. */
  similarity: number;
  cosine: number;
  /** The other person's face that matched, and its image. */
  faceId: number;
  image: string;
}

export interface CelebrityLookalikes {
  /** The name as the index spells it. */
  name: string;
  faces: number;
  mode: CelebrityMode;
  matches: CelebrityLookalike[];
}

/** Finds the index's spelling of a name: exact, else ignoring case and accents, else a unique part. */
export function resolveCelebrity(gallery: Gallery, query: string): Result<string> {
  const names = gallery.identityNames();
  if (names.includes(query)) return ok(query);
  const key = fold(query);
  const same = names.filter((n) => fold(n) === key);
  if (same.length === 1) return ok(same[0]!);
  const partial = same.length > 1 ? same : names.filter((n) => fold(n).includes(key));
  if (partial.length === 1) return ok(partial[0]!);
  if (partial.length > 1) {
    const shown = partial.slice(0, 8).join(', ');
    return fail('unknown_celebrity', `"${query}" matches ${partial.length} people in the index: ${shown}${partial.length > 8 ? ', ...' : ''}. Give the full name.`);
  }
  return fail('unknown_celebrity', `No one called "${query}" in the index (${names.length} people). Check the spelling, or list them with lookalike index report.`);
}

export function celebrityLookalikes(
  gallery: Gallery,
  query: string,
  opts: { top: number; mode: CelebrityMode; floor: number },
): Result<CelebrityLookalikes> {
  const resolved = resolveCelebrity(gallery, query);
  if (!resolved.ok) return resolved;
  const name = resolved.value;
  const own = gallery.facesOf(name);
  const descriptors = own.map((id) => gallery.descriptor(id));
  // Ask for enough neighbours that the person's own faces cannot crowd everyone else out.
  const want = opts.top + own.length;
  const notSelf = { exclude: (hit: { name: string }) => hit.name === name, floor: opts.floor };

  let matches: CelebrityLookalike[];
  if (opts.mode === 'mean') {
    const mean = new Float32Array(gallery.info.dims);
    for (const d of descriptors) for (let i = 0; i < d.length; i++) mean[i]! += d[i]!;
    matches = gallery.search(l2Normalise(mean), want, notSelf).map(toLookalike);
  } else {
    const best = new Map<string, CelebrityLookalike>();
    for (const d of descriptors) {
      for (const hit of gallery.search(d, want, notSelf)) {
        const seen = best.get(hit.name);
        if (!seen || hit.cosine > seen.cosine) best.set(hit.name, toLookalike(hit));
      }
    }
    matches = [...best.values()].sort((a, b) => b.cosine - a.cosine);
  }
  matches = matches.slice(0, opts.top).map((m) => ({ ...m, similarity: toPercent(m.cosine, opts.floor) }));
  return ok({ name, faces: own.length, mode: opts.mode, matches });
}

function toLookalike(hit: { name: string; similarity: number; cosine: number; faceId: number; image: string }): CelebrityLookalike {
  return { name: hit.name, similarity: hit.similarity, cosine: hit.cosine, faceId: hit.faceId, image: hit.image };
}

/** Lower case, accents and punctuation dropped: 'Beyoncé' and 'beyonce' fold alike. */
function fold(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}
