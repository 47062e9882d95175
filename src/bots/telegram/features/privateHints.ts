import { Composer, type Context } from 'telegraf';
import { tFor } from '../language.ts';
import { replyToMessage } from '../respond.ts';

// Last in line: in a private chat nothing goes unanswered. In groups the bot stays quiet unless asked.

export function privateHintsFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  composer.on('message', async (ctx) => {
    if (ctx.chat.type !== 'private') return;
    const t = tFor(ctx.from);
    const text = 'text' in ctx.message ? ctx.message.text : undefined;
    if (text?.startsWith('/')) {
      await replyToMessage(ctx, t('reply.unknown_command'));
      return;
    }
    await replyToMessage(ctx, t('reply.no_photo_hint'));
  });
  return composer;
}
