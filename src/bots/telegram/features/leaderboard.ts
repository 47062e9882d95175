import { Composer, type Context } from 'telegraf';
import { htmlMarkup, leaderboardText } from '../../shared/format.ts';
import { MESSAGE_LIMIT, PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { replyToMessage } from '../respond.ts';

// /leaderboard ranks the group's members by their best look-alike there, then the most matched celebrities.

const ROWS = 10;
const CELEBRITIES = 5;

export function leaderboardFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command('leaderboard', async (ctx) => {
    if (ctx.chat.type === 'private') {
      await replyToMessage(ctx, 'Leaderboards live in groups: add me to a group, and everyone there who uses /lookalike gets ranked.');
      return;
    }
    const chatId = String(ctx.chat.id);
    const [entries, celebrities] = await Promise.all([
      deps.store.leaderboard(PLATFORM, chatId, { limit: ROWS }),
      deps.store.topCelebrities(PLATFORM, chatId, { limit: CELEBRITIES }),
    ]);
    const title = 'title' in ctx.chat ? `Look-alike leaderboard of ${ctx.chat.title}` : undefined;
    await replyToMessage(ctx, leaderboardText(entries, celebrities, { markup: htmlMarkup, maxLength: MESSAGE_LIMIT, ...(title ? { title } : {}) }), { html: true });
  });
  return composer;
}
