import { Composer, type Context } from 'telegraf';
import { PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { tFor } from '../language.ts';
import { replyToMessage } from '../respond.ts';

// /hide takes the user off every leaderboard (their results stay, unseen); /show puts them back.

export function hideFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command('hide', async (ctx) => {
    await deps.store.setHidden(PLATFORM, String(ctx.from.id), true);
    await replyToMessage(ctx, tFor(ctx.from)('privacy.hidden'));
  });
  composer.command('show', async (ctx) => {
    await deps.store.setHidden(PLATFORM, String(ctx.from.id), false);
    await replyToMessage(ctx, tFor(ctx.from)('privacy.shown_groups'));
  });
  return composer;
}
