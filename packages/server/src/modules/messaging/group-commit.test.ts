import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from './group-commit.js';

describe('GroupCommit', () => {
  it('writes requests that arrive together in one batch, in order, and answers each its own result', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, string>((xs) => {
      batches.push(xs);
      return Promise.resolve(xs.map((x) => `r${x}`));
    });
    const out = await Promise.all([1, 2, 3, 4].map((x) => gc.submit(x)));
    assert.deepEqual(out, ['r1', 'r2', 'r3', 'r4']);
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
  });

  it('collects what arrives while a batch is being written into the next batch', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number, number>(async (xs) => {
      batches.push(xs);
      if (batches.length === 1) await gate;
      return xs;
    });
    const first = gc.submit(1);
    await new Promise((r) => setImmediate(r)); // the first batch is now being written
    const later = [gc.submit(2), gc.submit(3)];
    release();
    assert.deepEqual(await Promise.all([first, ...later]), [1, 2, 3]);
    assert.deepEqual(batches, [[1], [2, 3]]);
  });

  it('rejects only the request whose result is an Error', async () => {
    const gc = new GroupCommit<number, number>((xs) =>
      Promise.resolve(xs.map((x) => (x === 2 ? new Error('refused 2') : x))),
    );
    const [a, b, c] = await Promise.allSettled([gc.submit(1), gc.submit(2), gc.submit(3)]);
    assert.deepEqual(a, { status: 'fulfilled', value: 1 });
    assert.equal(b?.status, 'rejected');
    assert.match(String(b?.status === 'rejected' ? b.reason : ''), /refused 2/);
    assert.deepEqual(c, { status: 'fulfilled', value: 3 });
  });

  it('retries every request alone when a batch fails, so one bad request fails only itself', async () => {
    const calls: number[][] = [];
    const gc = new GroupCommit<number, number>((xs) => {
      calls.push(xs);
      return xs.includes(2) ? Promise.reject(new Error('constraint on 2')) : Promise.resolve(xs);
    });
    const settled = await Promise.allSettled([gc.submit(1), gc.submit(2), gc.submit(3)]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(calls, [[1, 2, 3], [1], [2], [3]]);
  });

  it('fails the whole batch at once, without retries, when the database is unreachable', async () => {
    let calls = 0;
    const gc = new GroupCommit<number, number>(() => {
      calls++;
      return Promise.reject(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      );
    });
    const settled = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['rejected', 'rejected'],
    );
    assert.equal(calls, 1);
  });

  it('waits delayMs before writing, so that more requests share the batch', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(
      (xs) => {
        batches.push(xs);
        return Promise.resolve(xs);
      },
      { delayMs: 20 },
    );
    const a = gc.submit(1);
    await new Promise((r) => setTimeout(r, 5));
    const b = gc.submit(2);
    assert.deepEqual(await Promise.all([a, b]), [1, 2]);
    assert.deepEqual(batches, [[1, 2]]);
  });
});
