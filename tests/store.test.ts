import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import pg from 'pg';
import { ConfigError } from '../src/core/errors.ts';
import { migrationsDir } from '../src/db/migrations.ts';
import { databaseDialect, openStore, SQLITE_FILE_NAME, type ResultRecord, type Store } from '../src/db/store.ts';
import { postgresBinaries, startPostgres, type PostgresServer } from './support/postgres.ts';

// Every Store method against a fresh SQLite file and a fresh database on a throwaway PostgreSQL server.

const TG_CHAT = '-1001987654321012'; // Telegram supergroup ids exceed 32 bits
const TG_OTHER_CHAT = '-1001000000000001';
const GUILD = '1187654321098765432'; // Discord snowflake, beyond Number.MAX_SAFE_INTEGER

const t0 = Date.UTC(2025, 0, 1);
const at = (minutes: number) => new Date(t0 + minutes * 60_000);

function tg(userId: string, displayName: string, celebrity: string, similarity: number, minutes: number, chatId = TG_CHAT): ResultRecord {
  return { platform: 'telegram', chatId, userId, displayName, celebrity, similarity, createdAt: at(minutes) };
}

async function recordAll(store: Store, records: ResultRecord[]): Promise<void> {
  for (const r of records) await store.recordResult(r);
}

const migrationCount = (dialect: 'sqlite' | 'pg'): number =>
  (JSON.parse(readFileSync(path.join(migrationsDir(dialect), 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;

/** The same behaviour, whichever database is underneath. */
function storeBehaviour(open: () => Promise<Store>): void {
  async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  }

  test('three users in one chat are ranked by their best result', () =>
    withStore(async (store) => {
      await recordAll(store, [
        tg('111', 'Ann', 'Keanu Reeves', 71.5, 1),
        tg('222', 'Bob', 'Emma Stone', 88.25, 2),
        tg('333', 'Cid', 'Tom Hanks', 64, 3),
        tg('111', 'Ann', 'Natalie Portman', 92.75, 4),
      ]);
      const board = await store.leaderboard('telegram', TG_CHAT);
      assert.deepEqual(board, [
        { rank: 1, userId: '111', displayName: 'Ann', celebrity: 'Natalie Portman', similarity: 92.75 },
        { rank: 2, userId: '222', displayName: 'Bob', celebrity: 'Emma Stone', similarity: 88.25 },
        { rank: 3, userId: '333', displayName: 'Cid', celebrity: 'Tom Hanks', similarity: 64 },
      ]);
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT, { limit: 2 })).map((e) => e.userId), ['111', '222']);
    }));

  test('a user appears once, with their best result; ties go to the earliest', () =>
    withStore(async (store) => {
      await recordAll(store, [
        tg('111', 'Ann', 'Keanu Reeves', 80, 1),
        tg('111', 'Ann', 'Emma Stone', 90.123456789, 2),
        tg('111', 'Ann', 'Tom Hanks', 90.123456789, 3), // same score, later: not her best
        tg('111', 'Ann', 'Zendaya', 50, 4),
        tg('222', 'Bob', 'Brad Pitt', 90.123456789, 5), // ties with Ann, but later
      ]);
      const board = await store.leaderboard('telegram', TG_CHAT);
      assert.equal(board.length, 2);
      assert.deepEqual(board[0], { rank: 1, userId: '111', displayName: 'Ann', celebrity: 'Emma Stone', similarity: 90.123456789 });
      assert.deepEqual(board[1], { rank: 2, userId: '222', displayName: 'Bob', celebrity: 'Brad Pitt', similarity: 90.123456789 });
    }));

  test('a hidden user is left out and shown again when unhidden', () =>
    withStore(async (store) => {
      await recordAll(store, [tg('111', 'Ann', 'Keanu Reeves', 95, 1), tg('222', 'Bob', 'Emma Stone', 60, 2)]);
      assert.equal(await store.isHidden('telegram', '111'), false);
      await store.setHidden('telegram', '111', true);
      assert.equal(await store.isHidden('telegram', '111'), true);
      assert.equal(await store.isHidden('discord', '111'), false, 'hiding is per platform');
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT)).map((e) => [e.rank, e.userId]), [[1, '222']]);
      assert.deepEqual(await store.topCelebrities('telegram', TG_CHAT), [{ celebrity: 'Emma Stone', count: 1 }]);

      // Results recorded while hidden stay hidden, and do not unhide the user.
      await store.recordResult(tg('111', 'Ann', 'Zendaya', 97, 3));
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT)).map((e) => e.userId), ['222']);

      await store.setHidden('telegram', '111', false);
      assert.equal(await store.isHidden('telegram', '111'), false);
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT)).map((e) => [e.rank, e.userId, e.celebrity]), [
        [1, '111', 'Zendaya'],
        [2, '222', 'Emma Stone'],
      ]);
    }));

  test('hiding before the first result works, and the first result fills in the name', () =>
    withStore(async (store) => {
      await store.setHidden('discord', '42', true);
      await store.recordResult({ platform: 'discord', chatId: GUILD, userId: '42', displayName: 'Dee', celebrity: 'Rihanna', similarity: 70 });
      assert.deepEqual(await store.leaderboard('discord', GUILD), []);
      await store.setHidden('discord', '42', false);
      assert.deepEqual(await store.leaderboard('discord', GUILD), [
        { rank: 1, userId: '42', displayName: 'Dee', celebrity: 'Rihanna', similarity: 70 },
      ]);
    }));

  test('forgetting a user deletes them from every chat and leaves everyone else alone', () =>
    withStore(async (store) => {
      await recordAll(store, [
        tg('111', 'Ann', 'Keanu Reeves', 95, 1),
        tg('111', 'Ann', 'Emma Stone', 85, 2),
        tg('111', 'Ann', 'Tom Hanks', 75, 3, TG_OTHER_CHAT),
        tg('222', 'Bob', 'Emma Stone', 60, 4),
        tg('333', 'Cid', 'Zendaya', 55, 5, TG_OTHER_CHAT),
      ]);
      // Same user id on the other platform is a different person.
      await store.recordResult({ platform: 'discord', chatId: GUILD, userId: '111', displayName: 'Other', celebrity: 'Rihanna', similarity: 66 });
      await store.setHidden('telegram', '111', true);

      assert.deepEqual(await store.forgetUser('telegram', '111'), { deletedResults: 3 });
      assert.equal(await store.isHidden('telegram', '111'), false, 'the hidden flag is forgotten too');
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT)).map((e) => e.userId), ['222']);
      assert.deepEqual((await store.leaderboard('telegram', TG_OTHER_CHAT)).map((e) => e.userId), ['333']);
      assert.deepEqual(await store.topCelebrities('telegram', TG_CHAT), [{ celebrity: 'Emma Stone', count: 1 }]);
      assert.deepEqual((await store.leaderboard('discord', GUILD)).map((e) => [e.userId, e.displayName]), [['111', 'Other']]);

      // After being forgotten the user starts from nothing, under their new name.
      await store.recordResult(tg('111', 'Ann B.', 'Tom Hanks', 50, 6));
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT)).map((e) => [e.userId, e.displayName, e.similarity]), [
        ['222', 'Bob', 60],
        ['111', 'Ann B.', 50],
      ]);
      assert.deepEqual(await store.forgetUser('telegram', 'nobody'), { deletedResults: 0 });
    }));

  test('whom a user is compared with: everyone until set, per platform, checked, kept by results, removed by forgetUser', () =>
    withStore(async (store) => {
      assert.equal(await store.compareWith('telegram', '111'), 'everyone');
      await store.setCompareWith('telegram', '111', 'female');
      await store.setCompareWith('discord', '111', 'male');
      assert.equal(await store.compareWith('telegram', '111'), 'female');
      assert.equal(await store.compareWith('discord', '111'), 'male', 'the other platform is another person');
      await store.recordResult(tg('111', 'Ann', 'Emma Stone', 80, 1));
      await store.setHidden('telegram', '111', true);
      assert.equal(await store.compareWith('telegram', '111'), 'female', 'results and /hide keep the setting');
      await assert.rejects(store.setCompareWith('telegram', '111', 'robots' as never), /compareWith must be everyone, female or male/);
      assert.equal(await store.compareWith('telegram', '111'), 'female', 'a refused value changes nothing');
      await store.forgetUser('telegram', '111');
      assert.equal(await store.compareWith('telegram', '111'), 'everyone');
      assert.equal(await store.compareWith('discord', '111'), 'male');
    }));

  test('another chat, and the same chat id on the other platform, are unaffected', () =>
    withStore(async (store) => {
      await recordAll(store, [
        tg('111', 'Ann', 'Keanu Reeves', 95, 1),
        tg('222', 'Bob', 'Emma Stone', 90, 2, TG_OTHER_CHAT),
      ]);
      await store.recordResult({ platform: 'discord', chatId: TG_CHAT, userId: '333', displayName: 'Cid', celebrity: 'Rihanna', similarity: 99 });
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT)).map((e) => e.userId), ['111']);
      assert.deepEqual((await store.leaderboard('telegram', TG_OTHER_CHAT)).map((e) => e.userId), ['222']);
      assert.deepEqual((await store.leaderboard('discord', TG_CHAT)).map((e) => e.userId), ['333']);
      assert.deepEqual(await store.leaderboard('discord', GUILD), []);
    }));

  test('top celebrities are counted per chat, most matched first', () =>
    withStore(async (store) => {
      await recordAll(store, [
        tg('111', 'Ann', 'Emma Stone', 81, 1),
        tg('111', 'Ann', 'Emma Stone', 82, 2),
        tg('222', 'Bob', 'Emma Stone', 70, 3),
        tg('222', 'Bob', 'Tom Hanks', 71, 4),
        tg('333', 'Cid', 'Tom Hanks', 60, 5),
        tg('333', 'Cid', 'Zendaya', 61, 6),
        tg('444', 'Dan', 'Brad Pitt', 40, 7, TG_OTHER_CHAT),
        tg('444', 'Dan', 'Brad Pitt', 41, 8, TG_OTHER_CHAT),
        tg('444', 'Dan', 'Brad Pitt', 42, 9, TG_OTHER_CHAT),
      ]);
      assert.deepEqual(await store.topCelebrities('telegram', TG_CHAT), [
        { celebrity: 'Emma Stone', count: 3 },
        { celebrity: 'Tom Hanks', count: 2 },
        { celebrity: 'Zendaya', count: 1 },
      ]);
      assert.deepEqual(await store.topCelebrities('telegram', TG_CHAT, { limit: 1 }), [{ celebrity: 'Emma Stone', count: 3 }]);
      await store.setHidden('telegram', '111', true);
      assert.deepEqual(await store.topCelebrities('telegram', TG_CHAT), [
        { celebrity: 'Tom Hanks', count: 2 },
        { celebrity: 'Emma Stone', count: 1 },
        { celebrity: 'Zendaya', count: 1 },
      ]);
    }));

  test('the display name is the latest one the user had', () =>
    withStore(async (store) => {
      await recordAll(store, [
        tg('111', 'Ann', 'Emma Stone', 90, 10),
        tg('111', 'Annie', 'Tom Hanks', 50, 20, TG_OTHER_CHAT),
        tg('111', 'Ann (old)', 'Zendaya', 40, 5), // arrives late but is older: does not win
      ]);
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT))[0], {
        rank: 1, userId: '111', displayName: 'Annie', celebrity: 'Emma Stone', similarity: 90,
      });
    }));

  test('invalid records and limits are refused', () =>
    withStore(async (store) => {
      await assert.rejects(store.recordResult(tg('111', 'Ann', 'Emma Stone', 100.5, 1)), RangeError);
      await assert.rejects(store.recordResult(tg('111', 'Ann', 'Emma Stone', Number.NaN, 1)), RangeError);
      await assert.rejects(store.recordResult({ ...tg('111', 'Ann', 'Emma Stone', 50, 1), platform: 'slack' as never }), TypeError);
      await assert.rejects(store.leaderboard('telegram', TG_CHAT, { limit: 0 }), RangeError);
      assert.deepEqual(await store.leaderboard('telegram', TG_CHAT), []);
    }));
}

describe('SQLite store', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lookalike-store-'));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  storeBehaviour(() => openStore({ dataDir: tempDir() }));

  test('creates the data dir and a WAL-mode lookalike.sqlite in it', async () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const store = await openStore({ dataDir, databaseUrl: '  ' });
    await store.recordResult(tg('111', 'Ann', 'Emma Stone', 90, 1));
    const file = path.join(dataDir, SQLITE_FILE_NAME);
    assert.ok(existsSync(file));
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      // Privacy: only these columns exist; nothing that could hold a photo or a face descriptor.
      const columns = (table: string) => (raw.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name).sort();
      assert.deepEqual(columns('match_results'), ['celebrity', 'chat_id', 'created_at', 'id', 'platform', 'similarity', 'user_id']);
      assert.deepEqual(columns('users'), ['compare_with', 'display_name', 'display_name_at', 'hidden', 'platform', 'user_id']);
    } finally {
      raw.close();
      await store.close();
    }
  });

  test('a database made before the compare_with migration is upgraded with its rows kept', async () => {
    // Migrations folder as it was before 0001: the init migration only.
    const before = path.join(tempDir(), 'migrations-0000');
    cpSync(migrationsDir('sqlite'), before, { recursive: true });
    const journal = JSON.parse(readFileSync(path.join(before, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    journal.entries = journal.entries.filter((e) => e.tag.startsWith('0000'));
    writeFileSync(path.join(before, 'meta', '_journal.json'), JSON.stringify(journal));
    const dataDir = tempDir();
    const file = path.join(dataDir, SQLITE_FILE_NAME);
    const old = new Database(file);
    migrate(drizzle(old), { migrationsFolder: before });
    old.prepare("insert into users (platform, user_id, display_name, hidden) values ('telegram', '111', 'Ann', 0)").run();
    old.prepare("insert into match_results (platform, chat_id, user_id, celebrity, similarity, created_at) values ('telegram', ?, '111', 'Emma Stone', 80, ?)").run(TG_CHAT, t0);
    old.close();
    const store = await openStore({ dataDir });
    try {
      assert.deepEqual((await store.leaderboard('telegram', TG_CHAT)).map((e) => [e.displayName, e.celebrity]), [['Ann', 'Emma Stone']]);
      assert.equal(await store.compareWith('telegram', '111'), 'everyone');
    } finally {
      await store.close();
    }
  });

  test('survives a restart, and reopening applies no migration twice', async () => {
    const dataDir = tempDir();
    const first = await openStore({ dataDir });
    await recordAll(first, [
      tg('111', 'Ann', 'Keanu Reeves', 71.5, 1),
      tg('222', 'Bob', 'Emma Stone', 88.25, 2),
      tg('333', 'Cid', 'Tom Hanks', 64, 3),
    ]);
    await first.setHidden('telegram', '333', true);
    const expected = await first.leaderboard('telegram', TG_CHAT);
    await first.close();
    await first.close(); // closing twice is harmless

    for (let reopen = 0; reopen < 2; reopen++) {
      const again = await openStore({ dataDir });
      try {
        assert.deepEqual(await again.leaderboard('telegram', TG_CHAT), expected);
        assert.deepEqual(expected.map((e) => e.userId), ['222', '111']);
        assert.equal(await again.isHidden('telegram', '333'), true);
      } finally {
        await again.close();
      }
    }
    const raw = new Database(path.join(dataDir, SQLITE_FILE_NAME), { readonly: true });
    try {
      const applied = raw.prepare('select count(*) as n from __drizzle_migrations').get() as { n: number };
      assert.equal(applied.n, migrationCount('sqlite'));
      assert.ok(applied.n >= 1);
    } finally {
      raw.close();
    }
  });
});

const pgBinaries = postgresBinaries();
describe('PostgreSQL store', { skip: 'skip' in pgBinaries ? pgBinaries.skip : false }, () => {
  let server: PostgresServer | undefined;
  before(async () => {
    if ('binDir' in pgBinaries) server = await startPostgres(pgBinaries.binDir);
  });
  after(() => server?.stop());

  const freshStore = async () => openStore({ dataDir: '/nonexistent-unused', databaseUrl: await server!.freshDatabase() });
  storeBehaviour(freshStore);

  test('reopening applies no migration twice and keeps the data', async () => {
    const databaseUrl = await server!.freshDatabase();
    const first = await openStore({ dataDir: '/nonexistent-unused', databaseUrl });
    await recordAll(first, [tg('111', 'Ann', 'Keanu Reeves', 71.5, 1), tg('222', 'Bob', 'Emma Stone', 88.25, 2)]);
    const expected = await first.leaderboard('telegram', TG_CHAT);
    await first.close();

    // Two stores opening at once (both bots starting) on an up-to-date database, then one more.
    const [a, b] = await Promise.all([openStore({ dataDir: '/unused', databaseUrl }), openStore({ dataDir: '/unused', databaseUrl })]);
    assert.deepEqual(await a.leaderboard('telegram', TG_CHAT), expected);
    assert.deepEqual(await b.leaderboard('telegram', TG_CHAT), expected);
    await Promise.all([a.close(), b.close()]);

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const applied = await client.query<{ n: string }>('select count(*) as n from drizzle.__drizzle_migrations');
      assert.equal(Number(applied.rows[0]!.n), migrationCount('pg'));
      const columns = async (table: string) =>
        (await client.query<{ column_name: string }>(
          'select column_name from information_schema.columns where table_schema = $1 and table_name = $2 order by column_name',
          ['public', table],
        )).rows.map((r) => r.column_name);
      // Same columns as the SQLite schema: the two stay parallel, and neither holds photos or descriptors.
      assert.deepEqual(await columns('match_results'), ['celebrity', 'chat_id', 'created_at', 'id', 'platform', 'similarity', 'user_id']);
      assert.deepEqual(await columns('users'), ['compare_with', 'display_name', 'display_name_at', 'hidden', 'platform', 'user_id']);
    } finally {
      await client.end();
    }
  });

  test('two stores opening a brand-new database at once both succeed', async () => {
    const databaseUrl = await server!.freshDatabase();
    const stores = await Promise.all([openStore({ dataDir: '/unused', databaseUrl }), openStore({ dataDir: '/unused', databaseUrl })]);
    await stores[0]!.recordResult(tg('111', 'Ann', 'Keanu Reeves', 71.5, 1));
    assert.deepEqual((await stores[1]!.leaderboard('telegram', TG_CHAT)).map((e) => e.userId), ['111']);
    await Promise.all(stores.map((s) => s.close()));
  });
});

describe('DATABASE_URL', () => {
  test('chooses SQLite when empty and PostgreSQL for postgres URLs', () => {
    assert.equal(databaseDialect(undefined), 'sqlite');
    assert.equal(databaseDialect(''), 'sqlite');
    assert.equal(databaseDialect('postgres://u:p@127.0.0.1:5432/db'), 'postgres');
    assert.equal(databaseDialect('postgresql://u:p@127.0.0.1/db'), 'postgres');
  });

  test('anything else is a ConfigError that names the variable and hides the value', async () => {
    for (const bad of ['mysql://bob:hunter2secret@127.0.0.1/db', 'sqlite:///tmp/hunter2secret.db', 'hunter2secret']) {
      await assert.rejects(openStore({ dataDir: os.tmpdir(), databaseUrl: bad }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        assert.match(err.message, /DATABASE_URL/);
        assert.doesNotMatch(err.message, /hunter2secret|bob/);
        return true;
      });
    }
  });
});
