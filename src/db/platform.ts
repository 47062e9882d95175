// The chat platforms whose results are stored. Kept in one place so both schemas and the store agree.
export const PLATFORMS = ['telegram', 'discord'] as const;
export type Platform = (typeof PLATFORMS)[number];

export function isPlatform(value: unknown): value is Platform {
  return typeof value === 'string' && (PLATFORMS as readonly string[]).includes(value);
}

/** Whom a user is compared with (their /settings choice); never inferred from a face. */
export const COMPARE_WITH = ['everyone', 'female', 'male'] as const;
export type CompareWith = (typeof COMPARE_WITH)[number];

export function isCompareWith(value: unknown): value is CompareWith {
  return typeof value === 'string' && (COMPARE_WITH as readonly string[]).includes(value);
}
