import type { VideoReport, VideoUpdate } from '../../core/video/types.ts';
import type { Match } from '../../core/engineTypes.ts';
import { celebrityName, percent } from './format.ts';

// The words of a video being watched, the same on every platform (plain text).

/** The first answer, sent at once and then edited. */
export const WATCHING = 'Watching...';

export function progressText(update: VideoUpdate): string {
  const best = update.tracks[0]?.matches[0];
  const seen = `${update.framesProcessed} frame${update.framesProcessed === 1 ? '' : 's'} watched`;
  return best ? `Watching... ${seen}. So far you look like ${celebrityName(best.name)} (${percent(best.similarity)}).` : `Watching... ${seen}, no face yet.`;
}

export function doneText(report: VideoReport, best: Match): string {
  return `Done: ${report.framesProcessed} frames watched. You look most like ${celebrityName(best.name)} (${percent(best.similarity)}).`;
}
