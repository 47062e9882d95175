import type { FaceResult, Match, MatchReport } from '../../core/engineTypes.ts';
import type { CelebrityCount, LeaderboardEntry } from '../../db/types.ts';

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

export interface CaptionOptions {
  markup: Markup;
  /** The platform's caption limit in visible characters (Telegram: 1024). */
  maxLength: number;
  /** Runners-up named per face (default 3). */
  runnersUp?: number;
}

/**
 * One face: the top match with its similarity, then the runners-up. Several faces: one row per face,
 * largest face first, in the order of the rows of the picture. Rows that do not fit are counted.
 */
export function matchCaption(report: MatchReport, opts: CaptionOptions): string {
  const { markup } = opts;
  const count = opts.runnersUp ?? 3;
  const faces = report.faces.filter((f) => f.matches.length > 0);
  if (faces.length === 1) {
    const face = faces[0]!;
    const best = face.matches[0]!;
    const lines = [`You look like ${markup.bold(markup.escape(celebrityName(best.name)))} (${percent(best.similarity)} similar).`];
    const rest = runnersUp(face, markup, count);
    if (rest) lines.push(`Runners-up: ${rest}`);
    return fitLines(lines, [], opts.maxLength, markup);
  }
  const header = `${faces.length} faces, largest first:`;
  const rows = faces.map((face, i) => {
    const best = face.matches[0]!;
    const rest = runnersUp(face, markup, Math.min(count, 2));
    return `${i + 1}. ${markup.bold(markup.escape(celebrityName(best.name)))} ${percent(best.similarity)}${rest ? ` (then ${rest})` : ''}`;
  });
  return fitLines([header], rows, opts.maxLength, markup);
}

/** The face whose top match is the most similar: what a leaderboard records for the photo. */
export function bestMatch(report: MatchReport): Match | undefined {
  let best: Match | undefined;
  for (const face of report.faces) {
    const top = face.matches[0];
    if (top && (!best || top.similarity > best.similarity)) best = top;
  }
  return best;
}

export interface LeaderboardTextOptions {
  markup: Markup;
  maxLength: number;
  title?: string;
}

export function leaderboardText(entries: LeaderboardEntry[], celebrities: CelebrityCount[], opts: LeaderboardTextOptions): string {
  const { markup } = opts;
  const title = markup.bold(markup.escape(opts.title ?? 'Look-alike leaderboard'));
  if (entries.length === 0) {
    return `${title}\nNobody here is on it yet. Reply /lookalike to a photo to start.`;
  }
  const rows = entries.map(
    (e) => `${e.rank}. ${markup.escape(e.displayName || 'Someone')}: ${markup.escape(celebrityName(e.celebrity))}, ${percent(e.similarity)}`,
  );
  const tail: string[] = [];
  if (celebrities.length > 0) {
    tail.push('', `${markup.bold('Most matched')}: ${celebrities.map((c) => `${markup.escape(celebrityName(c.celebrity))} (${c.count})`).join(', ')}`);
  }
  return fitLines([title], rows, opts.maxLength, markup, tail);
}

/** Joins lines, dropping rows from the end (and saying how many) when the visible text would be too long. */
function fitLines(head: string[], rows: string[], maxLength: number, markup: Markup, tail: string[] = []): string {
  for (let keep = rows.length; keep >= 0; keep--) {
    const dropped = rows.length - keep;
    const lines = [...head, ...rows.slice(0, keep), ...(dropped > 0 ? [`…and ${dropped} more`] : []), ...tail];
    const text = lines.join('\n');
    if (markup.visible(text).length <= maxLength) return text;
  }
  // Even the head alone is too long (an absurd gallery name): cut the visible text.
  return markup.escape(markup.visible([...head, ...tail].join('\n')).slice(0, maxLength - 1)) + '…';
}
