export function minimumOf(range: string): [number, number, number];
export function nodeVersionProblem(version: string, range: string): string | null;
