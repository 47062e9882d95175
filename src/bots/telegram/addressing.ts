// In groups the bot answers only when spoken to: /lookalike (or /lookalike@thisbot) at the start of a
// caption, or a mention of the bot. telegraf's command() reads only text messages, so captions are
// checked here from the entities Telegram sends.

interface Entity {
  type: string;
  offset: number;
  length: number;
  user?: { id: number };
}

export interface AddressedFields {
  text?: string;
  entities?: Entity[];
  caption?: string;
  caption_entities?: Entity[];
}

export interface BotIdentity {
  id: number;
  username: string;
}

function textAndEntities(message: AddressedFields): { text: string; entities: Entity[] } {
  if (message.caption !== undefined) return { text: message.caption, entities: message.caption_entities ?? [] };
  return { text: message.text ?? '', entities: message.entities ?? [] };
}

/** The command at the start of the text or caption, if it is meant for this bot (lower case, no slash). */
export function leadingCommand(message: AddressedFields, bot: BotIdentity): string | undefined {
  const { text, entities } = textAndEntities(message);
  const first = entities[0];
  if (!first || first.type !== 'bot_command' || first.offset !== 0) return undefined;
  const [command, to] = text.slice(1, first.length).split('@');
  if (to && to.toLowerCase() !== bot.username.toLowerCase()) return undefined;
  return command?.toLowerCase();
}

export function mentionsBot(message: AddressedFields, bot: BotIdentity): boolean {
  const { text, entities } = textAndEntities(message);
  return entities.some(
    (e) =>
      (e.type === 'mention' && text.slice(e.offset + 1, e.offset + e.length).toLowerCase() === bot.username.toLowerCase()) ||
      (e.type === 'text_mention' && e.user?.id === bot.id),
  );
}

/** A group message with a picture is for this bot when its caption starts with /lookalike or mentions it. */
export function asksForLookalike(message: AddressedFields, bot: BotIdentity): boolean {
  return leadingCommand(message, bot) === 'lookalike' || mentionsBot(message, bot);
}
