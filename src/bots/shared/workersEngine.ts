import type { LookalikeEngine } from '../../core/engineTypes.ts';

/**
 * The engine a front end of the queue hands its bot: the requests it admits go to the workers, so it
 * is never asked to match; it says it can watch videos and morph, since the workers can.
 */
export const WORKERS_ENGINE: LookalikeEngine = {
  modelId: 'workers',
  gallerySize: 0,
  async match() {
    throw new Error('this front end matches on the workers (LOOKALIKE_REDIS_URL): nothing runs the engine here');
  },
  // eslint-disable-next-line require-yield
  async *matchVideo() {
    throw new Error('this front end matches on the workers (LOOKALIKE_REDIS_URL): nothing runs the engine here');
  },
  async morph() {
    throw new Error('this front end morphs on the workers (LOOKALIKE_REDIS_URL): nothing runs the engine here');
  },
  async close() {},
};
