import type { FaceChoice } from '../../core/engineTypes.ts';

// Which face of a group photo a user asks for: a number counted from the left ("3"), or the one in
// the middle ("centre", "center", "middle", and the same words in the bot's other languages).

const CENTRE = new Set(['centre', 'center', 'middle', 'c', 'centro', 'medio', 'meio', 'центр', 'середина']);

/** The choice in a command's argument; undefined when there is none, null when it is not one. */
export function parseFaceChoice(arg: string | null | undefined): FaceChoice | undefined | null {
  const word = (arg ?? '').trim().toLowerCase().replace(/^#/, '');
  if (word === '') return undefined;
  if (CENTRE.has(word)) return 'centre';
  if (/^\d{1,3}$/.test(word) && Number(word) >= 1) return Number(word);
  return null;
}

/** The first word after a leading /command (with or without @bot) in a text or caption. */
export function commandArgument(text: string | undefined): string | undefined {
  const m = /^\/\S+\s+(\S+)/.exec(text ?? '');
  return m?.[1];
}
