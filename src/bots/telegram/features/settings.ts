import { Composer, Markup, type Context } from 'telegraf';
import { COMPARE_WITH, isCompareWith, type CompareWith } from '../../../db/platform.ts';
import type { Translate } from '../../shared/i18n.ts';
import { PLATFORM, type TelegramBotDeps } from '../deps.ts';
import { tFor } from '../language.ts';
import { replyParameters } from '../respond.ts';

// /settings: whom the user is compared with (women, men or everyone), chosen with an inline keyboard
// and remembered per user; /forget removes it. Never inferred from their face. A button sets the
// setting of whoever presses it; only the person who asked sees the message change.

const ACTION = /^compare:(everyone|female|male):(\d+)$/;

function keyboard(t: Translate, current: CompareWith, ownerId: number) {
  return Markup.inlineKeyboard(
    COMPARE_WITH.map((value) => Markup.button.callback(`${value === current ? '✓ ' : ''}${t(`settings.button_${value}`)}`, `compare:${value}:${ownerId}`)),
  );
}

export function settingsFeature(deps: TelegramBotDeps): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command('settings', async (ctx) => {
    const t = tFor(ctx.from);
    const current = await deps.store.compareWith(PLATFORM, String(ctx.from.id));
    await ctx.telegram.sendMessage(ctx.chat.id, t('settings.prompt', { current: t(`settings.${current}`) }), {
      reply_parameters: replyParameters(ctx.message.message_id),
      ...keyboard(t, current, ctx.from.id),
    });
  });

  composer.action(ACTION, async (ctx) => {
    const [, value, owner] = ctx.match;
    if (!isCompareWith(value)) return ctx.answerCbQuery();
    const t = tFor(ctx.from);
    await deps.store.setCompareWith(PLATFORM, String(ctx.from.id), value);
    const current = t(`settings.${value}`);
    await ctx.answerCbQuery(t('settings.saved', { current }));
    if (Number(owner) === ctx.from.id && ctx.callbackQuery.message) {
      await ctx
        .editMessageText(t('settings.prompt', { current }), keyboard(t, value, ctx.from.id))
        .catch((err: unknown) => deps.log.warn({ err, userId: ctx.from.id }, 'could not update the settings message'));
    }
  });
  return composer;
}
