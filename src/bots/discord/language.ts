import { Locale, type LocalizationMap } from 'discord.js';
import type { Gender } from '../../core/gallery.ts';
import { isCompareWith, type CompareWith } from '../../db/platform.ts';
import { translator, type Language, type Translate } from '../shared/i18n.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';

// Answers are in the language of the user's Discord client (the interaction's locale), English for a
// locale without a catalogue; command names and descriptions carry Discord's localizations.

/** The Discord locales each catalogue language serves. */
const LOCALES: Record<Exclude<Language, 'en'>, Locale[]> = {
  es: [Locale.SpanishES, Locale.SpanishLATAM],
  pt: [Locale.PortugueseBR],
  ru: [Locale.Russian],
};

export function tFor(interaction: { locale?: string }): Translate {
  return translator(interaction.locale);
}

/** A catalogue key in every language Discord can show: for setNameLocalizations / setDescriptionLocalizations. */
export function localizations(key: string): LocalizationMap {
  const map: LocalizationMap = {};
  for (const [language, locales] of Object.entries(LOCALES) as [Language, Locale[]][]) {
    const text = translator(language)(key);
    for (const locale of locales) map[locale] = text;
  }
  return map;
}

export function englishOf(key: string): string {
  return translator('en')(key);
}

interface Localizable {
  setNameLocalizations(localizations: LocalizationMap | null): unknown;
  setDescription(description: string): unknown;
  setDescriptionLocalizations(localizations: LocalizationMap | null): unknown;
}

/**
 * A command's or an option's words from the catalogue entry `key` ({ name, description }): the name's
 * localizations, the English description and its localizations. The English name stays with setName.
 */
export function localized<B extends Localizable>(builder: B, key: string): B {
  builder.setNameLocalizations(localizations(`${key}.name`));
  builder.setDescription(englishOf(`${key}.description`));
  builder.setDescriptionLocalizations(localizations(`${key}.description`));
  return builder;
}

/**
 * Whom to compare the user with: the `gender` option when given (and then remembered, so that it is
 * their setting, as /settings is on Telegram), else their stored setting.
 */
export async function genderFor(deps: DiscordBotDeps, userId: string, option: string | null): Promise<Gender | undefined> {
  let choice: CompareWith;
  if (option && isCompareWith(option)) {
    choice = option;
    await deps.store.setCompareWith(PLATFORM, userId, choice);
  } else {
    choice = await deps.store.compareWith(PLATFORM, userId);
  }
  return choice === 'everyone' ? undefined : choice;
}
