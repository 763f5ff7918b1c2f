// Writes the generated files (CRD, dashboards, alert rules) into the repository.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderArtifacts } from '../src/artifacts.ts';

const root = join(import.meta.dirname, '..', '..');
for (const [path, content] of renderArtifacts()) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  console.log(`wrote ${path}`);
}
