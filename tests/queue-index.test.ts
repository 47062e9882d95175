import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { indexDir } from '../src/core/engine.ts';
import { Gallery } from '../src/core/gallery.ts';
import { cosine } from '../src/core/similarity.ts';
import { readBuildInfo } from '../src/jobs/imdbWiki/buildInfo.ts';
import { checkpointDir } from '../src/jobs/imdbWiki/buildImdbWikiIndex.ts';
import { INDEX_QUEUE, KEY_PREFIX } from '../src/queue/settings.ts';
import { lookalike, lookalikeBin } from './support/cli.ts';
import { buildPeopleIndex } from './support/engine.ts';
import { writeImdbWikiTree } from './support/imdbWikiTree.ts';
import { peopleDir } from './support/paths.ts';
import { redisSkipReason, startRedis, type RedisServer } from './support/redis.ts';
import { startService, type Service } from './support/services.ts';

// Index builds spread over `lookalike worker` processes (`index build --redis`): the same faces and
// descriptors as a build in one process, and a coordinator killed with SIGKILL carries on from its
// checkpoint and the jobs it left in Redis, nothing lost or counted twice.

const skip = redisSkipReason();
let redis: RedisServer;
let work: string;
let workers: Service[] = [];

before(async () => {
  if (skip) return;
  redis = await startRedis();
  work = mkdtempSync(path.join(tmpdir(), 'lookalike-dist-'));
  // Two workers on an empty data directory: they take index jobs only (nothing to match against).
  workers = [1, 2].map((i) => startService(`worker ${i}`, ['worker', '--concurrency', '1'], { LOOKALIKE_REDIS_URL: redis.url, LOOKALIKE_DATA_DIR: path.join(work, `worker-${i}`) }));
  const ready = await Promise.all(workers.map((w) => w.waitForLine('worker ready')));
  assert.deepEqual(ready.map((l) => l.serves), [['index'], ['index']]);
});

after(async () => {
  await Promise.all(workers.map((w) => w.stop(20_000)));
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a folder build on two worker processes, one killed (SIGKILL) mid-job, gives the faces and descriptors of the single-process build', { skip, timeout: 600_000 }, async () => {
  const single = await buildPeopleIndex();
  const queue = new Queue(INDEX_QUEUE, { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: KEY_PREFIX });
  try {
    const data = path.join(work, 'distributed-people');
    const building = lookalike(['index', 'build', peopleDir, '--redis', redis.url, '--data', data]);
    // Kill the first worker while it runs a job; a fresh one takes its place (for the next test).
    const victim = workers[0]!;
    let killed = false;
    for (let tries = 0; !killed && tries < 2000; tries++) {
      const active = await queue.getJobs(['active']);
      if (active.some((j) => j.name === 'faces' && j.processedBy?.endsWith(`-${victim.child.pid}`))) {
        victim.child.kill('SIGKILL');
        killed = true;
      } else await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.ok(killed, 'the first worker ran a job of the build');
    const replacement = startService('worker 3', ['worker', '--concurrency', '1'], { LOOKALIKE_REDIS_URL: redis.url, LOOKALIKE_DATA_DIR: path.join(work, 'worker-3') });
    workers = [replacement, workers[1]!];
    const r = await building;
    assert.equal(r.code, 0, r.stderr);
    const stalled = workers.flatMap((w) => w.lines.filter((l) => l.msg === 'index job stalled (its worker stopped); handed to another'));
    assert.ok(stalled.length >= 1, 'a surviving worker took over the killed worker\'s job');
    assert.match(r.stderr, new RegExp(`Indexed ${single.summary.faces} faces of ${single.summary.identities} people from ${single.summary.images} images`));
    const [openedA, openedB] = await Promise.all([Gallery.open(indexDir(single.dataDir)), Gallery.open(indexDir(data))]);
    assert.ok(openedA.ok && openedB.ok);
    const a: Gallery = openedA.value;
    const b: Gallery = openedB.value;
    assert.equal(b.size, a.size);
    let worst = 1;
    for (let id = 0; id < a.size; id++) {
      const fa = a.face(id);
      const fb = b.face(id);
      assert.deepEqual([fb.name, fb.image, fb.source], [fa.name, fa.image, fa.source], `face ${id}`);
      worst = Math.min(worst, cosine(a.descriptor(id), b.descriptor(id)));
      assert.ok(b.thumbnail(id)!.length > 500, 'thumbnails came back too');
    }
    assert.ok(worst >= 0.99999, `descriptor cosine ${worst}`);
    // The build left nothing in Redis.
    const left = await queue.getJobCounts('waiting', 'active', 'completed', 'failed');
    assert.deepEqual(left, { waiting: 0, active: 0, completed: 0, failed: 0 });
  } finally {
    await queue.close();
    rmSync(single.dataDir, { recursive: true, force: true });
  }
});

test('a distributed IMDB-WIKI build whose coordinator is killed (SIGKILL) resumes: every crop once, in row order', { skip, timeout: 600_000 }, async () => {
  const bbt: Record<string, string> = { Jim_Parsons: 'sheldon', Kaley_Cuoco: 'penny', Simon_Helberg: 'howard', Johnny_Galecki: 'leonard', Mayim_Bialik: 'amy', Melissa_Rauch: 'bernadette', Kunal_Nayyar: 'raj', Kevin_Sussman: 'stuart' };
  const entries = Object.entries(bbt).flatMap(([f, stem]) => [1, 2, 3, 4, 5].map((k) => ({ person: f, file: `faceapi_bbt__${stem}${k}.png` })));
  const tree = await writeImdbWikiTree(path.join(work, 'wiki_crop'), entries, 'wiki');
  const data = path.join(work, 'distributed-wiki');
  const args = ['index', 'build', '--wiki', tree.root, '--redis', redis.url, '--batch-size', '2', '--data', data];
  const records = path.join(checkpointDir(data), 'records.bin');

  // The coordinator dies once its checkpoint holds some rows; the workers go on with the jobs it handed out.
  const first = await new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [lookalikeBin, ...args], { env: { ...process.env, LOOKALIKE_DEVICE: 'cpu', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      if (existsSync(records) && statSync(records).size > 4000) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 20);
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearInterval(poll);
      resolve({ signal, stderr });
    });
  });
  assert.equal(first.signal, 'SIGKILL', first.stderr);
  assert.ok(!existsSync(path.join(indexDir(data), 'gallery.json')), 'no index until the build completes');
  // Meanwhile the workers finish what they were given: results wait in Redis for the coordinator.
  await new Promise((resolve) => setTimeout(resolve, 3000));

  const last = await lookalike(args);
  assert.equal(last.code, 0, last.stderr);
  const resumed = Number(/Resuming: (\d+) of 40 crops are in the checkpoint/.exec(last.stderr)?.[1]);
  assert.ok(resumed > 0 && resumed < 40, last.stderr);
  assert.match(last.stderr, /Indexed 40 faces of 8 people from 40 crops .* on 2 worker processes/);

  const opened = await Gallery.open(indexDir(data));
  assert.ok(opened.ok);
  const g = opened.value;
  const images = Array.from({ length: g.size }, (_, id) => g.face(id).image);
  assert.equal(g.size, 40);
  assert.deepEqual(new Set(images), new Set(tree.paths), 'every crop once');
  assert.deepEqual(readBuildInfo(indexDir(data))!.faces.row, Array.from({ length: 40 }, (_, i) => i), 'faces in row order');
  assert.ok(!existsSync(checkpointDir(data)));
  const queue = new Queue(INDEX_QUEUE, { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: KEY_PREFIX });
  const left = await queue.getJobCounts('waiting', 'active', 'completed', 'failed');
  await queue.close();
  assert.deepEqual(left, { waiting: 0, active: 0, completed: 0, failed: 0 }, 'the resumed build collected and removed the jobs of the killed one');
});
