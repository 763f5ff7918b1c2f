/**
 * The crash-and-power-loss loop (test/stress/power-loss.ts), CI-sized: 60 power cuts in the
 * middle of concurrent puts, upserts, deletes, drops and snapshots, each recovery checked
 * against the history of acknowledged operations. `make test-power-loss` runs 1,000.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runPowerLossLoop } from '../stress/power-loss.ts';

describe('power loss', () => {
  it('loses, resurrects and duplicates nothing acknowledged over 60 cuts', async () => {
    const report = await runPowerLossLoop(60, 7);
    assert.deepEqual(
      report.anomalies,
      {
        lost: 0,
        resurrected: 0,
        staleVersion: 0,
        duplicated: 0,
        droppedBack: 0,
        noPrefix: 0,
        startFailed: 0,
      },
      report.firstFailure,
    );
    assert.equal(report.cycles, 60);
    assert.ok(report.cutsInFlight > 10, `only ${report.cutsInFlight} cuts caught operations in flight`);
    assert.ok(report.opsAcked > 200, `only ${report.opsAcked} operations acknowledged`);
  });
});
