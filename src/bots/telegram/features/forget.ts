import { Composer, type Context } from 'telegraf';
import { PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { tFor } from '../language.ts';
import { replyToMessage } from '../respond.ts';

// /forget deletes every stored result of the user, in every chat, with their name, hidden flag and settings.

export function forgetFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command('forget', async (ctx) => {
    const { deletedResults } = await deps.store.forgetUser(PLATFORM, String(ctx.from.id));
    const t = tFor(ctx.from);
    await replyToMessage(ctx, deletedResults === 0 ? t('privacy.forgot_nothing') : t('privacy.forgot', { count: deletedResults }));
  });
  return composer;
}
