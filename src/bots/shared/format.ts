import type { FaceResult, Match } from '../../core/engineTypes.ts';
import type { CelebrityCount, LeaderboardEntry } from '../../db/types.ts';
import type { Translate } from './i18n.ts';

// The words around a look-alike picture and a leaderboard, for any chat platform: each platform passes
// its markup (Telegram HTML now, Discord Markdown later) and its length limit.

export interface Markup {
  bold(text: string): string;
  /** Makes user- or gallery-supplied text safe to embed. */
  escape(text: string): string;
  /** The text as the reader sees it, markup removed (platform limits count these characters). */
  visible(text: string): string;
}

export const htmlMarkup: Markup = {
  bold: (text) => `<b>${text}</b>`,
  escape: (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
  visible: (text) =>
    text
      .replace(/<[^>]+>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
};

export const plainMarkup: Markup = {
  bold: (text) => text,
  escape: (text) => text,
  visible: (text) => text,
};

/** Gallery folder names use underscores for spaces ("Lin_Manuel_Miranda"). */
export function celebrityName(name: string): string {
  return name.replace(/_/g, ' ').trim();
}

export function percent(similarity: number): string {
  return `${Math.round(similarity)}%`;
}

function matchText(m: Match, markup: Markup): string {
  return `${markup.escape(celebrityName(m.name))} ${percent(m.similarity)}`;
}

function runnersUp(face: FaceResult, markup: Markup, count: number): string {
  return face.matches
    .slice(1, 1 + count)
    .map((m) => matchText(m, markup))
    .join(', ');
}

/** "1993, age 37" for a match whose gallery photo has a plausible year and age, else ''. */
export function photoAge(m: Match, t: Translate): string {
  return m.photoYear !== undefined && m.age !== undefined ? t('caption.photo_age', { year: m.photoYear, age: m.age }) : '';
}

/** What a caption needs of a report: a photo's or a video's. */
export interface CaptionReport {
  faces: FaceResult[];
  /** Faces found in the photo, when more than those matched. */
  facesFound?: number;
}

export interface CaptionOptions {
  markup: Markup;
  t: Translate;
  /** The platform's caption limit in visible characters (Telegram: 1024). */
  maxLength: number;
  /** Runners-up named per face (default 3). */
  runnersUp?: number;
  /** The line that says how to ask for another face, when not all faces were matched. */
  pickHint?: string;
}

/**
 * One face: the top match with its similarity and the year and age of its photo, then the runners-up.
 * Several faces: one row per face, largest face first, in the order of the rows of the picture, each
 * numbered as the picture numbers it (from the left). Rows that do not fit are counted.
 */
export function matchCaption(report: CaptionReport, opts: CaptionOptions): string {
  const { markup, t } = opts;
  const count = opts.runnersUp ?? 3;
  const faces = report.faces.filter((f) => f.matches.length > 0);
  const found = report.facesFound ?? faces.length;
  const hint = found > faces.length && opts.pickHint ? [opts.pickHint] : [];
  if (faces.length === 1 && found === 1) {
    const face = faces[0]!;
    const best = face.matches[0]!;
    const lines = [t('caption.you_look_like', { name: markup.bold(markup.escape(celebrityName(best.name))), percent: percent(best.similarity) })];
    const when = photoAge(best, t);
    if (when) lines.push(when);
    const rest = runnersUp(face, markup, count);
    if (rest) lines.push(t('caption.runners_up', { list: rest }));
    return fitLines(lines, [], opts.maxLength, markup, t);
  }
  const header =
    faces.length === 1
      ? t('caption.face_of', { n: faces[0]!.number ?? 1, total: found })
      : found > faces.length
        ? t('caption.faces_of', { shown: faces.length, total: found })
        : t('caption.faces_largest_first', { count: faces.length });
  const rows = faces.map((face, i) => {
    const best = face.matches[0]!;
    const rest = runnersUp(face, markup, Math.min(count, 2));
    const when = photoAge(best, t);
    return `${face.number ?? i + 1}. ${markup.bold(markup.escape(celebrityName(best.name)))} ${percent(best.similarity)}${when ? ` (${when})` : ''}${rest ? ` (${t('caption.then', { list: rest })})` : ''}`;
  });
  return fitLines([header], rows, opts.maxLength, markup, t, hint);
}

/** The face whose top match is the most similar: what a leaderboard records for the photo. */
export function bestMatch(report: CaptionReport): Match | undefined {
  let best: Match | undefined;
  for (const face of report.faces) {
    const top = face.matches[0];
    if (top && (!best || top.similarity > best.similarity)) best = top;
  }
  return best;
}

export interface LeaderboardTextOptions {
  markup: Markup;
  t: Translate;
  maxLength: number;
  title?: string;
  /** The line under the title when nobody is on the board yet. */
  empty: string;
}

export function leaderboardText(entries: LeaderboardEntry[], celebrities: CelebrityCount[], opts: LeaderboardTextOptions): string {
  const { markup, t } = opts;
  const title = markup.bold(markup.escape(opts.title ?? t('leaderboard.title')));
  if (entries.length === 0) return `${title}\n${opts.empty}`;
  const rows = entries.map(
    (e) => `${e.rank}. ${markup.escape(e.displayName || t('leaderboard.someone'))}: ${markup.escape(celebrityName(e.celebrity))}, ${percent(e.similarity)}`,
  );
  const tail: string[] = [];
  if (celebrities.length > 0) {
    tail.push('', `${markup.bold(t('leaderboard.most_matched'))}: ${celebrities.map((c) => `${markup.escape(celebrityName(c.celebrity))} (${c.count})`).join(', ')}`);
  }
  return fitLines([title], rows, opts.maxLength, markup, t, tail);
}

/** Joins lines, dropping rows from the end (and saying how many) when the visible text would be too long. */
function fitLines(head: string[], rows: string[], maxLength: number, markup: Markup, t: Translate, tail: string[] = []): string {
  for (let keep = rows.length; keep >= 0; keep--) {
    const dropped = rows.length - keep;
    const lines = [...head, ...rows.slice(0, keep), ...(dropped > 0 ? [t('caption.and_more', { count: dropped })] : []), ...tail];
    const text = lines.join('\n');
    if (markup.visible(text).length <= maxLength) return text;
  }
  // Even the head alone is too long (an absurd gallery name): cut the visible text.
  return markup.escape(markup.visible([...head, ...tail].join('\n')).slice(0, maxLength - 1)) + '…';
}
