import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Gender } from '../core/gallery.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { personName } from './galleryFolder.ts';

// A folder gallery's optional people.csv, beside the person folders: what the folders cannot say.
//
//   name,gender,birth_year
//   Barack_Obama,male,1961
//   "Cuoco, Kaley",female,
//
// name is the folder's name (underscores or spaces); gender is female or male (f/m, woman/man) or
// empty; birth_year a year or empty. A file that breaks these rules stops the build with the line
// that does, rather than building an index with half its metadata.

export const PEOPLE_CSV = 'people.csv';

export interface PersonInfo {
  gender?: Gender;
  birthYear?: number;
}

const GENDER_WORDS: Record<string, Gender> = { female: 'female', f: 'female', woman: 'female', male: 'male', m: 'male', man: 'male' };

/** people.csv of a gallery folder, by person name (as personName gives it); an empty map when there is none. */
export function readPeopleCsv(folder: string, now = new Date()): Result<Map<string, PersonInfo>> {
  const file = path.join(folder, PEOPLE_CSV);
  if (!existsSync(file)) return ok(new Map());
  return parsePeopleCsv(readFileSync(file, 'utf8'), file, now);
}

export function parsePeopleCsv(text: string, source = PEOPLE_CSV, now = new Date()): Result<Map<string, PersonInfo>> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const bad = (line: number, why: string) => fail<Map<string, PersonInfo>>('bad_metadata', `${source} line ${line}: ${why}`);
  const header = (splitCsvLine(lines[0] ?? '') ?? []).map((h) => h.trim().toLowerCase());
  const col = { name: header.indexOf('name'), gender: header.indexOf('gender'), birth: header.indexOf('birth_year') };
  if (col.name < 0) return bad(1, 'the header must name the columns: name,gender,birth_year');
  const people = new Map<string, PersonInfo>();
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const cells = splitCsvLine(lines[i]!);
    if (cells === null) return bad(i + 1, 'unbalanced quotes');
    const name = personName(cells[col.name]?.trim() ?? '');
    if (name === '') return bad(i + 1, 'no name');
    if (people.has(name)) return bad(i + 1, `${name} is listed twice`);
    const info: PersonInfo = {};
    const genderText = col.gender >= 0 ? (cells[col.gender] ?? '').trim().toLowerCase() : '';
    if (genderText !== '') {
      const gender = GENDER_WORDS[genderText];
      if (!gender) return bad(i + 1, `gender "${cells[col.gender]!.trim()}" is not female or male (leave it empty when unknown)`);
      info.gender = gender;
    }
    const birthText = col.birth >= 0 ? (cells[col.birth] ?? '').trim() : '';
    if (birthText !== '') {
      const year = Number(birthText);
      if (!/^\d{3,4}$/.test(birthText) || year > now.getUTCFullYear()) return bad(i + 1, `birth_year "${birthText}" is not a year`);
      info.birthYear = year;
    }
    people.set(name, info);
  }
  return ok(people);
}

/** Cells of one CSV line (RFC 4180 quotes); null for unbalanced quotes. */
function splitCsvLine(line: string): string[] | null {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  if (quoted) return null;
  cells.push(cell);
  return cells;
}
