import type { Gender } from '../../core/gallery.ts';
import { translator, type Translate } from '../shared/i18n.ts';
import { PLATFORM, type TelegramBotDeps } from './deps.ts';

// Each update is answered in the language of the user's Telegram app (from.language_code), English
// when it is one the bot has no catalogue for.

export function tFor(user: { language_code?: string } | undefined): Translate {
  return translator(user?.language_code);
}

/** The gallery gender a user chose to be compared with (/settings); undefined for everyone. */
export async function genderFor(deps: TelegramBotDeps, userId: number): Promise<Gender | undefined> {
  const choice = await deps.store.compareWith(PLATFORM, String(userId));
  return choice === 'everyone' ? undefined : choice;
}
