import type { VideoReport, VideoUpdate } from '../../core/video/types.ts';
import type { Match } from '../../core/engineTypes.ts';
import { celebrityName, percent } from './format.ts';
import type { Translate } from './i18n.ts';

// The words of a video being watched, the same on every platform (plain text, in the language of `t`).

/** The first answer, sent at once and then edited. */
export function watchingText(t: Translate): string {
  return t('video.watching');
}

export function progressText(update: VideoUpdate, t: Translate): string {
  const best = update.tracks[0]?.matches[0];
  const count = update.framesProcessed;
  return best ? t('video.progress', { count, name: celebrityName(best.name), percent: percent(best.similarity) }) : t('video.progress_none', { count });
}

export function doneText(report: VideoReport, best: Match, t: Translate): string {
  return t('video.done', { count: report.framesProcessed, name: celebrityName(best.name), percent: percent(best.similarity) });
}
