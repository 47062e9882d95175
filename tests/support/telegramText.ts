// Text handling of the Bot API emulator: the entities Telegram's clients attach to what a user types,
// and the HTML subset the Bot API accepts in parse_mode=HTML, with the errors the real server gives.

export interface MessageEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
}

// A command is "/" + up to 32 letters, digits or underscores, optionally addressed to a bot, at the
// start or after whitespace. A mention is "@" + 5..32 such characters.
const COMMAND = /(^|\s)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?)(?![A-Za-z0-9_@])/g;
const MENTION = /(^|[^A-Za-z0-9_/])(@[A-Za-z0-9_]{5,32})(?![A-Za-z0-9_])/g;

/** The entities a Telegram client would attach to this text (offsets in UTF-16 code units, as JS counts). */
export function parseEntities(text: string): MessageEntity[] {
  const entities: MessageEntity[] = [];
  for (const m of text.matchAll(COMMAND)) {
    entities.push({ type: 'bot_command', offset: m.index + m[1]!.length, length: m[2]!.length });
  }
  for (const m of text.matchAll(MENTION)) {
    const offset = m.index + m[1]!.length;
    const insideCommand = entities.some((e) => offset >= e.offset && offset < e.offset + e.length);
    if (!insideCommand) entities.push({ type: 'mention', offset, length: m[2]!.length });
  }
  return entities.sort((a, b) => a.offset - b.offset);
}

export class EntityParseError extends Error {}

const HTML_TAGS: Record<string, string> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  code: 'code',
  pre: 'pre',
  a: 'text_link',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};
const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

/**
 * Parses parse_mode=HTML the way the Bot API does: only its tags, properly nested; "<" must be escaped.
 * Returns the text as the user sees it, with its formatting entities.
 */
export function parseHtml(html: string): { text: string; entities: MessageEntity[] } {
  let text = '';
  const entities: MessageEntity[] = [];
  const open: { tag: string; start: number; url?: string }[] = [];
  let i = 0;
  while (i < html.length) {
    const ch = html[i]!;
    if (ch === '<') {
      const end = html.indexOf('>', i);
      if (end < 0) throw new EntityParseError(`Can't find end of the entity starting at byte offset ${i}`);
      const inner = html.slice(i + 1, end).trim();
      if (inner.startsWith('/')) {
        const name = inner.slice(1).trim().toLowerCase();
        const top = open.pop();
        if (!top || top.tag !== name) {
          throw new EntityParseError(`Unmatched end tag at byte offset ${i}, expected "</${top?.tag ?? ''}>", found "</${name}>"`);
        }
        const type = HTML_TAGS[name]!;
        if (text.length > top.start) {
          entities.push({ type, offset: top.start, length: text.length - top.start, ...(top.url ? { url: top.url } : {}) });
        }
      } else {
        const name = inner.split(/\s/, 1)[0]!.toLowerCase();
        if (!(name in HTML_TAGS)) throw new EntityParseError(`Unsupported start tag "${name}" at byte offset ${i}`);
        const href = /href\s*=\s*"([^"]*)"/.exec(inner)?.[1];
        open.push({ tag: name, start: text.length, ...(href !== undefined ? { url: href } : {}) });
      }
      i = end + 1;
    } else if (ch === '&') {
      const m = /^&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/.exec(html.slice(i));
      const name = m?.[1];
      if (name !== undefined && name.startsWith('#')) {
        text += String.fromCodePoint(name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
        i += m![0].length;
      } else if (name !== undefined && name in NAMED_ENTITIES) {
        text += NAMED_ENTITIES[name];
        i += m![0].length;
      } else {
        // An unknown or bare "&" is kept as it is, as the Bot API does.
        text += ch;
        i += 1;
      }
    } else if (ch === '>') {
      text += ch;
      i += 1;
    } else {
      text += ch;
      i += 1;
    }
  }
  if (open.length > 0) throw new EntityParseError(`Can't find end tag corresponding to start tag "${open.at(-1)!.tag}"`);
  return { text, entities: entities.sort((a, b) => a.offset - b.offset) };
}
