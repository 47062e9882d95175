import { Composer, type Context } from 'telegraf';
import { htmlMarkup, leaderboardText } from '../../shared/format.ts';
import { MESSAGE_LIMIT, PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { tFor } from '../language.ts';
import { replyToMessage } from '../respond.ts';

// /leaderboard ranks the group's members by their best look-alike there, then the most matched celebrities.

const ROWS = 10;
const CELEBRITIES = 5;

export function leaderboardFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command('leaderboard', async (ctx) => {
    const t = tFor(ctx.from);
    if (ctx.chat.type === 'private') {
      await replyToMessage(ctx, t('leaderboard.private_chat'));
      return;
    }
    const chatId = String(ctx.chat.id);
    const [entries, celebrities] = await Promise.all([
      deps.store.leaderboard(PLATFORM, chatId, { limit: ROWS }),
      deps.store.topCelebrities(PLATFORM, chatId, { limit: CELEBRITIES }),
    ]);
    const title = 'title' in ctx.chat ? t('leaderboard.title_of', { name: ctx.chat.title }) : undefined;
    const text = leaderboardText(entries, celebrities, { markup: htmlMarkup, t, maxLength: MESSAGE_LIMIT, empty: t('leaderboard.empty_telegram'), ...(title ? { title } : {}) });
    await replyToMessage(ctx, text, { html: true });
  });
  return composer;
}
