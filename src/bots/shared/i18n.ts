import i18next, { type TFunction } from 'i18next';
import type { ComposeLabels } from '../../core/compose.ts';
import en from './locales/en.ts';
import es from './locales/es.ts';
import pt from './locales/pt.ts';
import ru from './locales/ru.ts';

// Every text a chat user reads comes from these catalogues, through i18next (plurals by Intl.PluralRules,
// English as the fallback for an unknown language or a missing key). The bots pick the language per
// update: Telegram's from.language_code, Discord's interaction locale. The reply picture's words come
// from the same catalogue and travel to the engine as plain labels.

export const LANGUAGES = ['en', 'es', 'ru', 'pt'] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'en';

/** A catalogue: nested string tables; its keys are checked against English's by tests/i18n.test.ts. */
export interface Catalogue {
  [key: string]: string | Catalogue;
}

export const catalogues: Record<Language, Catalogue> = { en, es, ru, pt };

const i18n = i18next.createInstance();
void i18n.init({
  resources: Object.fromEntries(LANGUAGES.map((lng) => [lng, { translation: catalogues[lng] }])),
  lng: DEFAULT_LANGUAGE,
  fallbackLng: DEFAULT_LANGUAGE,
  supportedLngs: [...LANGUAGES],
  // Resources are in memory: initialise synchronously, so that t() works from the first update.
  initAsync: false,
  // Texts are plain; each platform escapes for its own markup.
  interpolation: { escapeValue: false },
  returnNull: false,
});

export type Translate = TFunction;

/**
 * The catalogue language for a platform's language tag: 'pt-BR' and 'pt' read Portuguese, 'es-419'
 * Spanish, and anything unknown (or none) English.
 */
export function languageOf(tag: string | null | undefined): Language {
  const base = (tag ?? '').trim().toLowerCase().split(/[-_]/)[0] ?? '';
  return (LANGUAGES as readonly string[]).includes(base) ? (base as Language) : DEFAULT_LANGUAGE;
}

/** A t() for one language. */
export function translator(language: Language | string | null | undefined): Translate {
  return i18n.getFixedT(typeof language === 'string' && (LANGUAGES as readonly string[]).includes(language) ? language : languageOf(language));
}

/** The reply picture's words in a language. */
export function pictureLabels(t: Translate): ComposeLabels {
  const key = (k: keyof ComposeLabels) => t(`picture.${k}`);
  return {
    title: key('title'),
    titleMany: key('titleMany'),
    you: key('you'),
    face: key('face'),
    faces: key('faces'),
    facesOf: key('facesOf'),
    alsoResembles: key('alsoResembles'),
    match: key('match'),
    photoAge: key('photoAge'),
    footer: key('footer'),
  };
}

/** Every language's text for one key (Discord's localizations, Telegram's per-language command lists). */
export function inEveryLanguage(key: string): Record<Language, string> {
  return Object.fromEntries(LANGUAGES.map((lng) => [lng, translator(lng)(key)])) as Record<Language, string>;
}
