import { Composer, type Context } from 'telegraf';
import { replyText } from '../../shared/replies.ts';
import { replyToMessage } from '../respond.ts';

// Last in line: in a private chat nothing goes unanswered. In groups the bot stays quiet unless asked.

export function privateHintsFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  composer.on('message', async (ctx) => {
    if (ctx.chat.type !== 'private') return;
    const text = 'text' in ctx.message ? ctx.message.text : undefined;
    if (text?.startsWith('/')) {
      await replyToMessage(ctx, "I don't know that command. /help lists what I can do.");
      return;
    }
    await replyToMessage(ctx, `${replyText('no_photo')} /help explains the rest.`);
  });
  return composer;
}
