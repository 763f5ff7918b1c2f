import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderArtifacts } from '../src/artifacts.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('generated files', () => {
  for (const [path, content] of renderArtifacts()) {
    it(`${path} is up to date (npm run generate -w operator)`, () => {
      assert.equal(readFileSync(join(ROOT, path), 'utf8'), content);
    });
  }
});
