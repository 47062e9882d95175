import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LABELS } from '../src/core/compose.ts';
import { catalogues, LANGUAGES, languageOf, pictureLabels, translator, type Catalogue } from '../src/bots/shared/i18n.ts';
import { commandDefinitions } from '../src/bots/discord/commands/index.ts';
import { telegramCommands } from '../src/bots/telegram/commands.ts';

// Every text a user reads comes from the catalogues; a catalogue that misses a key English has fails
// here, and so does one that misses a plural form its language needs.

const PLURAL = /_(zero|one|two|few|many|other)$/;

/** Leaf keys with dots; plural keys folded to their base, with the forms each has. */
function keys(c: Catalogue, prefix = ''): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'string') {
      const base = prefix + k.replace(PLURAL, '');
      const form = PLURAL.exec(k)?.[1] ?? '';
      if (!out.has(base)) out.set(base, new Set());
      out.get(base)!.add(form);
    } else {
      for (const [kk, forms] of keys(v, `${prefix}${k}.`)) out.set(kk, forms);
    }
  }
  return out;
}

/** The {{placeholders}} and {placeholders} of a text. */
const placeholders = (text: string) => new Set([...text.matchAll(/\{\{?(\w+)\}?\}/g)].map((m) => m[1]));

test('every catalogue has every key English has, with every plural form its language uses, and no stray keys', () => {
  const english = keys(catalogues.en);
  assert.ok(english.size > 100, `${english.size} keys in English`);
  for (const language of LANGUAGES) {
    const own = keys(catalogues[language]);
    const missing = [...english.keys()].filter((k) => !own.has(k));
    assert.deepEqual(missing, [], `${language} misses keys English has`);
    assert.deepEqual([...own.keys()].filter((k) => !english.has(k)), [], `${language} has keys English does not`);
    const categories = new Intl.PluralRules(language).resolvedOptions().pluralCategories;
    for (const [key, forms] of english) {
      if (forms.has('')) continue;
      for (const category of categories) {
        if (category === 'zero' || category === 'two') continue;
        assert.ok(own.get(key)!.has(category), `${language}: ${key}_${category} is missing`);
      }
    }
  }
});

test('a translation keeps the placeholders of its English text', () => {
  const flat = (c: Catalogue, prefix = ''): [string, string][] =>
    Object.entries(c).flatMap(([k, v]) => (typeof v === 'string' ? [[prefix + k, v] as [string, string]] : flat(v, `${prefix}${k}.`)));
  const english = new Map(flat(catalogues.en).map(([k, v]) => [k.replace(PLURAL, ''), placeholders(v)]));
  for (const language of LANGUAGES) {
    for (const [key, text] of flat(catalogues[language])) {
      const want = english.get(key.replace(PLURAL, ''))!;
      const got = placeholders(text);
      // A singular form may leave out its count ("your result"); every other placeholder must be there.
      for (const name of want) if (name !== 'count' || !/_one$/.test(key)) assert.ok(got.has(name), `${language} ${key} lacks {${name}}: ${text}`);
      for (const name of got) assert.ok(want.has(name), `${language} ${key} has a placeholder English lacks: {${name}}`);
    }
  }
});

test('languages: platform tags map to catalogues; unknown ones fall back to English', () => {
  assert.equal(languageOf('pt-BR'), 'pt');
  assert.equal(languageOf('es-419'), 'es');
  assert.equal(languageOf('ru'), 'ru');
  assert.equal(languageOf('de'), 'en');
  assert.equal(languageOf(undefined), 'en');
  assert.equal(translator('de')('reply.no_face'), translator('en')('reply.no_face'));
  assert.equal(translator('ru')('video.progress', { count: 21, name: 'X', percent: '5%' }), 'Смотрю... просмотрен 21 кадр. Пока вы похожи на X (5%).');
  assert.equal(translator('ru')('video.progress', { count: 5, name: 'X', percent: '5%' }), 'Смотрю... просмотрено 5 кадров. Пока вы похожи на X (5%).');
  assert.deepEqual(pictureLabels(translator('en')), DEFAULT_LABELS, 'the English picture labels are the reply picture defaults');
  assert.equal(pictureLabels(translator('es')).you, 'Tú');
});

test('Telegram command lists and Discord localizations come from the catalogues, in every language', () => {
  for (const language of LANGUAGES) {
    const list = telegramCommands(language);
    assert.deepEqual(list.map((c) => c.command), ['lookalike', 'morph', 'settings', 'leaderboard', 'hide', 'show', 'forget', 'help']);
    for (const c of list) assert.ok(c.description.length >= 3 && c.description.length <= 256 && !c.description.startsWith('commands.'), `${language} /${c.command}`);
  }
  assert.notEqual(telegramCommands('ru')[0]!.description, telegramCommands('en')[0]!.description);
  const definitions = commandDefinitions() as { name: string; type?: number; name_localizations?: Record<string, string>; description_localizations?: Record<string, string>; options?: { name: string; name_localizations?: Record<string, string> }[] }[];
  const lookalike = definitions.find((d) => d.name === 'lookalike')!;
  for (const locale of ['es-ES', 'es-419', 'pt-BR', 'ru']) {
    assert.ok(lookalike.description_localizations?.[locale], `/lookalike description in ${locale}`);
    for (const option of lookalike.options ?? []) assert.match(option.name_localizations?.[locale] ?? '', /^[-_\p{L}\p{N}]{1,32}$/u, `${option.name} in ${locale}`);
  }
  const leaderboard = definitions.find((d) => d.name === 'leaderboard')!;
  assert.equal(leaderboard.name_localizations?.ru, 'рейтинг');
  const find = definitions.find((d) => d.name === 'Find look-alike')!;
  assert.equal(find.name_localizations?.['pt-BR'], 'Encontrar sósia');
  for (const d of definitions) {
    for (const name of Object.values(d.name_localizations ?? {})) {
      if (d.type === undefined || d.type === 1) assert.equal(name, name.toLowerCase(), `slash command names are lower case: ${name}`);
    }
  }
});
