// Request sizes as the server counts them against jute.maxbuffer: a multi's size is the empty multi's
// plus each op's share, which is how a restore cuts its batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multiOpBytes, requestBytes, type ZkOp } from '../../src/zk/client.js';

test("a multi's request size is the empty multi's plus each op's share, with or without a chroot", () => {
  const ops: ZkOp[] = [
    { type: 'create', path: '/a', data: Buffer.alloc(100), acl: [{ perms: 31, scheme: 'world', id: 'anyone' }] },
    {
      type: 'create',
      path: '/a/ünï',
      data: null,
      acl: [
        { perms: 1, scheme: 'digest', id: 'bob:abc=' },
        { perms: 31, scheme: 'ip', id: '10.0.0.1' },
      ],
    },
    { type: 'setData', path: '/a', data: Buffer.alloc(7) },
    { type: 'delete', path: '/a/b' },
    { type: 'check', path: '/', version: 3 },
  ];
  for (const chroot of ['', '/app/chroot']) {
    const summed = ops.reduce((n, op) => n + multiOpBytes(op, chroot), requestBytes({ type: 'multi', ops: [] }, chroot));
    assert.equal(summed, requestBytes({ type: 'multi', ops }, chroot));
    assert.ok(multiOpBytes(ops[0], chroot) > 100 + 4 + '/a'.length);
  }
  assert.equal(multiOpBytes(ops[3], '/app') - multiOpBytes(ops[3]), '/app'.length, 'the chroot is part of every path sent');
});
