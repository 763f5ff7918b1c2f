/**
 * The partition proxy's pure decision (src/cluster/routing.ts), without sockets: which key
 * each Flight call routes by, and local / forward / redirect / fail for every case.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DescriptorType } from '@longbow/flight';
import { forwardRequiredError, unavailableError } from '../../src/cluster/errors.ts';
import {
  decideRoute,
  isRoutedMethod,
  PROXY_HOPS_MAX,
  type RouteInput,
  routingKeyOf,
} from '../../src/cluster/routing.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('routingKeyOf', () => {
  it('DoPut: the descriptor path, or a CMD {"dataset"}', () => {
    assert.equal(
      routingKeyOf('DoPut', { flightDescriptor: { type: DescriptorType.path, path: ['a'] } }),
      'a',
    );
    assert.equal(
      routingKeyOf('DoPut', { flightDescriptor: { type: DescriptorType.cmd, cmd: json({ dataset: 'b' }) } }),
      'b',
    );
    assert.equal(routingKeyOf('DoPut', { dataHeader: new Uint8Array(4) }), undefined);
  });
  it('DoGet: the scan ticket dataset or the search dataset', () => {
    assert.equal(routingKeyOf('DoGet', { ticket: json({ dataset: 'scan_me' }) }), 'scan_me');
    assert.equal(routingKeyOf('DoGet', { ticket: json({ search: { dataset: 's', vector: [1] } }) }), 's');
    assert.equal(routingKeyOf('DoGet', { ticket: Buffer.from('not json') }), undefined);
  });
  it('GetFlightInfo / GetSchema: the descriptor', () => {
    assert.equal(routingKeyOf('GetFlightInfo', { type: DescriptorType.path, path: ['x'] }), 'x');
    assert.equal(routingKeyOf('GetSchema', { type: DescriptorType.cmd, cmd: json({ dataset: 'y' }) }), 'y');
  });
  it('DoAction: the body dataset; node-level actions have no key', () => {
    assert.equal(routingKeyOf('DoAction', { type: 'drop_dataset', body: json({ dataset: 'd' }) }), 'd');
    assert.equal(routingKeyOf('DoAction', { type: 'get_stats', body: json({}) }), undefined);
    assert.equal(
      routingKeyOf('DoAction', { type: 'cluster_status', body: json({ dataset: 'd' }) }),
      undefined,
    );
    assert.equal(routingKeyOf('DoAction', { type: 'get_stats' }), undefined);
  });
  it('only dataset methods are routed', () => {
    for (const m of ['DoPut', 'DoGet', 'GetFlightInfo', 'GetSchema', 'DoAction'])
      assert.ok(isRoutedMethod(m));
    for (const m of ['ListFlights', 'ListActions', 'Handshake', 'DoExchange', 'PollFlightInfo'])
      assert.ok(!isRoutedMethod(m));
  });
});

const owner = (state = 'alive') => ({
  id: 'n2',
  state,
  dataAddr: '10.0.0.2:3000',
  metaAddr: '10.0.0.2:3001',
});
const base: RouteInput = {
  key: 'd',
  selfId: 'n1',
  ownerId: 'n2',
  owner: owner(),
  mode: 'proxy',
  clientWantsRedirect: false,
  hops: 0,
  port: 'data',
};

describe('decideRoute', () => {
  it('serves locally what this node owns, and calls without a key', () => {
    assert.deepEqual(decideRoute({ ...base, ownerId: 'n1' }), { kind: 'local' });
    assert.deepEqual(decideRoute({ ...base, key: undefined, ownerId: undefined }), { kind: 'local' });
    // A forwarded call that reached its owner is served, whatever the hop count.
    assert.deepEqual(decideRoute({ ...base, ownerId: 'n1', hops: PROXY_HOPS_MAX }), { kind: 'local' });
  });
  it('forwards to the owner in proxy mode, at the address of the same port', () => {
    assert.deepEqual(decideRoute(base), { kind: 'forward', target: 'n2', addr: '10.0.0.2:3000' });
    assert.deepEqual(decideRoute({ ...base, port: 'meta' }), {
      kind: 'forward',
      target: 'n2',
      addr: '10.0.0.2:3001',
    });
    // A suspect still owns its keys (the ring keeps suspects).
    assert.equal(decideRoute({ ...base, owner: owner('suspect') }).kind, 'forward');
  });
  it('redirects in redirect mode, or when the client asks for it in proxy mode', () => {
    const redirect = { kind: 'redirect', target: 'n2', addr: '10.0.0.2:3000' };
    assert.deepEqual(decideRoute({ ...base, mode: 'redirect' }), redirect);
    assert.deepEqual(decideRoute({ ...base, clientWantsRedirect: true }), redirect);
  });
  it('fails fast with a code when nobody can serve', () => {
    const noOwner = decideRoute({ ...base, ownerId: undefined, owner: undefined });
    assert.equal(noOwner.kind === 'fail' && noOwner.code, 'NO_OWNER');
    for (const o of [owner('dead'), owner('left'), undefined, { ...owner(), dataAddr: undefined }]) {
      const r = decideRoute({ ...base, owner: o });
      assert.equal(r.kind === 'fail' && r.code, 'OWNER_UNREACHABLE', JSON.stringify(o));
    }
    const loop = decideRoute({ ...base, hops: PROXY_HOPS_MAX });
    assert.equal(loop.kind === 'fail' && loop.code, 'TOO_MANY_HOPS');
    assert.equal(decideRoute({ ...base, hops: PROXY_HOPS_MAX - 1 }).kind, 'forward');
  });
});

describe('routing errors', () => {
  it('FORWARD_REQUIRED is FAILED_PRECONDITION with the fixed message and both trailers', () => {
    const err = forwardRequiredError('n2', '10.0.0.2:3000');
    assert.equal(err.code, 9); // FAILED_PRECONDITION
    assert.equal(err.details, 'FORWARD_REQUIRED: target=n2 addr=10.0.0.2:3000');
    assert.deepEqual(err.metadata?.get('x-longbow-forward-target'), ['n2']);
    assert.deepEqual(err.metadata?.get('x-longbow-forward-addr'), ['10.0.0.2:3000']);
  });
  it('the others are UNAVAILABLE with their code first', () => {
    const err = unavailableError('OWNER_UNREACHABLE', 'owner n2 is dead');
    assert.equal(err.code, 14);
    assert.equal(err.details, 'OWNER_UNREACHABLE: owner n2 is dead');
  });
});
