import { Composer, type Context } from 'telegraf';
import { PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { replyToMessage } from '../respond.ts';

// /forget deletes every stored result of the user, in every chat, with their name and hidden flag.

export function forgetFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command('forget', async (ctx) => {
    const { deletedResults } = await deps.store.forgetUser(PLATFORM, String(ctx.from.id));
    const what = deletedResults === 0 ? 'I had no results stored about you' : `I deleted your ${deletedResults === 1 ? 'result' : `${deletedResults} results`}`;
    await replyToMessage(ctx, `Done: ${what}, and nothing else about you is kept. Photos are never stored.`);
  });
  return composer;
}
